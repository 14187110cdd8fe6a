# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

import json

import pytest

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_common as ec
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_version import find as find_version
from etcd_fakes import RECORDED_VERSIONS, make_snapshot, recorded, sha256_of


# --- parsers on recorded etcdctl -w json output -------------------------------------------------
@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_parse_member_list_recorded(version):
    rec = recorded(version, "member_list")
    raw = json.loads(rec["stdout"])
    cluster_id, members = ec.parse_member_list(rec["stdout"])
    assert cluster_id == "%x" % raw["header"]["cluster_id"]
    assert sorted(m["id"] for m in members) == sorted("%x" % m["ID"] for m in raw["members"])
    assert all(int(m["id"], 16) > 0 for m in members)
    assert [m["name"] for m in members if m["started"]] == ["m1", "m2", "m3"]
    learners = [m for m in members if m["is_learner"]]
    assert len(learners) == 1 and learners[0]["name"] == "" and learners[0]["client_urls"] == []
    assert learners[0]["started"] is False
    assert members[-1] is learners[0]  # unstarted members sort last


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_ids_above_2_pow_53_keep_every_digit(version):
    rec = recorded(version, "member_list")
    big = [m["ID"] for m in json.loads(rec["stdout"])["members"]]
    for member in ec.parse_member_list(rec["stdout"])[1]:
        assert int(member["id"], 16) in big
    assert ec.to_hex(18446744073709551615) == "ffffffffffffffff"
    assert ec.to_hex("00ff") == "ff" and ec.to_hex(None) is None


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_parse_member_add_recorded(version):
    rec = recorded(version, "member_add_learner")
    member, members = ec.parse_member_add(rec["stdout"])
    assert member["is_learner"] is True and member["name"] == ""
    assert member["id"] in [m["id"] for m in members]
    assert len(members) == 4


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_parse_endpoint_status_recorded(version):
    rec = recorded(version, "endpoint_status")
    statuses = ec.parse_endpoint_status(rec["stdout"])
    assert len(statuses) == 3
    assert [s["is_leader"] for s in statuses].count(True) == 1
    assert len(set(s["leader"] for s in statuses)) == 1
    for status in statuses:
        assert status["version"] == version
        assert status["db_size"] >= status["db_size_in_use"] > 0
        assert status["raft_index"] >= status["raft_applied_index"] > 0
        assert status["endpoint"].startswith("https://127.0.0.1:")
        assert status["errors"] == []


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_partial_endpoint_status_names_the_failed_endpoint(version):
    rec = recorded(version, "endpoint_status_one_down")
    assert rec["rc"] == 1
    statuses = ec.parse_endpoint_status(rec["stdout"])
    failed = ec.failed_status_endpoints(rec["stderr"])
    assert len(statuses) == 2 and len(failed) == 1
    assert list(failed)[0] not in [s["endpoint"] for s in statuses]
    assert "deadline" in list(failed.values())[0]


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_parse_health_and_alarms_recorded(version):
    healthy = ec.parse_endpoint_health(recorded(version, "endpoint_health")["stdout"])
    assert [h["health"] for h in healthy] == [True, True, True]
    one_down = ec.parse_endpoint_health(recorded(version, "endpoint_health_one_down")["stdout"])
    assert [h["health"] for h in one_down].count(False) == 1
    assert [h["error"] for h in one_down if not h["health"]][0]
    assert ec.parse_alarms(recorded(version, "alarm_list")["stdout"]) == []
    alarms = ec.parse_alarms(recorded(version, "alarm_list_nospace")["stdout"])
    assert [a["alarm"] for a in alarms] == ["NOSPACE"]
    status = ec.parse_endpoint_status(recorded(version, "endpoint_status_nospace")["stdout"])[0]
    assert status["id"] == alarms[0]["member_id"]
    assert "NOSPACE" in status["errors"][0]


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
def test_parse_snapshot_status_and_version_recorded(version):
    rec = recorded(version, "snapshot_status")
    raw = json.loads(rec["stdout"])
    status = ec.parse_snapshot_status(rec["stdout"])
    assert status == {"hash": raw["hash"], "revision": raw["revision"],
                      "total_keys": raw["totalKey"], "total_size": raw["totalSize"]}
    assert find_version(recorded(version, "version")["stdout"]) == version
    with pytest.raises(ec.SnapshotError):
        ec.parse_snapshot_status("{}")


