"""recovery_verdict: the proof that the quorum is lost, table-driven over what each vantage point saw."""

import json

import pytest

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_quorum import (
    parse_stamp,
    read_view,
    recovery_verdict,
)

A, B, C, D = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"
IDS = {A: "a1", B: "b2", C: "c3", D: "d4"}
URLS = dict((m, "https://%s:2379" % m) for m in (A, B, C))
URLS4 = dict(URLS, **{D: "https://%s:2379" % D})
REFUSED = "cannot connect to %s:2379 ([Errno 111] Connection refused)"
NO_ROUTE = "cannot connect to %s:2379 ([Errno 101] Network is unreachable)"
TIMED_OUT = "cannot connect to %s:2379 (timed out)"


def status(member, leader=None, index=100, learner=False):
    return {"endpoint": URLS4[member], "id": IDS[member], "leader": IDS[leader] if leader else None,
            "is_leader": leader == member, "is_learner": learner, "raft_index": index,
            "raft_term": 2, "revision": 10, "errors": []}


def view(answered, failed=None, errors=None, members=None):
    """An etcd_info result: ``answered`` status dicts, ``failed`` {member: reason}."""
    failed = dict((URLS4[m], r % m if "%s" in r else r) for m, r in (failed or {}).items())
    return {"endpoints": answered, "failed_endpoints": sorted(failed), "failed_reasons": failed,
            "members": members or [], "leader": None, "healthy": False, "errors": errors or []}


def empty(kind, message):
    """What etcd_info returns when no endpoint answers (fail_on_unreachable: false)."""
    return {"endpoints": [], "failed_endpoints": list(URLS.values()), "members": [], "leader": None,
            "healthy": False, "errors": [message], "error_kind": kind}


def stamp(phase, member_id=None, when="20240102030405"):
    return json.dumps({"stamp": when, "phase": phase, "survivor": A, "member_id": member_id})


HEALTHY = dict((m, view([status(x, leader=B) for x in (A, B, C)])) for m in (A, B, C))
# A cut off by a partition: it sees itself without a leader; B and C keep their leader.
PARTITIONED = {
    A: view([status(A, index=90)], failed={B: NO_ROUTE, C: NO_ROUTE},
            errors=["etcdctl member list failed against https://10.0.0.1:2379: context deadline exceeded"]),
    B: view([status(B, leader=B, index=120), status(C, leader=B, index=120)], failed={A: TIMED_OUT}),
    C: view([status(B, leader=B, index=120), status(C, leader=B, index=120)], failed={A: TIMED_OUT}),
    "controller": view([status(B, leader=B, index=120), status(C, leader=B, index=120)], failed={A: TIMED_OUT}),
}
# B and C lost their data and are stopped; A runs alone without a leader.
ONLY_A = {
    A: view([status(A, index=100)], failed={B: REFUSED, C: REFUSED}),
    B: view([status(A, index=100)], failed={B: REFUSED, C: REFUSED}),
    C: view([status(A, index=100)], failed={B: REFUSED, C: REFUSED}),
    "controller": {"unavailable": "no client certificate"},
}
ALL_DOWN = dict((m, empty("unreachable", "cannot reach etcd: no endpoint accepts connections"))
                for m in (A, B, C))
# A and B run but cannot see each other (nor C, which is dead): no two members see each other.
SPLIT = {
    A: view([status(A, index=100)], failed={B: TIMED_OUT, C: REFUSED}),
    B: view([status(B, index=100)], failed={A: TIMED_OUT, C: REFUSED}),
    C: empty("unreachable", "no endpoint accepts connections"),
}
B_AHEAD = {
    A: view([status(A, index=100)], failed={B: TIMED_OUT, C: REFUSED}),
    B: view([status(B, index=150)], failed={A: TIMED_OUT, C: REFUSED}),
    C: empty("unreachable", "no endpoint accepts connections"),
}
A_DOWN_B_UP = {
    A: view([status(B, index=150)], failed={A: REFUSED, C: REFUSED}),
    B: view([status(B, index=150)], failed={A: REFUSED, C: REFUSED}),
    C: view([status(B, index=150)], failed={A: REFUSED, C: REFUSED}),
}
TLS_ON_C = dict(ONLY_A, **{C: empty("tls_rejected", "cannot reach etcd at ...: TLS rejected (its certificate is not trusted)")})
TLS_REASON_ON_B = dict(ONLY_A, **{B: view([status(A, index=100)], failed={
    B: "its certificate is not trusted by cacert /etc/kubernetes/ssl/ca.pem (self-signed certificate)", C: REFUSED})})
