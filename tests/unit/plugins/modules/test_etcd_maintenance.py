# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

import pytest

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_common as ec
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_client import EtcdClient
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_maintenance_ops import MaintenanceOps
from ansible_collections.ezops.etcd.plugins.modules import etcd_maintenance
from etcd_fakes import run_main


def run(module_for, check=False, **kw):
    base = {"action": "compact", "revision": None, "physical": False,
            "min_reclaimable_bytes": 1048576, "cluster": False, "move_leader": True, "force": False,
            "alarms": ["NOSPACE"]}
    base.update(kw)
    module = module_for(check_mode=check, **base)
    return MaintenanceOps(module, EtcdClient(module)).run(), module


def four_ways(module_for, **kw):
    return [run(module_for, check=c, **kw)[0] for c in (True, False, False, True)]


def commands(fake, word):
    return [c for c in fake.calls if word in c]


# --- compact -----------------------------------------------------------------------------------
def test_compact_to_the_current_revision_four_ways(fake_etcd, module_for):
    results = four_ways(module_for, action="compact")
    assert [r["changed"] for r in results] == [True, True, False, False]
    assert results[1]["revision"] == 10 and results[1]["current_revision"] == 10
    assert fake_etcd.compacted == 10 and len(commands(fake_etcd, "compaction")) == 1
    probe = commands(fake_etcd, "get")[0]
    assert "--rev=9" in probe and probe[-1] == "--rev=9"


def test_compact_never_goes_below_the_compacted_revision(fake_etcd, module_for):
    fake_etcd.compacted = 8
    result, _m = run(module_for, action="compact", revision=5)
    assert result["changed"] is False and not commands(fake_etcd, "compaction")
    result, _m = run(module_for, action="compact", revision=9, physical=True)
    assert result["changed"] is True
    assert commands(fake_etcd, "compaction")[0][-3:] == ["compaction", "9", "--physical"]


def test_compact_refuses_a_future_revision(fake_etcd, module_for):
    with pytest.raises(ec.EtcdRefused, match="future"):
        run(module_for, action="compact", revision=11)


def test_compact_without_a_leader_is_refused(fake_etcd, module_for):
    fake_etcd.leader = 0
    with pytest.raises(ec.EtcdRefused, match="no leader"):
        run(module_for, action="compact")
    assert not commands(fake_etcd, "compaction")


def test_compact_race_with_another_compactor_is_not_a_change(fake_etcd, module_for):
    fake_etcd.fail["compaction"] = (
        1, "", "Error: etcdserver: mvcc: required revision has been compacted\n")
    result, _m = run(module_for, action="compact")
    assert result["changed"] is False


# --- defrag ------------------------------------------------------------------------------------
def test_defrag_four_ways_leader_last(fake_etcd, module_for):
    fake_etcd.leader = fake_etcd.members[0]["ID"]
    results = four_ways(module_for, action="defrag")
    assert [r["changed"] for r in results] == [True, True, False, False]
    order = [c[1] for c in commands(fake_etcd, "defrag")]
    assert order == ["--endpoints=https://10.0.0.2:2379", "--endpoints=https://10.0.0.3:2379",
                     "--endpoints=https://10.0.0.1:2379"]
    assert results[1]["defragmented"][-1] == "https://10.0.0.1:2379"
    assert all(e["db_size_after"] == 1048576 for e in results[1]["endpoints"])
    assert sorted(results[2]["skipped_endpoints"]) == sorted(results[1]["defragmented"])


def test_defrag_hands_the_leadership_over_before_the_leader(fake_etcd, module_for):
    fake_etcd.leader = fake_etcd.members[0]["ID"]
    planned, _m = run(module_for, action="defrag", check=True)
    assert not commands(fake_etcd, "move-leader")
    leader_item = [e for e in planned["endpoints"] if e["is_leader"]][0]
    successor = leader_item["leader_moved_to"]
    assert successor in [("%x" % m["ID"]) for m in fake_etcd.members[1:]]
    result, _m = run(module_for, action="defrag")
    moves = commands(fake_etcd, "move-leader")
    assert len(moves) == 1 and successor in moves[0] and "--endpoints=https://10.0.0.1:2379" in moves[0]
    words = [c for c in fake_etcd.calls if "defrag" in c or "move-leader" in c]
    assert "move-leader" in words[-2] and words[-1][1] == "--endpoints=https://10.0.0.1:2379"
    assert result["endpoints"][-1]["leader_moved_to"] == successor


def test_defrag_without_move_leader_moves_nothing(fake_etcd, module_for):
    fake_etcd.leader = fake_etcd.members[0]["ID"]
    result, _m = run(module_for, action="defrag", move_leader=False)
    assert not commands(fake_etcd, "move-leader") and "leader_moved_to" not in result["endpoints"][-1]


def test_defrag_threshold_and_zero(fake_etcd, module_for):
    fake_etcd.db["https://10.0.0.2:2379"] = [1048576 + 1000, 1048576]
    result, _m = run(module_for, action="defrag", check=True)
    assert result["skipped_endpoints"] == ["https://10.0.0.2:2379"]
    result, _m = run(module_for, action="defrag", check=True, min_reclaimable_bytes=0)
    assert len(result["defragmented"]) == 3