def test_non_json_output_is_a_clear_error():
    with pytest.raises(ec.EtcdCommandError, match="not JSON"):
        ec.parse_member_list("Member 1 added")


# --- error classification on recorded stderr ---------------------------------------------------
@pytest.mark.parametrize("version", RECORDED_VERSIONS)
@pytest.mark.parametrize("name, cls, text", [
    ("auth_failed", ec.EtcdPermissionDenied, "authentication failed"),
    ("permission_denied", ec.EtcdPermissionDenied, "permission denied"),
    ("user_name_empty", ec.EtcdPermissionDenied, "user name is empty"),
    ("member_remove_not_found", ec.EtcdMemberNotFound, "member not found"),
    ("put_nospace", ec.EtcdNoSpace, "database space exceeded"),
    ("compaction_compacted", ec.EtcdCommandError, "required revision has been compacted"),
    ("compaction_future", ec.EtcdCommandError, "future revision"),
    ("member_add_second_learner", ec.EtcdCommandError, "too many learner members"),
    ("member_promote_not_in_sync", ec.EtcdCommandError, "in sync with leader"),
    ("snapshot_restore_corrupt", ec.EtcdCommandError, "expected sha256"),
])
def test_classify_recorded_errors(version, name, cls, text):
    rec = recorded(version, name)
    assert rec["rc"] != 0
    got, message = ec.classify_error(rec["stderr"], rec["stdout"])
    assert got is cls
    assert text in message


def test_classify_wrong_ca_per_version():
    # etcd 3.5's client logs the x509 reason; 3.4 only says the deadline passed (then we probe).
    cls, message = ec.classify_error(recorded("3.5.16", "wrong_ca")["stderr"])
    assert cls is ec.EtcdTLSError and "x509" in message
    cls, message = ec.classify_error(recorded("3.4.23", "wrong_ca")["stderr"])
    assert cls is ec.EtcdTimeout and "context deadline exceeded" in message


@pytest.mark.parametrize("stderr, cls", [
    ("Error: dial tcp 10.0.0.1:2379: connect: connection refused", ec.EtcdUnreachable),
    ("Error: context deadline exceeded", ec.EtcdTimeout),
    ("Error: etcdserver: request timed out", ec.EtcdTimeout),
    ("Error: tls: first record does not look like a TLS handshake", ec.EtcdTLSError),
    ("Error: etcdserver: invalid auth token", ec.EtcdPermissionDenied),
    ("Error: open /nonexist/ca.pem: no such file or directory", ec.EtcdCommandError),
])
def test_classify_table(stderr, cls):
    assert ec.classify_error(stderr)[0] is cls


def test_error_result_names_problem_fix_and_command():
    err = ec.EtcdNoSpace("put failed", cmd=["etcdctl", "put"], rc=1, stderr="x",
                         extra={"members_before": []})
    result = err.to_result()
    assert result["msg"].startswith("put failed. Fix: ") and "compact" in result["msg"]
    assert result["error_kind"] == "nospace" and result["cmd"] == ["etcdctl", "put"]
    assert result["members_before"] == [] and "stdout" not in result


# --- versions, urls, initial cluster ---------------------------------------------------------
def test_supports_bump_revision_is_feature_detected():
    assert ec.supports_bump_revision("--bump-revision uint\n--mark-compacted\n")
    assert not ec.supports_bump_revision("--data-dir string\n--skip-hash-check\n")


@pytest.mark.parametrize("url, normal", [
    ("HTTPS://10.0.0.1:2380/", "https://10.0.0.1:2380"),
    ("10.0.0.1:2379", "http://10.0.0.1:2379"),
    ("https://[fd00::1]:2380", "https://[fd00::1]:2380"),
    (" https://Node1:2380 ", "https://node1:2380"),
])
def test_normalize_url(url, normal):
    assert ec.normalize_url(url) == normal


def test_split_endpoints_and_initial_cluster():
    assert ec.split_endpoints(["a:1,b:2", " c:3 ", "a:1", ""]) == ["a:1", "b:2", "c:3"]
    parsed = ec.parse_initial_cluster("a=https://1:2380,b=https://2:2380,a=https://3:2380")
    assert parsed == {"a": ["https://1:2380", "https://3:2380"], "b": ["https://2:2380"]}
    with pytest.raises(ec.EtcdConfigError, match="NAME=PEER_URL"):
        ec.parse_initial_cluster("https://1:2380")


