# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

import time

import pytest

from etcd_lab import PRIMARY_VERSIONS


@pytest.fixture(params=PRIMARY_VERSIONS, scope="module")
def version(request):
    """This module runs on the first version of EZOPS_ETCD_VERSIONS only (see conftest)."""
    return request.param


def _compacted_below(cluster, revision):
    """Independent check: reading below ``revision`` fails once compacted there."""
    proc = cluster.etcdctl("get", "k", "--rev=%d" % (revision - 1), check=False)
    return proc.returncode != 0 and "required revision has been compacted" in proc.stderr


def test_compact_four_ways(single, run_module):
    for i in range(5):
        single.put("k", str(i))
    current = single.revision()
    assert not _compacted_below(single, current)
    results = run_module.four_ways("etcd_maintenance", dict(single.conn(), action="compact"))
    assert results[1]["revision"] == current and results[1]["current_revision"] == current
    assert _compacted_below(single, current)
    # an older revision than the compacted one is a no-op, a future one a clear error
    result = run_module("etcd_maintenance", dict(single.conn(), action="compact", revision=2))
    assert result["changed"] is False
    result = run_module("etcd_maintenance", dict(single.conn(), action="compact",
                                                 revision=current + 100))
    assert result["failed"] is True and "future" in result["msg"]


def test_defrag_four_ways_leader_last(single, run_module):
    for i in range(40):
        single.put("big%d" % i, "x" * 100000)
    single.etcdctl("del", "big", "--prefix")
    single.etcdctl("compaction", "--physical", str(single.revision()))
    for _attempt in range(50):  # the size in use catches up with the compaction shortly after it
        before = single.etcdctl_json("endpoint", "status")[0]["Status"]
        if before["dbSize"] - before["dbSizeInUse"] > 64 * 1024:
            break
        time.sleep(0.1)
    reclaimable = before["dbSize"] - before["dbSizeInUse"]
    assert reclaimable > 64 * 1024
    args = dict(single.conn(), action="defrag", min_reclaimable_bytes=reclaimable // 2)
    results = run_module.four_ways("etcd_maintenance", args)
    assert results[1]["defragmented"] == single.endpoints
    assert results[0]["endpoints"][0]["reclaimable"] >= reclaimable // 2
    after = single.etcdctl_json("endpoint", "status")[0]["Status"]
    assert after["dbSize"] < before["dbSize"] - reclaimable // 2
    assert results[1]["endpoints"][0]["db_size_after"] == after["dbSize"]
    assert results[2]["skipped_endpoints"] == single.endpoints


def test_defrag_orders_the_leader_last(tls3_shared, run_module):
    result = run_module("etcd_maintenance", dict(tls3_shared.conn(), action="defrag",
                                                 min_reclaimable_bytes=0), check=True)
    assert result["changed"] is True
    assert len(result["defragmented"]) == 3
    assert [e["is_leader"] for e in result["endpoints"]] == [False, False, True]


def test_disarm_nospace_four_ways(single_small_quota, run_module):
    cluster = single_small_quota
    for i in range(30):
        if cluster.etcdctl("put", "k%d" % i, "x" * 100000, check=False).returncode:
            break
    assert "NOSPACE" in cluster.etcdctl("alarm", "list").stdout
    info = run_module("etcd_info", cluster.conn())
    assert info["healthy"] is False and [a["alarm"] for a in info["alarms"]] == ["NOSPACE"]
    cluster.etcdctl("del", "k", "--prefix")  # reads and deletes still work under NOSPACE
    cluster.etcdctl("compaction", str(cluster.revision()))
    cluster.etcdctl("defrag")
    results = run_module.four_ways("etcd_maintenance", dict(cluster.conn(), action="disarm"))
    assert [a["alarm"] for a in results[1]["alarms"]] == ["NOSPACE"]
    assert results[2]["alarms"] == []
    assert "NOSPACE" not in cluster.etcdctl("alarm", "list").stdout
    cluster.put("after", "disarm")  # writes work again
