# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""Bad inputs to the modules, table-driven (issue 8, "Hostile input"): each one fails through the
module's main(), with a message that says what is wrong and names the fix, and without a single
mutating etcdctl/etcdutl call or a changed file."""
from __future__ import annotations

import os

import pytest

from ansible_collections.ezops.etcd.plugins.modules import (
    etcd_info,
    etcd_maintenance,
    etcd_member,
    etcd_snapshot,
)
from etcd_fakes import make_snapshot, run_main

MUTATING = {("member", "add"), ("member", "update"), ("member", "remove"), ("member", "promote"),
            ("move-leader",), ("compaction",), ("defrag",), ("alarm", "disarm"),
            ("snapshot", "save"), ("snapshot", "restore"), ("put",), ("del",)}
CLUSTER = "m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380"
DOWN_M3 = {"down": {"https://10.0.0.3:2379"}}


def mutating_calls(fake):
    found = []
    for argv in fake.calls:
        words = [a for a in argv[1:] if not a.startswith("-") and a != "json"]
        if tuple(words[:2]) in MUTATING or tuple(words[:1]) in MUTATING:
            found.append(argv)
    return found


def files_under(path):
    out = {}
    for folder, dirs, files in os.walk(str(path)):
        for name in dirs + files:
            full = os.path.join(folder, name)
            stat = os.lstat(full)
            out[os.path.relpath(full, str(path))] = (stat.st_size, stat.st_mtime_ns)
    return out


def truncated(tmp):
    path = make_snapshot(tmp / "snap.db")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    return path


def empty(tmp):
    path = tmp / "snap.db"
    path.write_bytes(b"")
    return str(path)


def good(tmp):
    return make_snapshot(tmp / "snap.db")


def restore_args(tmp, snapshot, **kw):
    args = dict(state="restored", path=snapshot(tmp), data_dir=str(tmp / "data"), name="m1",
                initial_cluster=CLUSTER, force=True)
    args.update(kw)
    return args


def shrink_to_one(fake):
    del fake.members[1:]


def two_members(fake):
    del fake.members[2:]


# (id, module, args(tmp) -> dict, fake setup, error_kind, words of the problem, words of the fix)
CASES = [
    ("endpoint_without_scheme", etcd_info, lambda t: {"endpoints": ["10.0.0.1:2379"]}, None,
     "config", "is not a URL", "https://10.0.0.1:2379"),
    ("endpoint_without_port", etcd_info, lambda t: {"endpoints": ["https://10.0.0.1"]}, None,
     "config", "has no port", "https://10.0.0.1:2379"),
    ("endpoint_with_a_path", etcd_member,
     lambda t: {"endpoints": ["https://10.0.0.1:2379/v3"], "name": "m1", "state": "absent"},
     None, "config", "has a path", "end it after the port"),
    ("endpoints_mixing_http_and_https", etcd_maintenance,
     lambda t: {"endpoints": ["http://10.0.0.1:2379", "https://10.0.0.2:2379"],
                "action": "defrag"}, None, "config", "mix http:// and https://",
     "https:// for every one"),
    ("http_endpoint_with_tls_files", etcd_maintenance,
     lambda t: {"endpoints": ["http://10.0.0.1:2379"], "cacert": "/etc/etcd/ca.pem",
                "action": "compact"}, None, "config", "plain http://",
     "use https:// endpoints"),
    ("user_without_password", etcd_info, lambda t: {"user": "root"}, None,
     "config", "has no password", "set password"),
    ("password_without_user", etcd_info, lambda t: {"password": "s3cret"}, None,
     "config", "password is set but user is not", "set user"),
    ("member_with_an_empty_name", etcd_member,
     lambda t: {"name": "", "peer_urls": ["https://10.0.0.4:2380"]}, None,
     "config", "name is empty", "etcd-<ip>"),
    ("member_name_with_a_comma", etcd_member,
     lambda t: {"name": "etcd-a,etcd-b", "peer_urls": ["https://10.0.0.4:2380"]}, None,
     "config", "contains a space, ',' or '='", "etcd-<ip>"),
    ("peer_url_without_port", etcd_member,
     lambda t: {"name": "m4", "peer_urls": ["https://10.0.0.4"]}, None,
     "config", "has no port", "https://10.0.0.4:2380"),
    ("peer_url_that_is_an_address", etcd_member,
     lambda t: {"name": "m4", "peer_urls": ["10.0.0.4"]}, None,
     "config", "is not a URL", "https://10.0.0.4:2380"),
    ("absent_selector_url_without_port", etcd_member,
     lambda t: {"peer_urls": ["https://10.0.0.2"], "state": "absent"}, None,
     "config", "has no port", "https://10.0.0.2:2380"),
    ("absent_of_the_last_voter", etcd_member,
     lambda t: {"name": "m1", "state": "absent", "force": True}, shrink_to_one,
     "refused", "last voting member", "stop it instead"),
    ("removal_breaking_quorum", etcd_member, lambda t: {"name": "m2", "state": "absent"},
     DOWN_M3, "refused", "fewer than the quorum of 2", "force: true"),
    ("peer_url_update_with_a_member_down", etcd_member,
     lambda t: {"name": "m2", "peer_urls": ["https://10.0.0.9:2380"]}, DOWN_M3,
     "refused", "member(s) m3 do not answer", "force: true"),
    ("peer_url_update_breaking_quorum", etcd_member,
     lambda t: {"name": "m2", "peer_urls": ["https://10.0.0.9:2380"]}, two_members,
     "refused", "fewer than the quorum of 2", "keep the old peer URLs"),
    ("promote_of_an_unknown_member", etcd_member,
     lambda t: {"name": "m9", "state": "promoted"}, None,
     "member_not_found", "no member matches name=m9", "add it first"),
    ("snapshot_save_to_a_directory", etcd_snapshot, lambda t: {"state": "saved", "path": str(t)},
     None, "config", "is a directory", "snapshot.db"),
    ("snapshot_status_of_a_directory", etcd_snapshot,
     lambda t: {"state": "status", "path": str(t)}, None, "config", "is a directory",
     "snapshot.db"),
    ("restore_of_an_empty_snapshot", etcd_snapshot, lambda t: restore_args(t, empty), None,
     "snapshot_invalid", "is truncated or not an etcd snapshot", "use another backup"),
    ("restore_of_a_truncated_snapshot", etcd_snapshot, lambda t: restore_args(t, truncated),
     None, "snapshot_invalid", "is truncated", "use another backup"),
    ("checksum_of_the_wrong_length", etcd_snapshot,
     lambda t: restore_args(t, good, checksum="abc123"), None,
     "config", "64 hex digits, got 6", "sha256sum"),
    ("checksum_that_does_not_match", etcd_snapshot,
     lambda t: restore_args(t, good, checksum="0" * 64), None,
     "snapshot_invalid", "not " + "0" * 64, "use another backup"),
    ("restore_member_not_in_initial_cluster", etcd_snapshot,
     lambda t: restore_args(t, good, name="m9"), None,
     "config", "member m9 is not in initial_cluster", "this one included"),
    ("restore_wal_dir_inside_data_dir", etcd_snapshot,
     lambda t: restore_args(t, good, wal_dir=str(t / "data" / "wal")), None,
     "config", "is inside data_dir", "outside data_dir"),
    ("compaction_revision_in_the_future", etcd_maintenance,
     lambda t: {"action": "compact", "revision": 1000}, None,
     "refused", "revision 1000 is in the future", "at most 10"),
    ("compaction_revision_below_one", etcd_maintenance,
     lambda t: {"action": "compact", "revision": -5}, None,
     "config", "etcd revisions start at 1", "omit revision"),
    ("defrag_with_a_member_down", etcd_maintenance,
     lambda t: {"action": "defrag", "endpoints": ["https://10.0.0.1:2379"]}, DOWN_M3,
     "refused", "member(s) m3 do not answer", "force: true"),
    ("disarm_of_a_corrupt_alarm", etcd_maintenance, lambda t: {"action": "disarm"},
     {"alarms": [(1, 1), (2, 2)]}, "refused", "CORRUPT alarm is active",
     "docs/disaster-recovery.md"),
    ("disarm_with_a_member_down", etcd_maintenance, lambda t: {"action": "disarm"},
     dict(DOWN_M3, alarms=[1]), "refused", "member(s) m3 do not answer", "force: true"),
]


@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_naming_the_fix_and_changes_nothing(fake_etcd, module_for, tmp_path,
                                                            case, check_mode):
    _id, module, make_args, setup, kind, problem, fix = case
    work = tmp_path / "work"
    work.mkdir()
    if callable(setup):
        setup(fake_etcd)
    elif setup:
        for attr, value in setup.items():
            setattr(fake_etcd, attr, value)
    args = dict(module_for().params, **make_args(work))
    before_files = files_under(work)
    before_members = [dict(m) for m in fake_etcd.members]
    before_alarms = list(fake_etcd.alarms)

    result, failed = run_main(module.main, args, check_mode=check_mode)

    assert failed, result
    assert result["error_kind"] == kind, result["msg"]
    problem_part, _sep, fix_part = result["msg"].partition(". Fix: ")
    assert problem in problem_part, result["msg"]
    assert fix in fix_part, result["msg"]
    assert not mutating_calls(fake_etcd)
    assert files_under(work) == before_files
    assert fake_etcd.members == before_members and fake_etcd.alarms == before_alarms


def test_the_table_is_wide_enough():
    assert len(set(c[0] for c in CASES)) >= 12


def test_promote_of_a_voter_is_a_no_op_not_a_change(fake_etcd, module_for):
    """A voter is already what state=promoted asks for: nothing to refuse, nothing to run."""
    result, failed = run_main(etcd_member.main, dict(module_for().params, name="m2",
                                                     state="promoted"))
    assert not failed and result["changed"] is False
    assert result["member"]["is_learner"] is False and not mutating_calls(fake_etcd)