CONFIG_ON_B = dict(ONLY_A, **{B: empty("config", "cacert /etc/kubernetes/ssl/ca.pem does not exist")})
MODULE_FAILED_ON_CONTROLLER = dict(ONLY_A, controller={"failed": True, "msg": "[Errno 8] Exec format error"})
# 3 voters (A, B, C) and a learner D: B and C answer, D too, no leader yet (an election).
ELECTION_WITH_LEARNER = {
    B: view([status(B), status(C), status(D, learner=True)], failed={A: TIMED_OUT}),
}
# Only A and D answer from one vantage point: D is a learner, so 1 of 3 voters answer.
LEARNER_NOT_A_VOTER = {
    A: view([status(A, index=100), status(D, learner=True, index=90)], failed={B: REFUSED, C: REFUSED}),
}
# An earlier run forced the new cluster: A leads alone, B and C are stopped.
FORCED = dict((m, view([status(A, leader=A, index=200)], failed={B: REFUSED, C: REFUSED})) for m in (A, B, C))
# ...and a majority elsewhere still has its own leader (B): never "resume" into that.
FORCED_BESIDE_MAJORITY = {
    A: view([status(A, leader=A, index=200)], failed={B: TIMED_OUT, C: TIMED_OUT}),
    B: view([status(B, leader=B, index=250), status(C, leader=B, index=250)], failed={A: TIMED_OUT}),
}


@pytest.mark.parametrize("name, views, stamps, wal, decision, code", [
    ("healthy cluster", HEALTHY, {}, {A: 3}, "alive", "recover_quorum_alive"),
    ("partitioned survivor, healthy majority", PARTITIONED, {}, {A: 3}, "alive", "recover_quorum_alive"),
    ("partitioned survivor, majority seen only from the controller",
     {A: PARTITIONED[A], "controller": PARTITIONED["controller"]}, {}, {A: 3}, "alive", "recover_quorum_alive"),
    ("majority answers without a leader (an election)", ELECTION_WITH_LEARNER, {}, {A: 3}, "alive",
     "recover_quorum_alive"),
    ("only the survivor runs", ONLY_A, {}, {A: 3}, "lost", None),
    ("everything stopped", ALL_DOWN, {}, {A: 3}, "lost", None),
    ("two members that cannot see each other", SPLIT, {}, {A: 3}, "lost", None),
    ("a learner is not a voter", LEARNER_NOT_A_VOTER, {}, {A: 3}, "lost", None),
    ("TLS error from a member", TLS_ON_C, {}, {A: 3}, "undecided", "recover_undecided"),
    ("certificate rejected for one endpoint", TLS_REASON_ON_B, {}, {A: 3}, "undecided", "recover_undecided"),
    ("configuration error on a member", CONFIG_ON_B, {}, {A: 3}, "undecided", "recover_undecided"),
    ("etcd_info failed on the controller", MODULE_FAILED_ON_CONTROLLER, {}, {A: 3}, "undecided",
     "recover_undecided"),
    ("a higher raft index elsewhere", B_AHEAD, {}, {A: 3}, "survivor", "recover_survivor_behind"),
    ("survivor's index unknown, another known", A_DOWN_B_UP, {}, {A: 3}, "survivor", "recover_survivor_unknown"),
    ("survivor without WAL files", ONLY_A, {}, {A: 0, B: 2}, "survivor", "recover_survivor_no_data"),
    ("a stamp on another member", ONLY_A, {B: stamp("started")}, {A: 3}, "survivor",
     "recover_under_way_elsewhere"),
    ("stamp 'started' gets the full proof: healthy", HEALTHY, {A: stamp("started")}, {A: 3}, "alive",
     "recover_quorum_alive"),
    ("stamp 'started' gets the full proof: partitioned", PARTITIONED, {A: stamp("started", "a1")}, {A: 3},
     "alive", "recover_quorum_alive"),
    ("old plain stamp gets the full proof", PARTITIONED, {A: "20240102030405\n"}, {A: 3}, "alive",
     "recover_quorum_alive"),
    ("stamp 'forced' but another member leads", PARTITIONED, {A: stamp("forced", "a1")}, {A: 3}, "alive",
     "recover_quorum_alive"),
    ("stamp 'forced' beside a majority with its own leader", FORCED_BESIDE_MAJORITY, {A: stamp("forced", "a1")},
     {A: 3}, "alive", "recover_quorum_alive"),
    ("stamp 'forced' of another member id", FORCED, {A: stamp("forced", "ff")}, {A: 3}, "alive",
     "recover_quorum_alive"),
    ("stamp 'started' and the survivor leads", FORCED, {A: stamp("started", "a1")}, {A: 3}, "alive",
     "recover_quorum_alive"),
    ("stamp 'forced' and the survivor leads", FORCED, {A: stamp("forced", "a1")}, {A: 3}, "resume", None),
    ("stamp 'forced' without a member id and the survivor leads", FORCED, {A: stamp("forced")}, {A: 3},
     "resume", None),
    ("stamp 'forced' and nothing answers: a new recovery", ALL_DOWN, {A: stamp("forced", "a1")}, {A: 3}, "lost",
     None),
])
def test_decision_table(name, views, stamps, wal, decision, code):
    verdict = recovery_verdict(views, URLS, A, stamps=stamps, wal_files=wal)
    assert (verdict["decision"], verdict["code"]) == (decision, code), (name, verdict["message"])
    if code:
        assert "Nothing was changed." in verdict["message"]


