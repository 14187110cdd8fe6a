#!/usr/bin/env python3
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""Deploy benchmark: our 02.etcd.yml against kubeasz's own etcd role, on the same lab, in the same run.

For each round, on fresh lab containers (3 members and a spare):
  ours      first deploy, a re-run with nothing to do (restarts counted), a member added (21.addetcd.yml)
  kubeasz   its playbooks/02.etcd.yml with its roles/etcd, first deploy and a re-run (restarts counted)
  mitogen   (with --mitogen) ours again with Mitogen for Ansible's strategy and docker connection:
            optional, never required; it shows what a faster execution layer gives
Every playbook runs with this checkout's ansible.cfg (same connection, pipelining and forks); kubeasz's
own ansible.cfg also gathers facts, which its playbook does anyway. The result (median, min, max of the
rounds, the ratios and the issue's targets) goes to bench/results/deploy.json and is printed.

  bench/deploy.py --kubeasz /work/.mirror/easzlab+kubeasz/repo [--rounds 3] [--lab-id 3] [--mitogen]

--kubeasz is a kubeasz checkout or bare git dir; nothing of it is copied into this tree. kubeasz signs
with cfssl: Debian's golang-cfssl is installed when missing. The lab image and etcd binaries come from
`make image etcd-binaries`.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TARGETS = {  # issue 11: (step, reference, at most this ratio)
    "first deploy within 1.0x kubeasz's": ("ours.deploy", "kubeasz.deploy", 1.0),
    "re-run under 0.3x kubeasz's re-run": ("ours.rerun", "kubeasz.rerun", 0.3),
    "re-run under 0.35x our first deploy": ("ours.rerun", "ours.deploy", 0.35),
    "member add within 1.5x our re-run": ("ours.add", "ours.rerun", 1.5),
}


class Lab(object):
    def __init__(self, lab_id, version):
        self.id = str(lab_id)
        self.dir = os.path.join(ROOT, ".cache/lab%s" % self.id)
        self.hosts = os.path.join(self.dir, "hosts")
        self.env = dict(os.environ, LAB_ID=self.id, LAB_SIZE="4", LAB_MEMBERS="3", ETCD_VERSION=version,
                        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache/collections"))
        subnet = "172.29.%d" % (10 + int(self.id))
        self.members = ["%s.%d" % (subnet, 10 + i) for i in range(1, 4)]
        self.spare = "%s.14" % subnet
        self.container = dict(("%s.%d" % (subnet, 10 + i), "ezops-etcd%s-%d" % (self.id.lstrip("0"), i)) for i in range(1, 5))

    def fresh(self):
        for action in ("reset", "up"):
            subprocess.run([os.path.join(ROOT, "scripts/lab/lab.sh"), action], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def services(self, hosts):
        out = {}
        for ip in hosts:
            out[ip] = subprocess.run(["docker", "exec", self.container[ip], "systemctl", "show", "etcd",
                                      "--property=MainPID,ActiveEnterTimestampMonotonic"],
                                     capture_output=True, text=True, check=True).stdout
        return out

    def inventory(self, name, spare=False, connection=None):
        """The lab's inventory as .cache/lab<ID>/hosts-bench-<name>: the spare moved into [etcd] when ``spare``;
        ``connection`` replaces the lab's ansible_connection (None keeps it, "" leaves it to the command line)."""
        lines = open(self.hosts).read().splitlines()
        spare_line = [line for line in lines if line.startswith(self.spare + " ")][0]
        out = []
        for line in lines:
            if spare and line == spare_line:
                continue
            if connection is not None and line.startswith("ansible_connection="):
                if not connection:
                    continue
                line = "ansible_connection=" + connection
            out.append(line)
            if spare and line == "[etcd]":
                out.append(spare_line)
        path = os.path.join(self.dir, "hosts-bench-" + name)
        with open(path, "w") as dest:
            dest.write("\n".join(out) + "\n")
        return path


def timed(argv, env, log):
    start = time.monotonic()
    with open(log, "w") as out:
        rc = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    seconds = round(time.monotonic() - start, 1)
    if rc != 0:
        sys.exit("bench: %s failed (rc %d), see %s" % (" ".join(argv[-3:]), rc, log))
    return seconds


def playbook(path, inventory, extra=None):
    argv = ["ansible-playbook", "-i", inventory, path]
    return argv + ["-e", json.dumps(extra)] if extra else argv


def round_ours(lab, logs, name, env, connection=None):
    lab.fresh()
    hosts = lab.inventory(name, connection=connection)
    deploy = timed(playbook(os.path.join(ROOT, "playbooks/02.etcd.yml"), hosts), env, os.path.join(logs, name + "-deploy.log"))
    before = lab.services(lab.members)
    rerun = timed(playbook(os.path.join(ROOT, "playbooks/02.etcd.yml"), hosts), env, os.path.join(logs, name + "-rerun.log"))
    restarts = sum(1 for ip, state in lab.services(lab.members).items() if state != before[ip])
    with_spare = lab.inventory(name + "-add", spare=True, connection=connection)
    add = timed(playbook(os.path.join(ROOT, "playbooks/21.addetcd.yml"), with_spare, {"NODE_TO_ADD": lab.spare}),
                env, os.path.join(logs, name + "-add.log"))
    return {"deploy": deploy, "rerun": rerun, "rerun_restarts": restarts, "add": add}


def kubeasz_tree(source, dest):
    """roles/etcd and playbooks/02.etcd.yml of a kubeasz checkout or bare git dir, as plain files."""
    if os.path.isdir(os.path.join(source, "roles")):
        shutil.copytree(os.path.join(source, "roles/etcd"), os.path.join(dest, "roles/etcd"))
        os.makedirs(os.path.join(dest, "playbooks"))
        shutil.copy(os.path.join(source, "playbooks/02.etcd.yml"), os.path.join(dest, "playbooks"))
    else:
        archive = subprocess.run(["git", "--git-dir", source, "archive", "HEAD", "roles/etcd", "playbooks/02.etcd.yml"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    commit = subprocess.run(["git", "--git-dir", source if not os.path.isdir(os.path.join(source, ".git"))
                             else os.path.join(source, ".git"), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return commit.stdout.strip() or "unknown"


def kubeasz_controller(lab):
    """What kubeasz's ezdown and deploy role leave on the controller: cfssl in base_dir/bin, a CA and its signing config."""
    if not shutil.which("cfssl") or not shutil.which("cfssljson"):
        subprocess.run(["apt-get", "install", "-y", "-q", "golang-cfssl"], check=True, stdout=subprocess.DEVNULL)
    base = os.path.join(lab.dir, "kubeasz")
    ssl = os.path.join(base, "clusters/lab/ssl")
    os.makedirs(ssl, exist_ok=True)
    for tool in ("cfssl", "cfssljson"):
        shutil.copy(shutil.which(tool), os.path.join(base, "bin", tool))
    with open(os.path.join(ssl, "ca-config.json"), "w") as out:
        json.dump({"signing": {"default": {"expiry": "438000h"}, "profiles": {"kubernetes": {
            "usages": ["signing", "key encipherment", "server auth", "client auth"], "expiry": "438000h"}}}}, out)
    with open(os.path.join(ssl, "ca-csr.json"), "w") as out:
        json.dump({"CN": "kubernetes-ca", "key": {"algo": "rsa", "size": 2048}, "ca": {"expiry": "876000h"}}, out)
    gencert = subprocess.run(["cfssl", "gencert", "-initca", "ca-csr.json"], cwd=ssl, capture_output=True, check=True).stdout
    subprocess.run(["cfssljson", "-bare", "ca"], cwd=ssl, input=gencert, check=True)


def round_kubeasz(lab, logs, tree, env):
    lab.fresh()
    kubeasz_controller(lab)
    # kubeasz's controller tasks say `connection: local`, which an inventory's ansible_connection would
    # override: the lab's connection comes from the command line instead, as ssh does for kubeasz
    hosts = lab.inventory("kubeasz", connection="")
    env = dict(env, ANSIBLE_ROLES_PATH=os.path.join(tree, "roles"), ANSIBLE_TRANSPORT="community.docker.docker")
    book = os.path.join(tree, "playbooks/02.etcd.yml")
    deploy = timed(playbook(book, hosts), env, os.path.join(logs, "kubeasz-deploy.log"))
    before = lab.services(lab.members)
    rerun = timed(playbook(book, hosts), env, os.path.join(logs, "kubeasz-rerun.log"))
    restarts = sum(1 for ip, state in lab.services(lab.members).items() if state != before[ip])
    return {"deploy": deploy, "rerun": rerun, "rerun_restarts": restarts}


def mitogen_env(env):
    try:
        import ansible_mitogen  # pylint: disable=import-outside-toplevel
    except ImportError:
        sys.exit("bench: --mitogen needs Mitogen for Ansible in this Python (pip install mitogen)")
    return dict(env, ANSIBLE_STRATEGY="mitogen_linear",
                ANSIBLE_STRATEGY_PLUGINS=os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins/strategy"))


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "all": values}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeasz", required=True, help="kubeasz checkout or bare git dir")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lab-id", default="3")
    parser.add_argument("--mitogen", action="store_true")
    parser.add_argument("--etcd-version", default=os.environ.get("ETCD_VERSION", "3.5.16"))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench/results/deploy.json"))
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    lab = Lab(args.lab_id, args.etcd_version)
    logs = os.path.join(lab.dir, "bench-logs")
    os.makedirs(logs, exist_ok=True)
    tree = tempfile.mkdtemp(prefix="kubeasz-")
    kubeasz_commit = kubeasz_tree(args.kubeasz, tree)
    rounds = {"ours": [], "kubeasz": [], "mitogen": []}
    for number in range(args.rounds):
        print("bench: round %d of %d" % (number + 1, args.rounds), flush=True)
        rounds["ours"].append(round_ours(lab, logs, "ours", lab.env))
        rounds["kubeasz"].append(round_kubeasz(lab, logs, tree, lab.env))
        if args.mitogen:
            rounds["mitogen"].append(round_ours(lab, logs, "mitogen", mitogen_env(lab.env), "mitogen_docker"))
        print(json.dumps({k: v[-1] for k, v in rounds.items() if v}), flush=True)
    subprocess.run([os.path.join(ROOT, "scripts/lab/lab.sh"), "down"], env=lab.env, check=False, stdout=subprocess.DEVNULL)
    shutil.rmtree(tree, ignore_errors=True)
    steps = dict((who, dict((step, summary([r[step] for r in runs])) for step in runs[0])) for who, runs in rounds.items() if runs)
    medians = dict(("%s.%s" % (who, step), value["median"]) for who, by_step in steps.items() for step, value in by_step.items())
    targets = {}
    for text, (step, reference, ratio) in TARGETS.items():
        measured = medians[step] / medians[reference]
        targets[text] = {"ratio": round(measured, 2), "limit": ratio, "met": measured <= ratio}
    targets["re-run restarts nothing"] = {"restarts": steps["ours"]["rerun_restarts"]["max"],
                                         "met": steps["ours"]["rerun_restarts"]["max"] == 0}
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "cores": os.cpu_count(), "etcd_version": args.etcd_version, "rounds": args.rounds,
              "kubeasz_commit": kubeasz_commit, "load_at_start": load_at_start,
              "load_at_end": os.getloadavg()[0], "seconds": steps, "targets": targets}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2, sort_keys=True)
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
