#!/usr/bin/env python3
"""Test data for the backup_restore scenario, through the controller's etcdctl.

    kv.py seed N | mutate | dump FILE      (connection from the ETCDCTL_* environment)

seed writes N keys in transactions of 100 (Kubernetes-like /registry/... keys and others); mutate
deletes, changes and adds keys; dump writes {key: value} of the whole key space as JSON, sorted.
"""
import base64
import json
import os
import subprocess
import sys

ETCDCTL = os.environ.get("KV_ETCDCTL", "etcdctl")


def run(args, stdin=None):
    out = subprocess.run([ETCDCTL] + args, input=stdin, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit("etcdctl %s failed: %s" % (" ".join(args), out.stderr))
    return out.stdout


def txn(puts=(), dels=()):
    ops = ["put %s %s" % (k, v) for k, v in puts] + ["del %s" % k for k in dels]
    for i in range(0, len(ops), 100):
        run(["txn"], stdin="\n" + "\n".join(ops[i:i + 100]) + "\n\n\n")


def key(n):
    kinds = ["pods", "secrets", "configmaps", "services/specs", "deployments"]
    if n % 10 == 9:
        return "/app/config/item-%05d" % n
    return "/registry/%s/ns-%d/obj-%05d" % (kinds[n % len(kinds)], n % 7, n)


def value(n, tag="v1"):
    return "kind=Obj,name=obj-%05d,uid=%s-%d,data=%s" % (n, tag, n, "x" * (n % 50 + 1))


def main():
    cmd = sys.argv[1]
    if cmd == "seed":
        count = int(sys.argv[2])
        txn(puts=[(key(n), value(n)) for n in range(count)])
    elif cmd == "mutate":
        count = int(sys.argv[2])
        txn(dels=[key(n) for n in range(0, count, 6)],
            puts=[(key(n), value(n, "changed")) for n in range(1, count, 6)]
            + [("/registry/added/obj-%05d" % n, "new") for n in range(200)])
    elif cmd == "dump":
        data = json.loads(run(["get", "", "--prefix", "-w", "json"]))
        kvs = dict((base64.b64decode(kv["key"]).decode(), base64.b64decode(kv["value"]).decode())
                   for kv in data.get("kvs", []))
        with open(sys.argv[2], "w") as out:
            json.dump({"revision": data["header"]["revision"], "count": len(kvs), "kvs": kvs}, out, sort_keys=True)
    else:
        sys.exit("usage: kv.py seed N | mutate N | dump FILE")


if __name__ == "__main__":
    main()
