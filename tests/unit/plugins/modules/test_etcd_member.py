# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

import copy

import pytest

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_common as ec
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_member_ops import MemberOps
from ansible_collections.ezops.etcd.plugins.modules import etcd_member
from etcd_fakes import run_main

NEW = "https://10.0.0.4:2380"


def params(**kw):
    base = {"state": "present", "name": None, "peer_urls": None, "id": None, "learner": None,
            "force": False, "wait_timeout": 5}
    base.update(kw)
    return base


def run(fake, module_for, check=False, **kw):
    module = module_for(check_mode=check, **params(**kw))
    return MemberOps(module, _client(module), sleep=lambda s: None).run()


def _client(module):
    from ansible_collections.ezops.etcd.plugins.module_utils.etcd_client import EtcdClient
    return EtcdClient(module)


def mutations(fake):
    return [c for c in fake.calls if c[-2:] != ["member", "list"] and "status" not in c
            and "health" not in c and c[-1] != "version"]


# --- present -----------------------------------------------------------------------------------
def test_present_four_ways(fake_etcd, module_for):
    before = copy.deepcopy(fake_etcd.members)
    result = run(fake_etcd, module_for, check=True, name="m4", peer_urls=[NEW])
    assert result["changed"] is True and result["member"]["id"] is None
    assert fake_etcd.members == before and not [c for c in fake_etcd.calls if "add" in c]
    assert len(result["members_after"]) == 4

    result = run(fake_etcd, module_for, name="m4", peer_urls=[NEW])
    assert result["changed"] is True
    added = [c for c in fake_etcd.calls if "add" in c][0]
    assert added[-5:] == ["member", "add", "m4", "--peer-urls=" + NEW, "--learner"]  # 3.4+
    assert result["member"]["id"] == "%x" % fake_etcd.members[-1]["ID"]
    assert result["member"]["is_learner"] is True
    assert result["initial_cluster"].endswith("m4=" + NEW)
    assert result["diff"]["before"]["members"] != result["diff"]["after"]["members"]

    for check in (False, True):
        again = run(fake_etcd, module_for, check=check, name="m4", peer_urls=[NEW])
        assert again["changed"] is False and again["member"]["id"] == result["member"]["id"]
    assert len([c for c in fake_etcd.calls if "add" in c]) == 1


def test_present_as_voter_when_asked(fake_etcd, module_for):
    result = run(fake_etcd, module_for, name="m4", peer_urls=[NEW], learner=False)
    assert result["member"]["is_learner"] is False
    assert "--learner" not in [c for c in fake_etcd.calls if "add" in c][0]


def test_present_updates_peer_urls_of_the_named_member(fake_etcd, module_for):
    urls = ["https://10.0.0.2:2380", "https://node2:2380"]
    result = run(fake_etcd, module_for, check=True, name="m2", peer_urls=urls)
    assert result["changed"] is True and not [c for c in fake_etcd.calls if "update" in c]
    result = run(fake_etcd, module_for, name="m2", peer_urls=urls)
    update = [c for c in fake_etcd.calls if "update" in c][0]
    assert update[-2:] == [fake_etcd.hex_id("m2"), "--peer-urls=" + ",".join(urls)]
    assert result["member"]["peer_urls"] == urls
    assert run(fake_etcd, module_for, name="m2", peer_urls=urls)["changed"] is False


# the update gate (issue 8, defect 9): the health and quorum rules of a removal
MOVED = ["https://10.0.0.9:2380"]


@pytest.mark.parametrize("down, unhealthy, target, urls, words", [
    ({"https://10.0.0.3:2379"}, set(), "m2", MOVED, r"member\(s\) m3 do not answer"),
    (set(), {"https://10.0.0.3:2379"}, "m2", MOVED, "report unhealthy"),
    ({"https://10.0.0.3:2379"}, set(), "m2", MOVED, r"1 reachable voting member\(s\), fewer than"),
])
def test_update_of_a_voter_is_refused_on_an_unhealthy_cluster(fake_etcd, module_for, down,
                                                              unhealthy, target, urls, words):
    fake_etcd.down, fake_etcd.unhealthy = down, unhealthy
    before = copy.deepcopy(fake_etcd.members)
    for check in (True, False):
        with pytest.raises(ec.EtcdRefused, match=words) as info:
            run(fake_etcd, module_for, check=check, name=target, peer_urls=urls)
        assert "force: true" in info.value.hint and "nothing was changed" in info.value.hint
        assert info.value.extra["reasons"] and info.value.extra["member"]["name"] == target
    assert fake_etcd.members == before and not mutations(fake_etcd)
    result = run(fake_etcd, module_for, name=target, peer_urls=urls, force=True)
    assert result["changed"] is True and result["reasons"]
    assert fake_etcd.by_hex(fake_etcd.hex_id(target))["peerURLs"] == urls