def test_defrag_refuses_while_a_member_is_down(fake_etcd, module_for):
    fake_etcd.down = {"https://10.0.0.3:2379"}
    with pytest.raises(ec.EtcdRefused, match="10.0.0.3"):
        run(module_for, action="defrag")
    assert not commands(fake_etcd, "defrag")
    result, _m = run(module_for, action="defrag", force=True)
    assert result["failed_endpoints"] == ["https://10.0.0.3:2379"]
    assert len(result["defragmented"]) == 2


def test_defrag_of_one_endpoint_is_refused_while_another_member_is_down(fake_etcd, module_for):
    """Defragmenting m1 blocks it: with m3 down, m2 alone is no quorum of 3."""
    fake_etcd.down = {"https://10.0.0.3:2379"}
    for check in (True, False):
        with pytest.raises(ec.EtcdRefused, match="member.s. m3 do not answer") as info:
            run(module_for, action="defrag", check=check, endpoints=["https://10.0.0.1:2379"])
        assert "https://10.0.0.3:2379" in info.value.message
        assert "force: true" in info.value.to_result()["msg"]
    assert not commands(fake_etcd, "defrag")
    result, _m = run(module_for, action="defrag", force=True, endpoints=["https://10.0.0.1:2379"])
    assert result["defragmented"] == ["https://10.0.0.1:2379"] and result["reasons"]


def test_defrag_without_a_leader_is_refused(fake_etcd, module_for):
    fake_etcd.leader = 0
    with pytest.raises(ec.EtcdRefused, match="no leader"):
        run(module_for, action="defrag")
    assert not commands(fake_etcd, "defrag")


def test_defrag_cluster_uses_member_client_urls(fake_etcd, module_for):
    result, _m = run(module_for, action="defrag", cluster=True, check=True,
                     endpoints=["https://10.0.0.1:2379"])
    assert len(result["endpoints"]) == 3


# --- disarm ------------------------------------------------------------------------------------
def test_disarm_four_ways(fake_etcd, module_for):
    fake_etcd.alarms = [fake_etcd.members[0]["ID"]]
    results = four_ways(module_for, action="disarm")
    assert [r["changed"] for r in results] == [True, True, False, False]
    assert results[1]["alarms"] == [{"member_id": "%x" % fake_etcd.members[0]["ID"],
                                     "alarm": "NOSPACE"}]
    assert len(commands(fake_etcd, "disarm")) == 1 and fake_etcd.alarms == []


@pytest.mark.parametrize("alarms", [[(1, 2)], [(1, 1), (2, 2)]])
def test_disarm_never_clears_corrupt_unless_listed(fake_etcd, module_for, alarms):
    fake_etcd.alarms = list(alarms)
    for check in (True, False):
        with pytest.raises(ec.EtcdRefused, match="CORRUPT alarm is active") as info:
            run(module_for, action="disarm", check=check)
        assert "docs/disaster-recovery.md" in info.value.hint
        # force overrides health gates, never the alarm types
        with pytest.raises(ec.EtcdRefused, match="CORRUPT"):
            run(module_for, action="disarm", check=check, force=True)
    assert fake_etcd.alarms == alarms and not commands(fake_etcd, "disarm")


def test_disarm_corrupt_when_explicitly_listed(fake_etcd, module_for):
    fake_etcd.alarms = [(1, 1), (2, 2)]
    result, module = run(module_for, action="disarm", alarms=["NOSPACE", "CORRUPT"])
    assert result["changed"] is True and result["disarmed"] == ["CORRUPT", "NOSPACE"]
    assert fake_etcd.alarms == [] and "disarming CORRUPT" in module.warnings[0]


def test_disarm_is_refused_while_a_member_is_down(fake_etcd, module_for):
    fake_etcd.alarms = [fake_etcd.members[0]["ID"]]
    fake_etcd.down = {"https://10.0.0.3:2379"}
    with pytest.raises(ec.EtcdRefused, match="refusing to disarm NOSPACE: the cluster is unhealthy"):
        run(module_for, action="disarm")
    assert fake_etcd.alarms and not commands(fake_etcd, "disarm")
    result, _m = run(module_for, action="disarm", force=True)
    assert result["changed"] is True and result["reasons"] and fake_etcd.alarms == []


def test_disarm_warns_when_the_alarm_comes_back(fake_etcd, module_for, monkeypatch):
    fake_etcd.alarms = [1]
    monkeypatch.setattr(fake_etcd, "cmd_alarm_disarm", lambda *a: (0, "", ""))
    result, module = run(module_for, action="disarm")
    assert result["alarms_left"] and "comes back" in module.warnings[0]


# --- the module entry points -------------------------------------------------------------------
def test_maintenance_main(fake_etcd, module_for):
    conn = module_for().params
    result, failed = run_main(etcd_maintenance.main, dict(conn, action="compact"),
                              check_mode=True)
    assert not failed and result["changed"] is True and result["action"] == "compact"
    assert fake_etcd.compacted == 0
    result, failed = run_main(etcd_maintenance.main, dict(conn, action="rebuild"))
    assert failed and "action" in result["msg"]


def test_a_learner_that_is_down_does_not_block_defrag(fake_etcd, module_for):
    fake_etcd.add_member("m4", "https://10.0.0.4:2380", "https://10.0.0.4:2379", learner=True)
    fake_etcd.down = {"https://10.0.0.4:2379"}
    result, _m = run(module_for, action="defrag", endpoints=["https://10.0.0.1:2379"])
    assert result["reasons"] == [] and result["defragmented"] == ["https://10.0.0.1:2379"]