# --- quorum and decisions ----------------------------------------------------------------------
@pytest.mark.parametrize("voters, needed, tolerated", [
    (0, 0, 0), (1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2), (7, 4, 3)])
def test_quorum_arithmetic(voters, needed, tolerated):
    assert ec.quorum(voters) == needed
    assert ec.fault_tolerance(voters) == tolerated


def member(mid, name="", peer=None, learner=False, client=True):
    peer = peer or "https://10.0.0.%d:2380" % mid
    return {"id": "%x" % mid, "name": name, "peer_urls": [peer],
            "client_urls": [peer.replace("2380", "2379")] if client and name else [],
            "is_learner": learner, "started": bool(name)}


THREE = [member(1, "m1"), member(2, "m2"), member(3, "m3")]


@pytest.mark.parametrize("name, urls, action, matched", [
    ("m4", ["https://10.0.0.4:2380"], "add", None),
    ("m2", ["https://10.0.0.2:2380"], "none", "2"),
    ("m2", ["HTTPS://10.0.0.2:2380/"], "none", "2"),           # same URL, other spelling
    ("renamed", ["https://10.0.0.2:2380"], "none", "2"),       # peer URLs decide, not the name
    ("m2", ["https://10.0.0.9:2380"], "update", "2"),          # same name, new URL
    ("m2", ["https://10.0.0.2:2380", "https://n2:2380"], "update", "2"),
])
def test_plan_present(name, urls, action, matched):
    got, found = ec.plan_present(THREE, name, urls, True)
    assert got == action
    assert (found["id"] if found else None) == matched


def test_plan_present_refuses_urls_owned_by_another_member():
    with pytest.raises(ec.EtcdRefused, match="partly used by member m2"):
        ec.plan_present(THREE, "other", ["https://10.0.0.2:2380", "https://x:2380"], True)


def test_plan_present_matches_an_unstarted_member_by_its_urls():
    members = THREE + [member(4, "", learner=True)]
    assert ec.plan_present(members, "m4", ["https://10.0.0.4:2380"], True) == ("none", members[3])


@pytest.mark.parametrize("target, healthy, leader, expected", [
    # (target, healthy ids, leader, reasons substrings; [] = safe)
    (2, {1, 2, 3}, 1, []),
    (3, {1, 2}, 1, []),                                   # remove the dead one: 2 of 2 left
    (2, {1, 2}, 1, ["unhealthy", "fewer than the quorum of 2"]),  # would leave 1 healthy of 2
    (1, {1, 2, 3}, 1, []),                                # the leader: allowed, moved first
    (2, {1, 2, 3}, None, ["no leader"]),
    (3, {3}, None, ["no leader", "unhealthy", "0 healthy"]),
])
def test_plan_removal_three_voters(target, healthy, leader, expected):
    reasons = ec.plan_removal(THREE, "%x" % target, ["%x" % h for h in healthy],
                              "%x" % leader if leader else None)
    assert len(reasons) == len(expected), reasons
    for reason, text in zip(reasons, expected):
        assert text in reason


def test_plan_removal_learner_does_not_count_for_quorum():
    members = THREE + [member(4, "m4", learner=True)]
    assert ec.plan_removal(members, "4", ["1", "2", "3"], "1") == []
    # an unhealthy learner does not make the cluster unhealthy either
    assert ec.plan_removal(members, "2", ["1", "2", "3"], "1") == []


def test_plan_removal_never_removes_the_last_voter():
    with pytest.raises(ec.EtcdRefused, match="last voting member"):
        ec.plan_removal([member(1, "m1")], "1", ["1"], "1")
    # two voters, one down: removing the down one leaves 1 healthy of 1: safe
    assert ec.plan_removal(THREE[:2], "2", ["1"], "1") == []


def test_pick_new_leader_prefers_the_most_up_to_date_healthy_voter():
    statuses = [{"id": "1", "raft_index": 50}, {"id": "2", "raft_index": 40},
                {"id": "3", "raft_index": 45}]
    assert ec.pick_new_leader(THREE, statuses, "1", {"1", "2", "3"})["id"] == "3"
    assert ec.pick_new_leader(THREE, statuses, "1", {"1", "2"})["id"] == "2"
    assert ec.pick_new_leader(THREE, statuses, "1", {"1"}) is None


