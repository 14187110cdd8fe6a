# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations


def _by_url(members, url):
    found = [m for m in members if url in m["peer_urls"]]
    return found[0] if found else None


def test_member_lifecycle_add_promote_remove(tls3, run_module):
    """present (learner), start it, promoted, absent: each four ways, checked with etcdctl."""
    spare = tls3.add_spare("m4")
    args = dict(tls3.conn(), name="m4", peer_urls=[spare.peer_url])

    results = run_module.four_ways("etcd_member", args)
    assert results[0]["member"]["id"] is None  # check mode adds nothing
    added = results[1]["member"]
    truth = _by_url(tls3.member_list(), spare.peer_url)
    assert truth is not None and truth["is_learner"] is True
    assert added["id"] == truth["id"] and results[2]["member"]["id"] == truth["id"]
    assert len(results[1]["members_before"]) == 3 and len(results[1]["members_after"]) == 4
    assert "m4=" + spare.peer_url in results[1]["initial_cluster"]
    assert len(tls3.member_list()) == 4

    tls3.members.append(spare)
    tls3.start_member(spare, state="existing", initial_cluster=results[1]["initial_cluster"])
    promote = dict(tls3.conn(), name="m4", peer_urls=[spare.peer_url], state="promoted",
                   wait_timeout=60)
    promote["endpoints"] = tls3.endpoints[:3]
    results = run_module.four_ways("etcd_member", promote)
    assert results[1]["member"]["is_learner"] is False
    assert _by_url(tls3.member_list(), spare.peer_url)["is_learner"] is False
    tls3.wait_healthy()

    remove = dict(tls3.conn(), name="m4", state="absent")
    remove["endpoints"] = tls3.endpoints[:3]
    results = run_module.four_ways("etcd_member", remove)
    assert results[1]["member"]["id"] == truth["id"]
    assert _by_url(tls3.member_list(endpoints=tls3.endpoints[:3]), spare.peer_url) is None
    assert results[1]["diff"]["before"] != results[1]["diff"]["after"]
    tls3.stop_member(spare)
    tls3.members.remove(spare)


def test_member_update_peer_urls(tls3, run_module):
    m3 = tls3.members[2]
    new_urls = [m3.peer_url, m3.peer_url.replace("127.0.0.1", "localhost")]
    args = dict(tls3.conn(), name="m3", peer_urls=new_urls)
    run_module.four_ways("etcd_member", args)
    assert sorted(_by_url(tls3.member_list(), m3.peer_url)["peer_urls"]) == sorted(new_urls)


def test_removing_the_leader_moves_leadership_first(tls3, run_module):
    status = tls3.etcdctl_json("endpoint", "status")
    leader = "%x" % status[0]["Status"]["leader"]
    remaining = [m for m in tls3.members
                 if "%x" % tls3.etcdctl_json("endpoint", "status", endpoints=[m.client_url])[0]
                 ["Status"]["header"]["member_id"] != leader]
    result = run_module("etcd_member", dict(tls3.conn(), id=leader, state="absent"))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["leader_moved_to"] in [m["id"] for m in tls3.member_list(
        endpoints=[m.client_url for m in remaining])]
    members = tls3.member_list(endpoints=[m.client_url for m in remaining])
    assert leader not in [m["id"] for m in members] and len(members) == 2
    tls3.wait_healthy(members=remaining)


def test_removal_that_would_break_quorum_is_refused(tls3, run_module):
    m1, m2, m3 = tls3.members
    tls3.stop_member(m3)
    up = [m1.client_url, m2.client_url]
    before = tls3.member_list(endpoints=up)
    args = dict(tls3.conn(), name="m2", state="absent")
    for check in (True, False):
        result = run_module("etcd_member", args, check=check)
        assert result["failed"] is True
        assert result["error_kind"] == "refused"
        assert "quorum" in result["msg"] and "force" in result["msg"]
        assert tls3.member_list(endpoints=up) == before  # nothing changed
    # The dead member itself can go: two healthy voters remain, the quorum of two.
    args = dict(tls3.conn(), name="m3", state="absent")
    results = run_module.four_ways("etcd_member", args)
    assert results[1]["reasons"] == []
    assert sorted(m["name"] for m in tls3.member_list(endpoints=up)) == ["m1", "m2"]


def test_second_learner_is_refused_with_a_clear_message(tls3, run_module):
    first, second = tls3.add_spare("m4"), tls3.add_spare("m5")
    result = run_module("etcd_member", dict(tls3.conn(), name="m4", peer_urls=[first.peer_url]))
    assert result["changed"] is True
    before = tls3.member_list()
    result = run_module("etcd_member", dict(tls3.conn(), name="m5", peer_urls=[second.peer_url]))
    assert result["failed"] is True and result["error_kind"] == "refused"
    assert "one learner" in result["msg"]
    assert tls3.member_list() == before
