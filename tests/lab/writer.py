#!/usr/bin/env python3
"""A client that writes through every endpoint while the cluster changes under it.

It puts /ezops-writer/<run>/<n> with etcdctl (etcd's own client, with its endpoint failover) until
the stop file appears, samples every endpoint's /health meanwhile, then reads all keys back and
writes a JSON report: acknowledged and failed writes (after TRIES tries; the retries are listed),
acknowledged writes missing or wrong at the end, and the most endpoints seen unhealthy at once.

    writer.py --endpoints https://a:2379,https://b:2379 --cacert ca.pem --cert c.pem --key k.pem \
              --etcdctl /path/etcdctl --stop-file /tmp/stop --report /tmp/report.json

It also stands in for kube-apiserver in a lab unit: it takes kube-apiserver's flags (--etcd-servers,
--etcd-cafile, --etcd-certfile, --etcd-keyfile) as aliases, stops cleanly on SIGTERM (a restart),
and a "{pid}" in --report names one report per process.

With --endpoints-file instead of (or besides) --endpoints, the endpoints are read from that file
(comma or newline separated) before every write and every health sample, so a test can follow a
membership that changes during the run; the report then lists every endpoint set it used.
"""

import argparse
import base64
import concurrent.futures
import json
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.request

MAX_SECONDS = 900  # a forgotten writer stops by itself (--max-seconds changes it)
# A put that fails is tried again, as a real client does: a member in the middle of a graceful
# restart can answer one request with a transport error ("malformed header: missing HTTP
# content-type", seen once in 1835 writes), which etcdctl does not retry itself. A put is
# idempotent; a write counts as failed only when all tries failed, and every retry is reported.
TRIES = 3
RETRY_DELAY = 0.5
# Puts start at most this often. Unpaced, one writer kept a core and a quarter busy (an etcdctl
# process and a TLS handshake per put, 24 puts/s) and slowed everything it was meant to watch;
# 5 puts/s still puts several writes into every second a member is away.
PUT_INTERVAL = 0.2


def current_endpoints(opts):
    """The endpoints to use now: from --endpoints-file when given (kept when unreadable or empty)."""
    if opts.endpoints_file:
        try:
            with open(opts.endpoints_file) as source:
                found = [e.strip() for e in source.read().replace("\n", ",").split(",") if e.strip()]
            if found:
                opts.endpoints = ",".join(found)
        except OSError:
            pass
    if opts.endpoints not in opts.endpoint_sets:
        opts.endpoint_sets.append(opts.endpoints)
    return opts.endpoints


def etcdctl(args, opts, timeout=10):
    argv = [opts.etcdctl, "--endpoints=" + current_endpoints(opts), "--cacert=" + opts.cacert,
            "--cert=" + opts.cert, "--key=" + opts.key, "--command-timeout=5s"] + args
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          env=dict(os.environ, ETCDCTL_API="3"))


def endpoint_healthy(endpoint, context):
    try:
        with urllib.request.urlopen(endpoint + "/health", context=context, timeout=2) as answer:
            return json.load(answer).get("health") == "true"
    except Exception:  # any failure to answer counts as unhealthy
        return False


def sample_health(opts, stop, samples):
    """Ask every endpoint at the same moment, so one sample is one instant of the cluster: asked in
    turn, a member still slow to answer and the next one going down would count as down together."""
    context = ssl.create_default_context(cafile=opts.cacert)
    context.load_cert_chain(opts.cert, opts.key)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        while not stop.is_set():
            endpoints = current_endpoints(opts).split(",")
            answers = list(pool.map(lambda endpoint: endpoint_healthy(endpoint, context), endpoints))
            unhealthy = [endpoint for endpoint, healthy in zip(endpoints, answers) if not healthy]
            samples.append({"time": time.time(), "unhealthy": unhealthy})
            stop.wait(0.3)


