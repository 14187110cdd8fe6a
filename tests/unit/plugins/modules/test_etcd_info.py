# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_client as etcd_info_client
from ansible_collections.ezops.etcd.plugins.modules import etcd_info
from etcd_fakes import run_main


def test_info_main_is_never_changed(fake_etcd, module_for):
    conn = module_for().params
    for check in (False, True):
        result, failed = run_main(etcd_info.main, conn, check_mode=check)
        assert not failed and result["changed"] is False and result["healthy"] is True
        assert result["leader"] == "%x" % fake_etcd.leader
        assert [m["name"] for m in result["members"]] == ["m1", "m2", "m3"]
        assert result["cluster_id"] == "%x" % fake_etcd.CLUSTER_ID
    fake_etcd.down = {"https://10.0.0.2:2379"}
    result, failed = run_main(etcd_info.main, conn)
    assert not failed and result["failed_endpoints"] == ["https://10.0.0.2:2379"]
    assert result["healthy"] is False
    fake_etcd.down = set(conn["endpoints"])
    result, failed = run_main(etcd_info.main, conn)
    assert failed and result["error_kind"] == "unreachable"
    assert all(ep in result["msg"] for ep in conn["endpoints"])
    result, failed = run_main(etcd_info.main, dict(conn, fail_on_unreachable=False))
    assert not failed and result["healthy"] is False
    # no command ever changed anything
    assert not [c for c in fake_etcd.calls if set(c) & {"add", "remove", "compaction", "defrag",
                                                        "disarm", "promote", "update"}]


def test_info_main_environment_fallbacks(fake_etcd, module_for, monkeypatch):
    conn = module_for().params
    del conn["endpoints"]
    monkeypatch.setenv("ETCDCTL_ENDPOINTS", "https://10.0.0.1:2379,https://10.0.0.3:2379")
    result, failed = run_main(etcd_info.main, conn)
    assert not failed
    assert [e["endpoint"] for e in result["endpoints"]] == ["https://10.0.0.1:2379",
                                                            "https://10.0.0.3:2379"]


def test_info_waits_for_the_cluster_version_of_the_new_minor_release(fake_etcd, module_for, monkeypatch):
    monkeypatch.setattr(etcd_info_client.time, "sleep", lambda seconds: None)
    conn = module_for().params
    result, failed = run_main(etcd_info.main, conn)
    assert not failed and "cluster_versions" not in result and not [c for c in fake_etcd.calls if c[0] == "GET"]
    # the leader raises the cluster version a moment after the last member runs 3.5
    fake_etcd.cluster_version_steps = ["3.4.0"] * 4 + ["3.5.0"]
    result, failed = run_main(etcd_info.main, dict(conn, wait_cluster_version="3.5.16"))
    assert not failed and result["cluster_version_reached"] is True
    assert set(result["cluster_versions"].values()) == {"3.5.0"}
    assert len([c for c in fake_etcd.calls if c[0] == "GET"]) >= 6


def test_info_reports_a_cluster_version_that_does_not_rise_without_failing(fake_etcd, module_for, monkeypatch):
    monkeypatch.setattr(etcd_info_client.time, "sleep", lambda seconds: None)
    conn = module_for().params
    fake_etcd.cluster_version = "3.4.0"
    result, failed = run_main(etcd_info.main, dict(conn, wait_cluster_version="3.5.16", wait_timeout=0))
    assert not failed and result["cluster_version_reached"] is False
    assert result["cluster_versions"] == dict((ep, "3.4.0") for ep in conn["endpoints"])
    # a member that stops answering its /version holds the wait
    fake_etcd.cluster_version = "3.5.0"
    fake_etcd.down = {"https://10.0.0.3:2379"}
    result, failed = run_main(etcd_info.main, dict(conn, wait_cluster_version="3.5.16", wait_timeout=0))
    assert result["cluster_version_reached"] is True  # it is not an answering endpoint: not waited for
    assert "https://10.0.0.3:2379" not in result["cluster_versions"]


def test_info_reads_the_certificates_the_members_serve_when_asked(fake_etcd, module_for):
    conn = module_for().params
    result, failed = run_main(etcd_info.main, conn)
    assert "served_certificates" not in result and not [c for c in fake_etcd.calls if c[0] == "TLS"]
    fake_etcd.down = {"https://10.0.0.3:2379"}
    result, failed = run_main(etcd_info.main, dict(conn, served_certificates=True))
    assert not failed
    assert sorted(result["served_certificates"]) == ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
    cert = result["served_certificates"]["https://10.0.0.1:2379"]
    assert cert == {"subject": "etcd", "issuer": "kubernetes", "serial": "ab08", "not_after": 2111702400,  # Dec 1 2036 UTC
                    "sans": ["IP Address:10.0.0.1"]}