def test_alive_message_names_the_leader_the_cut_off_member_and_the_fix():
    verdict = recovery_verdict(PARTITIONED, URLS, A, wal_files={A: 3})
    assert "it has a quorum" in verdict["message"]
    assert "Leader b2 (10.0.0.2) is reported from" in verdict["message"]
    assert "Replace a member that is cut off or broken (10.0.0.1)" in verdict["message"]
    assert "31.deletcd.yml" in verdict["message"] and "21.addetcd.yml" in verdict["message"]
    assert verdict["leader"] == "b2"


def test_healthy_cluster_says_there_is_nothing_to_recover():
    verdict = recovery_verdict(HEALTHY, URLS, A)
    assert "nothing to recover" in verdict["message"]


def test_majority_without_leader_is_alive_because_of_the_quorum_that_answers():
    verdict = recovery_verdict(ELECTION_WITH_LEARNER, URLS4, A)
    assert verdict["voters"] == [A, B, C]
    assert verdict["quorum"] == 2
    assert any("2 of 3 voting members answer (10.0.0.2, 10.0.0.3)" in r for r in verdict["reasons"])


def test_behind_names_the_member_to_recover_from():
    verdict = recovery_verdict(B_AHEAD, URLS, A, wal_files={A: 3})
    assert "10.0.0.2 has raft index 150, higher than 100 on 10.0.0.1" in verdict["message"]
    assert "-e etcd_recover_from=10.0.0.2" in verdict["message"]


def test_unknown_survivor_index_says_to_start_etcd_or_choose_the_other():
    verdict = recovery_verdict(A_DOWN_B_UP, URLS, A)
    assert "Start etcd on 10.0.0.1" in verdict["message"]
    assert "-e etcd_recover_from=10.0.0.2" in verdict["message"]


def test_the_highest_index_wins_over_several_vantage_points():
    # A answers B with an older index than it answers itself; C answers only itself, one index ahead.
    views = {A: view([status(A, index=100)], failed={B: TIMED_OUT, C: TIMED_OUT}),
             B: view([status(A, index=98)], failed={B: REFUSED, C: TIMED_OUT}),
             C: view([status(C, index=101)], failed={A: TIMED_OUT, B: REFUSED})}
    verdict = recovery_verdict(views, URLS, A)
    assert verdict["code"] == "recover_survivor_behind"
    assert verdict["indexes"] == {A: 100, B: None, C: 101}
    # recovering from C instead is fine
    assert recovery_verdict(views, URLS, C)["decision"] == "lost"


def test_equal_index_elsewhere_is_not_behind():
    views = dict(SPLIT, **{B: view([status(B, index=100)], failed={A: TIMED_OUT, C: REFUSED})})
    assert recovery_verdict(views, URLS, A)["decision"] == "lost"


def test_a_plain_timeout_or_refusal_decides_nothing_but_tls_does():
    timeout_only = dict(ONLY_A, controller=empty("timeout", "context deadline exceeded"))
    assert recovery_verdict(timeout_only, URLS, A)["decision"] == "lost"
    tls = dict(ONLY_A, controller=empty("tls_rejected", "TLS rejected"))
    verdict = recovery_verdict(tls, URLS, A)
    assert verdict["decision"] == "undecided"
    assert "From controller: TLS rejected" in verdict["message"]


def test_an_ignored_module_failure_is_undecided():
    ignored = {"failed": False, "failed_when_result": False, "msg": "[Errno 8] Exec format error", "rc": 8}
    verdict = recovery_verdict(dict(ONLY_A, controller=ignored), URLS, A)
    assert verdict["code"] == "recover_undecided"
    assert "Exec format error" in verdict["message"]