def max_unhealthy_sustained(samples):
    """The most endpoints unhealthy in two samples in a row (the same endpoints in both).

    One sample can catch the instant of a leader hand-over, when followers briefly know no leader;
    an endpoint down in two samples in a row (0.3 s or more apart) is an outage, not an instant.
    """
    return max((len(set(a["unhealthy"]) & set(b["unhealthy"])) for a, b in zip(samples, samples[1:])),
               default=0)


def main():
    parser = argparse.ArgumentParser()
    for name, apiserver_flag in (("cacert", "--etcd-cafile"), ("cert", "--etcd-certfile"), ("key", "--etcd-keyfile")):
        parser.add_argument("--" + name, apiserver_flag, required=True)
    for name in ("etcdctl", "stop-file", "report"):
        parser.add_argument("--" + name, required=True)
    parser.add_argument("--endpoints", "--etcd-servers", default="")
    parser.add_argument("--endpoints-file")
    parser.add_argument("--max-seconds", type=int, default=MAX_SECONDS)
    parser.add_argument("--put-interval", type=float, default=PUT_INTERVAL)
    opts = parser.parse_args()
    opts.report = opts.report.replace("{pid}", str(os.getpid()))
    terminated = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: terminated.set())
    opts.endpoint_sets = []
    if not opts.endpoints and not opts.endpoints_file:
        parser.error("give --endpoints or --endpoints-file")
    current_endpoints(opts)
    if not opts.endpoints:
        parser.error("no endpoints in --endpoints-file %s" % opts.endpoints_file)
    prefix = "/ezops-writer/%d/" % int(time.time())
    acked, failures, retried, samples = {}, [], [], []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_health, args=(opts, stop, samples), daemon=True)
    sampler.start()
    started, n = time.time(), 0
    while not (os.path.exists(opts.stop_file) or terminated.is_set()) and time.time() - started < opts.max_seconds:
        terminated.wait(max(0.0, started + n * opts.put_interval - time.time()))
        key, value = "%s%08d" % (prefix, n), "value-%d" % n
        for attempt in range(1, TRIES + 1):
            try:
                result = etcdctl(["put", key, value], opts)
                error = None if result.returncode == 0 and result.stdout.strip() == "OK" else \
                    {"key": key, "rc": result.returncode, "stderr": result.stderr.strip()[-300:]}
            except subprocess.TimeoutExpired:
                error = {"key": key, "rc": None, "stderr": "timeout"}
            if error is None:
                acked[key] = value
                break
            if attempt < TRIES:
                retried.append(dict(error, attempt=attempt))
                time.sleep(RETRY_DELAY)
            else:
                failures.append(error)
        n += 1
    stop.set()
    sampler.join()
    read = etcdctl(["get", "--prefix", prefix, "-w", "json"], opts, timeout=60)
    found = {}
    if read.returncode == 0:
        for kv in json.loads(read.stdout).get("kvs", []):
            found[base64.b64decode(kv["key"]).decode()] = base64.b64decode(kv["value"]).decode()
    missing = sorted(k for k, v in acked.items() if found.get(k) != v)
    report = {
        "attempted": n,
        "acked": len(acked),
        "failed": len(failures),
        "failures": failures[:20],
        "retried": len(retried),
        "retries": retried[:20],
        "read_back_ok": read.returncode == 0,
        "missing_or_wrong": missing[:20],
        "missing_count": len(missing),
        "health_samples": len(samples),
        "max_unhealthy_at_once": max((len(s["unhealthy"]) for s in samples), default=0),
        "max_unhealthy_sustained": max_unhealthy_sustained(samples),
        "worst_sample": max(samples, key=lambda s: len(s["unhealthy"]), default=None),
        "seconds": round(time.time() - started, 1),
        "endpoint_sets": opts.endpoint_sets,
    }
    with open(opts.report + ".partial", "w") as out:
        json.dump(report, out, indent=2)
    os.replace(opts.report + ".partial", opts.report)


if __name__ == "__main__":
    main()