def test_update_of_the_dead_member_itself_is_allowed(fake_etcd, module_for):
    """A member whose host changed address: down, the two others keep the quorum."""
    fake_etcd.down = {"https://10.0.0.3:2379"}
    check = run(fake_etcd, module_for, check=True, name="m3", peer_urls=MOVED)
    assert check["changed"] is True and check["reasons"] == [] and not mutations(fake_etcd)
    assert check["diff"]["after"]["members"][2]["peer_urls"] == MOVED
    assert check["diff"]["before"]["members"][2]["peer_urls"] == ["https://10.0.0.3:2380"]
    result = run(fake_etcd, module_for, name="m3", peer_urls=MOVED)
    assert result["changed"] is True and result["member"]["peer_urls"] == MOVED


def test_update_in_a_two_voter_cluster_needs_force_unless_the_old_url_stays(fake_etcd, module_for):
    del fake_etcd.members[2]
    with pytest.raises(ec.EtcdRefused, match="quorum of 2"):
        run(fake_etcd, module_for, name="m2", peer_urls=MOVED)
    assert not mutations(fake_etcd)
    both = ["https://10.0.0.2:2380", "https://10.0.0.9:2380"]
    assert run(fake_etcd, module_for, name="m2", peer_urls=both)["reasons"] == []


def test_update_without_a_leader_is_refused(fake_etcd, module_for):
    fake_etcd.leader = 0
    with pytest.raises(ec.EtcdRefused, match="no leader"):
        run(fake_etcd, module_for, name="m2", peer_urls=MOVED)
    assert not mutations(fake_etcd)


def test_present_retries_while_etcd_says_unhealthy_cluster(fake_etcd, module_for):
    fake_etcd.fail["member add"] = (1, "", "Error: etcdserver: unhealthy cluster\n")
    result = run(fake_etcd, module_for, name="m4", peer_urls=[NEW])
    assert result["changed"] is True
    assert len([c for c in fake_etcd.calls if "add" in c]) == 2


def test_second_learner_is_refused_naming_the_first(fake_etcd, module_for):
    run(fake_etcd, module_for, name="m4", peer_urls=[NEW])
    with pytest.raises(ec.EtcdRefused, match="one learner at a time") as info:
        run(fake_etcd, module_for, name="m5", peer_urls=["https://10.0.0.5:2380"])
    assert "%x" % fake_etcd.members[-1]["ID"] in info.value.message


# --- promoted ----------------------------------------------------------------------------------
def test_promoted_waits_for_the_learner_to_catch_up(fake_etcd, module_for):
    learner = fake_etcd.add_member("m4", NEW, "https://10.0.0.4:2379", learner=True)
    fake_etcd.promote_failures = 2
    check = run(fake_etcd, module_for, check=True, state="promoted", name="m4")
    assert check["changed"] is True and check["member"]["is_learner"] is False
    assert learner.get("isLearner") is True
    result = run(fake_etcd, module_for, state="promoted", name="m4")
    assert result["changed"] is True and "isLearner" not in learner
    assert len([c for c in fake_etcd.calls if "promote" in c]) == 3
    for check_mode in (False, True):
        assert run(fake_etcd, module_for, check=check_mode, state="promoted",
                   name="m4")["changed"] is False


def test_promoted_times_out_with_a_clear_error(fake_etcd, module_for):
    fake_etcd.add_member("", NEW, learner=True)
    fake_etcd.promote_failures = 10 ** 6
    with pytest.raises(ec.EtcdTimeout, match="did not catch up with the leader within 0 s") as info:
        run(fake_etcd, module_for, state="promoted", peer_urls=[NEW], wait_timeout=0)
    assert "started=False" in info.value.hint


def test_promoted_unknown_member(fake_etcd, module_for):
    with pytest.raises(ec.EtcdMemberNotFound, match="name=m9"):
        run(fake_etcd, module_for, state="promoted", name="m9")


# --- absent ------------------------------------------------------------------------------------
@pytest.mark.parametrize("selector", [
    {"name": "m2"}, {"id": "m2"}, {"peer_urls": ["https://10.0.0.2:2380"]}])
