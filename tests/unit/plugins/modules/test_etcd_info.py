# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

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