def test_initial_cluster_for_a_new_member():
    members = THREE + [member(4, "", learner=True)]
    got = ec.initial_cluster_for(members, "m4", ["https://10.0.0.4:2380"])
    assert got == ("m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,"
                   "m3=https://10.0.0.3:2380,m4=https://10.0.0.4:2380")


def test_member_summary():
    assert ec.member_summary(THREE)[0] == {"id": "1", "name": "m1",
                                           "peer_urls": ["https://10.0.0.1:2380"],
                                           "is_learner": False}


def test_defrag_order_puts_the_leader_last():
    statuses = [{"endpoint": "a", "is_leader": True}, {"endpoint": "c", "is_leader": False},
                {"endpoint": "b", "is_leader": False}]
    assert [s["endpoint"] for s in ec.defrag_order(statuses)] == ["b", "c", "a"]


@pytest.mark.parametrize("current, requested, expected", [
    (100, None, 100), (100, 50, 50), (100, 100, 100), (1, None, None), (100, 1, None)])
def test_compaction_target(current, requested, expected):
    assert ec.compaction_target(current, requested) == expected


def test_compaction_target_refuses_the_future():
    with pytest.raises(ec.EtcdRefused, match="future"):
        ec.compaction_target(100, 101)


# --- snapshot files ----------------------------------------------------------------------------
def test_snapshot_integrity_accepts_a_whole_snapshot(tmp_path):
    path = make_snapshot(tmp_path / "s.db")
    info = ec.snapshot_integrity(path, chunk=1000)  # chunks that straddle the hash
    assert info["size"] == 8 * 4096 + 32
    assert info["sha256"] == sha256_of(path)