def test_etcd_running_but_silent_on_its_own_vantage_point_is_undecided():
    # A wrong client port: every member's etcd runs, nobody answers anywhere.
    verdict = recovery_verdict(ALL_DOWN, URLS, A, running={A: True, B: True, C: True})
    assert verdict["code"] == "recover_undecided"
    assert "On 10.0.0.1, etcd runs but does not answer at https://10.0.0.1:2379" in verdict["message"]
    assert "--listen-client-urls" in verdict["message"]


def test_stopped_members_that_do_not_answer_prove_the_loss():
    assert recovery_verdict(ALL_DOWN, URLS, A, running={A: False, B: False, C: False})["decision"] == "lost"
    assert recovery_verdict(ONLY_A, URLS, A, running={A: True, B: False, C: False})["decision"] == "lost"


def test_a_partitioned_member_silent_to_itself_is_still_alive_from_the_majority():
    assert recovery_verdict(PARTITIONED, URLS, A, running={A: True, B: True, C: True})["code"] == \
        "recover_quorum_alive"


def test_permission_denied_is_undecided():
    views = dict(ONLY_A, **{B: empty("permission_denied", "etcdserver: permission denied")})
    assert recovery_verdict(views, URLS, A)["code"] == "recover_undecided"


def test_unavailable_and_skipped_vantage_points_decide_nothing():
    views = dict(ONLY_A, controller={"skipped": True, "changed": False})
    verdict = recovery_verdict(views, URLS, A)
    assert verdict["decision"] == "lost"
    assert "from controller: not available (not asked)" in verdict["views"]


def test_lost_reuses_a_started_stamp_and_keeps_its_member_id():
    verdict = recovery_verdict(ALL_DOWN, URLS, A, stamps={A: stamp("started", "a1")})
    assert verdict["stamp"] == "20240102030405"
    assert verdict["record"] == {"phase": "started", "survivor": A, "member_id": "a1"}


def test_lost_after_a_forced_phase_starts_a_new_stamp():
    verdict = recovery_verdict(ALL_DOWN, URLS, A, stamps={A: stamp("forced", "a1")})
    assert verdict["stamp"] is None
    assert verdict["record"]["phase"] == "started"


def test_lost_records_the_survivor_id():
    verdict = recovery_verdict(ONLY_A, URLS, A)
    assert verdict["record"] == {"phase": "started", "survivor": A, "member_id": "a1"}
    assert verdict["survivor_index"] == 100


def test_resume_keeps_the_forced_phase_and_the_stamp():
    verdict = recovery_verdict(FORCED, URLS, A, stamps={A: stamp("forced", "a1")})
    assert verdict["stamp"] == "20240102030405"
    assert verdict["record"] == {"phase": "forced", "survivor": A, "member_id": "a1"}


def test_resume_with_members_already_added_back():
    views = dict(FORCED, **{B: view([status(A, leader=A, index=300), status(B, leader=A, index=300)],
                                    failed={C: REFUSED})})
    assert recovery_verdict(views, URLS, A, stamps={A: stamp("forced", "a1")})["decision"] == "resume"


def test_alive_wins_over_tls_errors_elsewhere():
    views = dict(PARTITIONED, controller=empty("tls_rejected", "TLS rejected"))
    assert recovery_verdict(views, URLS, A)["code"] == "recover_quorum_alive"


def test_survivor_must_be_a_member():
    with pytest.raises(ValueError):
        recovery_verdict(ONLY_A, URLS, "10.9.9.9")


@pytest.mark.parametrize("text, expected", [
    (None, None),
    ("", None),
    ("20240102030405\n", {"stamp": "20240102030405", "phase": "started", "survivor": None, "member_id": None}),
    (stamp("forced", "a1"), {"stamp": "20240102030405", "phase": "forced", "survivor": A, "member_id": "a1"}),
    (json.dumps({"stamp": "20240102030405", "phase": "weird"}),
     {"stamp": "20240102030405", "phase": "started", "survivor": None, "member_id": None}),
    ("garbage", {"stamp": None, "phase": "started", "survivor": None, "member_id": None}),
    (json.dumps({"stamp": "../x", "phase": "forced"}), {"stamp": None, "phase": "forced", "survivor": None,
                                                        "member_id": None}),
])
def test_parse_stamp(text, expected):
    assert parse_stamp(text) == expected


def test_read_view_maps_endpoints_and_learners_by_address():
    seen = read_view("x", view([status(A)], members=[
        {"id": "d4", "name": "", "peer_urls": ["https://10.0.0.4:2380"], "client_urls": [], "is_learner": True}]), URLS4)
    assert list(seen["answered"]) == [A]
    assert seen["learners"] == {D}