def test_absent_four_ways_by_any_selector(fake_etcd, module_for, selector):
    if selector.get("id"):
        selector = {"id": fake_etcd.hex_id("m2")}
    target = fake_etcd.hex_id("m2")
    results = [run(fake_etcd, module_for, check=c, state="absent", **selector)
               for c in (True, False, False, True)]
    assert [r["changed"] for r in results] == [True, True, False, False]
    assert results[1]["member"]["id"] == target and results[1]["reasons"] == []
    assert target not in ["%x" % m["ID"] for m in fake_etcd.members]
    assert len([c for c in fake_etcd.calls if "remove" in c]) == 1
    assert [m["id"] for m in results[0]["members_after"]] == \
        [m["id"] for m in results[1]["members_after"]]


@pytest.mark.parametrize("down, target, refused", [
    ({"https://10.0.0.3:2379"}, "m2", True),   # leaves m1 alone: 1 healthy of 2
    ({"https://10.0.0.3:2379"}, "m3", False),  # the dead one: m1, m2 keep the quorum of 2
    (set(), "m3", False),
])
def test_absent_quorum_table(fake_etcd, module_for, down, target, refused):
    fake_etcd.down = down
    before = copy.deepcopy(fake_etcd.members)
    if refused:
        for check in (True, False):
            with pytest.raises(ec.EtcdRefused, match="quorum") as info:
                run(fake_etcd, module_for, check=check, state="absent", name=target)
            assert fake_etcd.members == before
            assert info.value.extra["members_before"] and info.value.extra["reasons"]
        assert not [c for c in fake_etcd.calls if "remove" in c]
        result = run(fake_etcd, module_for, state="absent", name=target, force=True)
        assert result["changed"] is True and result["reasons"]
    else:
        result = run(fake_etcd, module_for, state="absent", name=target)
        assert result["changed"] is True and result["reasons"] == []
    remove = [c for c in fake_etcd.calls if "remove" in c][0]
    assert not any(ep in remove[1] for ep in down)      # sent to members that answer


def test_absent_refuses_when_another_member_is_unhealthy(fake_etcd, module_for):
    fake_etcd.add_member("m4", NEW, "https://10.0.0.4:2379")
    fake_etcd.add_member("m5", "https://10.0.0.5:2380", "https://10.0.0.5:2379")
    fake_etcd.unhealthy = {"https://10.0.0.5:2379"}
    with pytest.raises(ec.EtcdRefused, match="unhealthy: member.s. m5"):
        run(fake_etcd, module_for, state="absent", name="m4")


def test_absent_moves_leadership_off_the_leader_first(fake_etcd, module_for):
    leader = "%x" % fake_etcd.leader
    check = run(fake_etcd, module_for, check=True, state="absent", id=leader)
    assert check["leader_moved_to"] and "%x" % fake_etcd.leader == leader
    result = run(fake_etcd, module_for, state="absent", id=leader)
    done = mutations(fake_etcd)
    assert [c[-2] for c in done] == ["move-leader", "remove"]
    assert done[0][-1] == result["leader_moved_to"] and done[1][-1] == leader
    assert "%x" % fake_etcd.leader == result["leader_moved_to"] != leader


def test_absent_of_a_missing_member_is_ok(fake_etcd, module_for):
    result = run(fake_etcd, module_for, state="absent", name="m9")
    assert result["changed"] is False and not mutations(fake_etcd)


def test_the_last_voter_is_never_removed(fake_etcd, module_for):
    del fake_etcd.members[1:]
    with pytest.raises(ec.EtcdRefused, match="last voting member"):
        run(fake_etcd, module_for, state="absent", name="m1", force=True)


# --- the module entry point ----------------------------------------------------------------------
def test_main_validates_and_returns_hex_ids(fake_etcd, module_for):
    conn = module_for().params
    result, failed = run_main(etcd_member.main, dict(conn, name="m4", peer_urls=[NEW]))
    assert not failed and result["changed"] is True
    assert result["member"]["id"] == "%x" % fake_etcd.members[-1]["ID"]
    result, failed = run_main(etcd_member.main, dict(conn, name="m5"))
    assert failed and "peer_urls" in result["msg"]
    result, failed = run_main(etcd_member.main, dict(conn, state="absent"))
    assert failed and "one of the following" in result["msg"]


def test_main_reports_typed_errors(fake_etcd, module_for):
    conn = module_for().params
    fake_etcd.fail["member list"] = (1, "", "Error: etcdserver: permission denied\n")
    result, failed = run_main(etcd_member.main, dict(conn, name="m4", peer_urls=[NEW]))
    assert failed and result["error_kind"] == "permission_denied"
    assert "Fix:" in result["msg"] and result["cmd"][0].endswith("etcdctl")