@pytest.mark.parametrize("damage, words", [
    (lambda b: b[: len(b) // 2], "truncated"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], "corrupt"),
    (lambda b: b[:-32] + b"\0" * 32, "corrupt"),
    (lambda b: b"", "truncated"),
])
def test_snapshot_integrity_rejects_damaged_files(tmp_path, damage, words):
    path = make_snapshot(tmp_path / "s.db")
    data = open(path, "rb").read()
    open(path, "wb").write(damage(data))
    with pytest.raises(ec.SnapshotError, match=words):
        ec.snapshot_integrity(path)


def test_snapshot_integrity_missing_file(tmp_path):
    with pytest.raises(ec.SnapshotError, match="does not exist"):
        ec.snapshot_integrity(str(tmp_path / "nope.db"))


def test_checksum_files(tmp_path):
    digest = "a" * 64
    side = tmp_path / "s.db.sha256"
    side.write_text(ec.checksum_line(digest, "/backup/s.db"))
    assert side.read_text() == digest + "  s.db\n"
    assert ec.read_checksum_file(str(side)) == digest
    side.write_text(digest.upper())
    assert ec.read_checksum_file(str(side)) == digest
    side.write_text("garbage")
    with pytest.raises(ec.SnapshotError, match="sha256"):
        ec.read_checksum_file(str(side))


def test_restore_marker_identity():
    wanted = ec.restore_marker("f" * 64, "m1", "m2=https://b:2380, m1=https://a:2380", "tok",
                               ["https://a:2380"])
    assert wanted["initial_cluster"] == "m1=https://a:2380,m2=https://b:2380"
    stored = dict(wanted, restored_at="20261122183000", bump_revision=0)
    assert ec.same_restore(stored, wanted)
    assert not ec.same_restore(dict(stored, name="m2"), wanted)
    assert not ec.same_restore(dict(stored, snapshot_sha256="0" * 64), wanted)
    assert not ec.same_restore(None, wanted)


# --- safety gates of updates and maintenance (issue 8, defect 9) ------------------------------
def test_health_reasons_ignore_the_target_and_learners():
    members = THREE + [member(4, "m4", learner=True)]
    assert ec.health_reasons(members, ["1", "2", "3"], "1") == []
    assert ec.health_reasons(members, ["1", "2"], "1", exclude_id="3") == []
    reasons = ec.health_reasons(members, ["1"], None, exclude_id="3")
    assert reasons[0] == "the cluster has no leader" and "member(s) m2 do not answer" in reasons[1]


@pytest.mark.parametrize("members, target, urls, healthy, leader, expected", [
    # (members, target, new peer URLs, healthy ids, leader, reason substrings; [] = safe)
    (THREE, 3, ["https://10.0.0.9:2380"], {1, 2, 3}, 1, []),          # 2 of 3 still reachable
    (THREE, 3, ["https://10.0.0.9:2380"], {1, 2}, 1, []),             # the dead one moved host
    (THREE, 3, ["https://10.0.0.9:2380"], {1, 3}, 1,                  # m2 down: m1 alone
     ["unhealthy: member(s) m2", "1 reachable voting member(s), fewer than the quorum of 2"]),
    (THREE, 2, ["https://10.0.0.2:2380", "https://n2:2380"], {1, 2}, 1,   # keeps its old URL
     ["unhealthy: member(s) m3"]),
    (THREE, 2, ["https://10.0.0.9:2380"], {1, 2, 3}, None, ["no leader"]),
    (THREE[:2], 2, ["https://10.0.0.9:2380"], {1, 2}, 1,              # two voters: 1 of 2
     ["changing the peer URLs of m2 before it listens on them would leave 1 reachable"]),
    (THREE[:2], 2, ["https://10.0.0.2:2380", "https://n2:2380"], {1, 2}, 1, []),
    (THREE[:1], 1, ["https://10.0.0.9:2380"], {1}, 1, []),            # a single voter
    (THREE + [member(4, "m4", learner=True)], 4, ["https://10.0.0.9:2380"], {1, 2, 3}, 1, []),
])
def test_plan_update(members, target, urls, healthy, leader, expected):
    reasons = ec.plan_update(members, "%x" % target, urls, ["%x" % h for h in healthy],
                             "%x" % leader if leader else None)
    assert len(reasons) == len(expected), reasons
    for reason, text in zip(reasons, expected):
        assert text in reason


def test_plan_update_and_removal_share_the_quorum_rule():
    assert ec.quorum_reason("removal", 2, 1) == (
        "removal would leave 1 healthy voting member(s), fewer than the quorum of 2 for a "
        "cluster of 2")
    assert ec.quorum_reason("removal", 2, 2) is None


@pytest.mark.parametrize("active, wanted, disarmed, refusal", [
    ([], ["NOSPACE"], [], None),
    ([("1", "NOSPACE")], ["NOSPACE"], ["NOSPACE"], None),
    ([("1", "NOSPACE"), ("2", "NOSPACE")], ["nospace"], ["NOSPACE"], None),
    ([("1", "CORRUPT")], ["NOSPACE"], None, "docs/disaster-recovery.md"),
    ([("1", "NOSPACE"), ("2", "CORRUPT")], ["NOSPACE"], None, "CORRUPT alarm is active"),
    ([("1", "NOSPACE"), ("2", "CORRUPT")], ["CORRUPT"], None, "add NOSPACE to alarms"),
    ([("1", "CORRUPT")], ["CORRUPT"], ["CORRUPT"], None),              # the explicit opt-in
    ([("1", "NOSPACE"), ("2", "CORRUPT")], ["NOSPACE", "CORRUPT"], ["CORRUPT", "NOSPACE"], None),
])
def test_plan_disarm_never_clears_corrupt_unasked(active, wanted, disarmed, refusal):
    alarms = [{"member_id": m, "alarm": a} for m, a in active]
    if refusal:
        with pytest.raises(ec.EtcdRefused) as info:
            ec.plan_disarm(alarms, wanted)
        text = info.value.to_result()["msg"]
        assert refusal in text and "nothing was disarmed" in text
    else:
        assert ec.plan_disarm(alarms, wanted) == disarmed


def test_compaction_target_refuses_a_revision_below_one():
    with pytest.raises(ec.EtcdConfigError, match="etcd revisions start at 1"):
        ec.compaction_target(100, 0)
    with pytest.raises(ec.EtcdRefused, match="in the future") as info:
        ec.compaction_target(100, 10 ** 9)
    assert "at most 100" in info.value.to_result()["msg"]


# --- bad input: URLs, names, checksums --------------------------------------------------------
@pytest.mark.parametrize("urls, problem, fix", [
    (["10.0.0.1:2379"], "is not a URL", "https://10.0.0.1:2379"),
    (["10.0.0.1"], "is not a URL", "https://10.0.0.1:2379"),
    (["ftp://10.0.0.1:2379"], "is not a URL", "scheme and port"),
    (["https://:2379"], "is not a URL", "https://<ip>:2379"),
    (["https://10.0.0.1"], "has no port", "https://10.0.0.1:2379"),
    (["https://10.0.0.1:x"], "invalid port", "numeric port"),
    (["https://[fd00::1]"], "has no port", "https://[fd00::1]:2379"),
    (["https://10.0.0.1:2379/v3"], "has a path", "after the port"),
    (["http://10.0.0.1:2379", "https://10.0.0.2:2379"], "mix http:// and https://", "https://"),
])
def test_url_problems_name_the_fix(urls, problem, fix):
    problems = ec.url_problems(urls, "endpoint", "2379")
    assert len(problems) == 1, problems
    assert problem in problems[0][0] and fix in problems[0][1]


@pytest.mark.parametrize("urls", [["https://10.0.0.1:2379"], ["http://127.0.0.1:2379/"],
                                  ["https://[fd00::1]:2379", "https://etcd-1:2379"]])
def test_url_problems_accept_urls(urls):
    assert ec.url_problems(urls, "endpoint", "2379") == []


@pytest.mark.parametrize("name, problem", [
    (None, "name is empty"), ("", "name is empty"), ("  ", "name is empty"),
    ("a,b", "contains a space"), ("a=b", "contains a space"), ("etcd 1", "contains a space")])
def test_member_name_problems(name, problem):
    problems = ec.member_name_problems(name)
    assert problems and problem in problems[0][0] and "etcd-<ip>" in problems[0][1]
    assert ec.member_name_problems("etcd-10.0.0.1") == []


def test_config_error_lists_every_problem_and_fix():
    err = ec.config_error([("a is wrong", "fix a"), ("b is wrong", "fix b")])
    assert err.to_result()["msg"] == \
        "a is wrong; b is wrong (nothing was changed). Fix: fix a; fix b"


@pytest.mark.parametrize("value, ok", [
    ("a" * 64, True), ("A" * 64, True), (" sha256:" + "b" * 64 + "\n", True),
    ("a" * 63, False), ("a" * 65, False), ("g" * 64, False), ("a" * 40, False)])
def test_normalize_checksum(value, ok):
    if ok:
        assert ec.normalize_checksum(value) == value.strip().lower().replace("sha256:", "")
    else:
        with pytest.raises(ec.EtcdConfigError, match="64 hex digits"):
            ec.normalize_checksum(value)


def test_snapshot_integrity_of_a_directory_says_so(tmp_path):
    with pytest.raises(ec.EtcdConfigError, match="is a directory") as info:
        ec.snapshot_integrity(str(tmp_path))
    assert "snapshot.db" in info.value.hint


# --- secrets (issue 8, defect 8) ----------------------------------------------------------------
@pytest.mark.parametrize("user, password, expected", [
    (None, None, (None, None)),
    ("root", "s3cret", ("root", "s3cret")),
    ("root:s3cret", None, ("root", "s3cret")),
    ("root:s3cret", "s3cret", ("root", "s3cret")),
    ("root:pa:ss", None, ("root", "pa:ss")),         # etcdctl splits at the first ':' too
])
def test_split_credentials(user, password, expected):
    assert ec.split_credentials(user, password) == expected


@pytest.mark.parametrize("user, password, words", [
    (None, "s3cret", "password is set but user is not"),
    ("root", None, "has no password"),
    ("root:", None, "empty password"),
    (":s3cret", None, "no name"),
    ("root:s3cret", "0th3r", "holds another one"),
])
def test_split_credentials_refusals_never_quote_the_password(user, password, words):
    with pytest.raises(ec.EtcdConfigError, match=words) as info:
        ec.split_credentials(user, password)
    text = json.dumps(info.value.to_result())
    assert "s3cret" not in text and "0th3r" not in text


def test_redact_masks_secrets_everywhere():
    value = {"msg": "pw s3cret", "cmd": ["etcdctl", "--x=s3cret"], "nested": [{"s3cret": b"s3cret"}],
             "rc": 1, "none": None}
    assert ec.redact(value, ["s3cret", ""]) == {
        "msg": "pw ********", "cmd": ["etcdctl", "--x=********"],
        "nested": [{"********": "********"}], "rc": 1, "none": None}
    assert ec.redact(value, []) is value


def test_error_result_redacts_secrets():
    err = ec.EtcdPermissionDenied("auth as root:s3cret failed", cmd=["etcdctl", "--user=root:s3cret"],
                                  rc=1, stdout="s3cret", stderr="Error: s3cret",
                                  extra={"members_before": [{"name": "s3cret"}]})
    result = err.to_result(["root:s3cret", "s3cret"])
    assert "s3cret" not in json.dumps(result)
    assert result["cmd"] == ["etcdctl", "--user=********"]
