# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""The hardening flags the etcd role renders (module_utils/etcd_flags.unit_flags), started on a real
etcd of every tested version: a flag or cipher name the version does not know would make the unit
crash-loop on the first restarted member (issue 8, defect 7)."""
from __future__ import annotations

import base64
import urllib.request

import etcd_lab
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_flags import DEFAULT_CIPHER_SUITES, has_flag, unit_flags


def test_the_rendered_hardening_flags_start_etcd(version, tmp_path, request):
    metrics_port = etcd_lab.free_ports(1)[0]
    flags = unit_flags({"cipher-suites": DEFAULT_CIPHER_SUITES, "tls-min-version": "TLS1.2",
                        "listen-metrics-urls": "http://127.0.0.1:%d" % metrics_port}, version)
    assert any(f.startswith("--cipher-suites=") for f in flags)
    cluster = etcd_lab.Cluster(version, tmp_path / "etcd", size=1, tls=True)
    request.addfinalizer(cluster.stop)
    cluster.start_member(cluster.members[0], extra=flags)
    cluster.wait_healthy(timeout=30)
    cluster.put("/ezops/flags", "ok")
    assert [kv["key"] for kv in cluster.get("/ezops/flags")] == [base64.b64encode(b"/ezops/flags").decode()]
    if has_flag("listen-metrics-urls", version):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=10) as answer:
            assert b"etcd_server_has_leader 1" in answer.read()
    else:
        assert not any(f.startswith("--listen-metrics-urls") for f in flags)
