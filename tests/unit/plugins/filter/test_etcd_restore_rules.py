"""The restore's rules: every refusal before anything stops, the lock, the snapshot's origin and
version, resuming with the same token, and the way back after a failure."""

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.filter import etcd_restore_rules as rules

SHA = "5b44edb921ffe582f23100b4eb54d5f56fd369361efdc248c955bd59e149fc79"
MEMBERS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
PEERS = ["https://%s:2380" % ip for ip in MEMBERS]
INITIAL = ",".join("etcd-%s=https://%s:2380" % (ip, ip) for ip in MEMBERS)
IDENTITY = {"operation": "restore", "snapshot": "snapshot.db", "backup_dir": "/etc/kubeasz/clusters/k8s/backup",
            "members": MEMBERS}
LIVE = {"endpoints": [{"endpoint": "https://10.0.0.1:2379"}], "healthy": True, "cluster_id": "cdf818194e3a8c32",
        "revision": 42, "members": [{"id": "1", "name": "etcd-%s" % ip, "peer_urls": ["https://%s:2380" % ip]}
                                    for ip in MEMBERS]}
DOWN = {"endpoints": [], "healthy": False, "members": []}


def facts(**override):
    base = {
        "group": "etcd", "members": MEMBERS, "db": "snapshot.db", "backup_dir": IDENTITY["backup_dir"],
        "available": ["snapshot.db", "snapshot_202611221830.db"], "stop_after": "", "bump_revision": 1000000000,
        "data_dir": "/var/lib/etcd", "wal_dir": "", "stage_dir": "/var/tmp",
        "protected_dirs": {"bin_dir": "/opt/kube/bin", "ca_dir": "/etc/kubernetes/ssl"}, "bin_dir": "/opt/kube/bin",
        "files": {"plain": True, "age": False, "sha256": True, "json": True, "lock": False, "etcdctl": True},
        "lock_path": "/etc/kubeasz/clusters/k8s/.ezops-etcd.lock", "lock_text": None, "lock_identity": IDENTITY,
        "plain": IDENTITY["backup_dir"] + "/snapshot.db", "encrypted": False, "expected_sha256": SHA, "known_sha256": SHA,
        "require_checksum": True, "identity_file": "",
        "hosts": dict((ip, {"missing": [], "stage_parent": True, "version": "etcd Version: 3.5.16\nGit SHA: x\n",
                            "marker": ""}) for ip in MEMBERS),
        "live": LIVE, "inventory_peer_urls": PEERS, "initial_cluster": INITIAL,
        "meta": {"cluster_id": "cdf818194e3a8c32", "etcd_version": "3.5.16", "members": LIVE["members"]},
        "record": {}, "allow_unknown_members": False, "allow_foreign_cluster": False, "allow_newer_version": False,
        "keep_aside": None,
    }
    base.update(override)
    return base


def codes(result):
    return [r["code"] for r in result["refusals"]]


def test_a_good_restore_is_not_refused():
    result = rules.preflight(facts())
    assert result["refusals"] == [] and result["refusal"] == {}
    assert result["lock_state"] == "free" and result["origin"] == "same"
    assert result["skip"] is False


def test_the_refusal_carries_the_first_code_and_every_message_once():
    result = rules.preflight(facts(db="../x.db", data_dir="/var/lib"))
    assert result["refusal"]["code"] == "restore_db_name"
    assert "data_dir_system" in codes(result)
    assert result["refusal"]["msg"].count("Nothing was changed on any host.") == 1
    assert result["refusal"]["msg"].endswith("Nothing was changed on any host.")


@pytest.mark.parametrize("db", ["../backup/snapshot.db", "/etc/passwd", "", ".", "..", ".snapshot_x.db.partial"])
def test_a_path_or_hidden_name_is_not_a_snapshot_name(db):
    result = rules.preflight(facts(db=db))
    assert "restore_db_name" in codes(result)
    assert "-e db_to_restore=" in result["refusal"]["msg"]


def test_missing_snapshot_lists_those_there():
    result = rules.preflight(facts(db="snapshot_209901010000.db", files=dict(facts()["files"], plain=False)))
    assert codes(result) == ["restore_missing_snapshot"]
    assert "snapshot_202611221830.db" in result["refusal"]["msg"]


def test_no_checksum_is_refused_unless_allowed():
    assert codes(rules.preflight(facts(expected_sha256=""))) == ["restore_no_checksum"]
    assert codes(rules.preflight(facts(expected_sha256="", require_checksum=False))) == []


def test_encrypted_needs_an_identity_that_exists():
    enc = dict(facts()["files"], plain=False, age=True)
    assert codes(rules.preflight(facts(files=enc, encrypted=True))) == ["restore_no_identity"]
    assert codes(rules.preflight(facts(files=enc, encrypted=True, identity_file="/root/k"))) == ["restore_no_identity"]
    ok = rules.preflight(facts(files=dict(enc, identity=True), encrypted=True, identity_file="/root/k"))
    assert codes(ok) == []


@pytest.mark.parametrize("data_dir, wal_dir, code", [
    ("/var/lib", "", "data_dir_system"),
    ("/", "", "data_dir_system"),
    ("var/lib/etcd", "", "data_dir_relative"),
    ("/opt/kube", "", "data_dir_overlaps"),
    ("/var/lib/etcd", "/var/lib/etcd", "wal_dir_is_data_dir"),
    ("/var/lib/etcd", "/var/lib/etcd/wal", "wal_dir_overlaps"),
    ("/var/lib/etcd/data", "/var/lib/etcd", "wal_dir_overlaps"),
    ("/var/lib/etcd", "/var", "wal_dir_system"),
])
def test_data_and_wal_dirs_must_be_dedicated(data_dir, wal_dir, code):
    assert code in codes(rules.preflight(facts(data_dir=data_dir, wal_dir=wal_dir)))


@pytest.mark.parametrize("stage_dir", ["var/tmp", "/", "/var/lib/etcd", "/var/lib/etcd/stage", "/var/tmp/../lib"])
def test_stage_dir_is_absolute_and_outside_the_moved_dirs(stage_dir):
    result = rules.preflight(facts(stage_dir=stage_dir))
    assert "restore_stage_dir" in codes(result)


@pytest.mark.parametrize("stage_dir", ["/tmp", "/var/tmp", "/var/tmp/ezops-etcd-restore", "/var/lib"])
def test_a_shared_parent_such_as_tmp_is_fine_the_run_works_in_its_own_subdirectory(stage_dir):
    assert codes(rules.preflight(facts(stage_dir=stage_dir))) == []


def test_stage_dir_missing_on_a_member():
    hosts = facts()["hosts"]
    hosts["10.0.0.2"] = dict(hosts["10.0.0.2"], stage_parent=False)
    result = rules.preflight(facts(hosts=hosts))
    assert codes(result) == ["restore_stage_dir"] and "10.0.0.2" in result["refusal"]["msg"]


def test_settings():
    assert codes(rules.preflight(facts(stop_after="bogus"))) == ["restore_settings"]
    assert codes(rules.preflight(facts(bump_revision=-1))) == ["restore_settings"]
    assert codes(rules.preflight(facts(stop_after="staged"))) == []
    assert codes(rules.preflight(facts(members=[], hosts={}))) == ["restore_no_members"]


def test_a_member_without_etcd_or_with_a_broken_binary():
    hosts = facts()["hosts"]
    hosts["10.0.0.3"] = dict(hosts["10.0.0.3"], missing=["/etc/systemd/system/etcd.service"])
    hosts["10.0.0.2"] = dict(hosts["10.0.0.2"], version="")
    result = rules.preflight(facts(hosts=hosts))
    assert codes(result) == ["restore_not_installed"]
    assert "10.0.0.2" in result["refusal"]["msg"] and "10.0.0.3" in result["refusal"]["msg"]


def test_members_the_inventory_does_not_list():
    live = dict(LIVE, members=LIVE["members"] + [{"id": "9", "name": "etcd-10.0.0.9", "peer_urls": ["https://10.0.0.9:2380"]}])
    assert codes(rules.preflight(facts(live=live))) == ["restore_unknown_members"]
    assert codes(rules.preflight(facts(live=live, allow_unknown_members=True))) == []


# --- the lock ---------------------------------------------------------------------------------------
def lock(**holder):
    return json.dumps(dict(IDENTITY, run_id="20261122183000-1", started="2026-11-22T18:30:00Z", user="root",
                           controller="ctl", **holder))


def test_a_lock_held_by_another_operation_is_refused_with_the_command_to_clear_it():
    text = json.dumps({"operation": "backup", "run_id": "r1", "user": "bob", "controller": "ctl1"})
    result = rules.preflight(facts(files=dict(facts()["files"], lock=True), lock_text=text))
    assert codes(result) == ["restore_locked"] and result["lock_state"] == "held"
    assert "rm /etc/kubeasz/clusters/k8s/.ezops-etcd.lock" in result["refusal"]["msg"]
    assert "ctl1" in result["refusal"]["msg"]


@pytest.mark.parametrize("change", [{"snapshot": "other.db"}, {"members": MEMBERS[:2]}, {"operation": "deploy"}])
def test_a_lock_of_another_restore_is_held(change):
    text = json.dumps(dict(json.loads(lock()), **change))
    assert rules.preflight(facts(files=dict(facts()["files"], lock=True), lock_text=text))["lock_state"] == "held"


def test_the_same_restore_takes_over_its_own_lock_after_a_kill():
    result = rules.preflight(facts(files=dict(facts()["files"], lock=True), lock_text=lock(decrypt_dir="/tmp/x")))
    assert codes(result) == [] and result["lock_state"] == "ours"
    assert result["lock_holder"]["decrypt_dir"] == "/tmp/x"
    assert any("Taking over the lock" in note for note in result["notes"])


@pytest.mark.parametrize("text", ["", "{not json", "[1]"])
def test_an_unreadable_lock_is_held(text):
    result = rules.preflight(facts(files=dict(facts()["files"], lock=True), lock_text=text))
    assert codes(result) == ["restore_locked"]
    assert "rm /etc/kubeasz" in result["refusal"]["msg"]


def test_the_lock_taken_by_another_run_in_between():
    refusal = rules.content_refusal({"lock_result": {"rc": 2, "stderr": "cannot create: File exists"},
                                     "lock_path": "/c/.ezops-etcd.lock"})
    assert refusal["code"] == "restore_locked"
    assert rules.content_refusal({"lock_result": {"skipped": True}, "sha256": SHA, "expected_sha256": SHA}) == {}


# --- the snapshot's origin and version --------------------------------------------------------------
def test_a_snapshot_of_another_cluster_is_refused_unless_told_to():
    meta = dict(facts()["meta"], cluster_id="deadbeef00000001")
    result = rules.preflight(facts(meta=meta))
    assert codes(result) == ["restore_foreign_cluster"]
    assert "etcd_restore_allow_foreign_cluster=true" in result["refusal"]["msg"]
    allowed = rules.preflight(facts(meta=meta, allow_foreign_cluster=True))
    assert codes(allowed) == [] and any("another cluster" in n for n in allowed["notes"])


def test_a_snapshot_from_before_a_restore_is_still_this_clusters():
    # a restore with a fresh token changed the ID: the record keeps the lineage
    live = dict(LIVE, cluster_id="1111111111111111")
    record = {"cluster_id": "1111111111111111", "cluster_ids": ["cdf818194e3a8c32", "1111111111111111"]}
    assert codes(rules.preflight(facts(live=live, record=record))) == []
    assert codes(rules.preflight(facts(live=live))) == ["restore_foreign_cluster"]


def test_a_killed_restore_remembers_the_id_before_it_in_its_lock():
    live = dict(LIVE, cluster_id="2222222222222222")
    text = lock(cluster_id_before="cdf818194e3a8c32")
    result = rules.preflight(facts(live=live, files=dict(facts()["files"], lock=True), lock_text=text))
    assert codes(result) == []


def test_a_cluster_that_does_not_answer_is_compared_by_its_members_peer_urls():
    assert codes(rules.preflight(facts(live=DOWN))) == []
    meta = {"cluster_id": "x", "etcd_version": "3.5.16",
            "members": [{"peer_urls": ["https://192.168.9.1:2380"]}]}
    assert codes(rules.preflight(facts(live=DOWN, meta=meta))) == ["restore_foreign_cluster"]


def test_no_metadata_cannot_be_checked_and_says_so():
    result = rules.preflight(facts(meta={}))
    assert codes(result) == []
    assert any("could not be checked" in n for n in result["notes"])
    assert any("version of the snapshot could not be compared" in n for n in result["notes"])


def test_a_snapshot_of_a_newer_minor_etcd_is_refused_unless_told_to():
    meta = dict(facts()["meta"], etcd_version="3.6.0")
    result = rules.preflight(facts(meta=meta))
    assert codes(result) == ["restore_newer_version"]
    assert "etcd_restore_allow_newer_version=true" in result["refusal"]["msg"]
    assert codes(rules.preflight(facts(meta=meta, allow_newer_version=True))) == []


def test_the_oldest_member_decides():
    hosts = facts()["hosts"]
    hosts["10.0.0.3"] = dict(hosts["10.0.0.3"], version="etcd Version: 3.4.23\n")
    assert codes(rules.preflight(facts(hosts=hosts))) == ["restore_newer_version"]


def test_a_newer_patch_or_an_older_snapshot_is_fine():
    newer_patch = rules.preflight(facts(meta=dict(facts()["meta"], etcd_version="3.5.30")))
    assert codes(newer_patch) == [] and any("newer patch" in n for n in newer_patch["notes"])
    assert codes(rules.preflight(facts(meta=dict(facts()["meta"], etcd_version="3.4.23")))) == []


# --- what the snapshot holds ------------------------------------------------------------------------
def test_content_checksum_mismatch_and_invalid_snapshot():
    base = {"db": "x.db", "expected_sha256": SHA}
    assert rules.content_refusal(dict(base, sha256="0" * 64))["code"] == "restore_checksum_mismatch"
    assert "ezctl backup" not in rules.content_refusal(dict(base, sha256="0" * 64))["msg"]
    # kubeasz's ezctl backup overwrites snapshot.db with cp -f: the refusal says so
    overwritten = rules.content_refusal(dict(base, db="snapshot.db", sha256="0" * 64))
    assert overwritten["code"] == "restore_checksum_mismatch" and "`ezctl backup` copies" in overwritten["msg"]
    bad = rules.content_refusal(dict(base, sha256=SHA, status_result={"failed": True, "msg": "snapshot x is truncated."}))
    assert bad["code"] == "restore_invalid_snapshot" and "truncated. Choose another" in bad["msg"]
    assert rules.content_refusal(dict(base, sha256=SHA, status_result={"snapshot": {"revision": 3}})) == {}
    assert rules.content_refusal(dict(base, sha256=SHA, status_result={"skipped": True})) == {}


def test_content_decrypt_failure():
    refusal = rules.content_refusal({"decrypt_result": {"rc": 1, "stderr": "age: error: no identity matched"},
                                     "identity_file": "/root/k", "plain": "/b/x.db"})
    assert refusal["code"] == "restore_decrypt_failed" and "no identity matched" in refusal["msg"]


# --- the same snapshot again --------------------------------------------------------------------------
def test_the_same_restore_again_with_nothing_written_since_is_skipped():
    record = {"sha256": SHA, "cluster_id": LIVE["cluster_id"], "revision": 42, "initial_cluster": INITIAL}
    hosts = dict((ip, dict(facts()["hosts"][ip], marker='{"snapshot_sha256": "%s"}' % SHA)) for ip in MEMBERS)
    assert rules.preflight(facts(record=record, hosts=hosts))["skip"] is True
    assert rules.preflight(facts(record=dict(record, revision=43), hosts=hosts))["skip"] is False
    assert rules.preflight(facts(record=record))["skip"] is False  # no marker on the members
    assert rules.preflight(facts(record=record, hosts=hosts, live=dict(LIVE, healthy=False)))["skip"] is False


def test_keep_aside_is_ignored_with_a_note_pointing_to_the_prune_playbook():
    result = rules.preflight(facts(keep_aside=3))
    assert codes(result) == []
    assert any("playbooks/prune-aside.yml" in n and "ignored" in n for n in result["notes"])
    assert not any("prune" in n for n in rules.preflight(facts(keep_aside=None))["notes"])


def test_preflight_wants_a_dict():
    with pytest.raises(AnsibleFilterError):
        rules.preflight(None)


# --- resuming: the token ------------------------------------------------------------------------------
WANTED = {"sha256": SHA, "initial_cluster": INITIAL}


def marker(token="etcd-restore-20261122183000", restored_at="20261122183010", sha=SHA, name="etcd-10.0.0.1"):
    return {"snapshot_sha256": sha, "name": name, "initial_cluster": INITIAL, "initial_cluster_token": token,
            "restored_at": restored_at}


def host(ip, mark=None, newer_files=False):
    return {"name": "etcd-%s" % ip, "marker": mark, "marker_mtime": 100.0, "newest_mtime": 200.0 if newer_files else 100.0}


def test_a_fresh_token_per_restore():
    result = rules.resume(dict((ip, host(ip)) for ip in MEMBERS), WANTED, "etcd-restore-20261203000000")
    assert result == {"token": "etcd-restore-20261203000000", "pristine": []}


def test_a_resumed_restore_keeps_the_token_of_the_members_already_restored():
    hosts = {"10.0.0.1": host("10.0.0.1", marker()), "10.0.0.2": host("10.0.0.2"), "10.0.0.3": host("10.0.0.3")}
    result = rules.resume(hosts, WANTED, "etcd-restore-20261203000000")
    assert result == {"token": "etcd-restore-20261122183000", "pristine": ["10.0.0.1"]}


def test_a_member_etcd_already_ran_on_is_restored_again():
    hosts = {"10.0.0.1": host("10.0.0.1", marker(), newer_files=True), "10.0.0.2": host("10.0.0.2")}
    assert rules.resume(hosts, WANTED, "fresh") == {"token": "fresh", "pristine": []}


@pytest.mark.parametrize("mark", [marker(sha="0" * 64), marker(name="etcd-10.0.0.9"),
                                  dict(marker(), initial_cluster="etcd-10.0.0.1=https://10.0.0.1:2380")])
def test_another_restore_is_not_kept(mark):
    assert rules.resume({"10.0.0.1": host("10.0.0.1", mark)}, WANTED, "fresh")["pristine"] == []


def test_two_interrupted_runs_the_newest_token_wins_and_the_other_member_is_redone():
    hosts = {"10.0.0.1": host("10.0.0.1", marker("t-old", "20261122183010")),
             "10.0.0.2": host("10.0.0.2", marker("t-new", "20261122190010", name="etcd-10.0.0.2"))}
    assert rules.resume(hosts, WANTED, "fresh") == {"token": "t-new", "pristine": ["10.0.0.2"]}


def test_an_explicit_token_wins():
    hosts = {"10.0.0.1": host("10.0.0.1", marker("t-old"))}
    assert rules.resume(hosts, WANTED, "fresh", "mine") == {"token": "mine", "pristine": []}
    assert rules.resume(hosts, WANTED, "fresh", "t-old") == {"token": "t-old", "pristine": ["10.0.0.1"]}


# --- the way back ---------------------------------------------------------------------------------------
def test_rollback_names_every_directory_to_move_back_and_the_stopped_control_plane():
    lines = rules.rollback({
        "db": "snapshot.db", "stamp": "20261122183000", "inventory": "/etc/kubeasz/clusters/k8s/hosts", "group": "etcd",
        "dirs": ["/var/lib/etcd", "/data/wal"],
        "members": {"10.0.0.1": [{"from": "/var/lib/etcd", "to": "/var/lib/etcd.20261122183000"},
                                 {"from": "/data/wal", "to": "/data/wal.20261122183000"}],
                    "10.0.0.2": []},
        "control_plane": {"10.0.0.5": ["kube-apiserver", "kubelet"], "10.0.0.6": []},
        "control_plane_hosts": ["10.0.0.5", "10.0.0.6"], "services": ["kube-apiserver"],
    })
    text = "\n".join(lines)
    assert "run the same ansible-playbook command again" in text
    assert ("10.0.0.1: systemctl stop etcd && { [ ! -e /var/lib/etcd ] || mv /var/lib/etcd "
            "/var/lib/etcd.failed-20261122183000; } && mv /var/lib/etcd.20261122183000 /var/lib/etcd") in text
    assert "mv /data/wal.20261122183000 /data/wal" in text
    assert "10.0.0.2: this run moved nothing aside" in text and "ls -d /var/lib/etcd.* /data/wal.*" in text
    assert "control plane is still stopped" in text and "on 10.0.0.5: systemctl start kube-apiserver kubelet" in text
    assert "10.0.0.6" not in text.split("still stopped")[1]


def test_rollback_without_control_plane_says_nothing_about_it():
    text = "\n".join(rules.rollback({"members": {"10.0.0.1": []}, "dirs": ["/var/lib/etcd"]}))
    assert "Kubernetes" not in text.split("\n", 2)[2]


def test_rollback_of_a_mount_point_puts_its_old_contents_back_when_run(tmp_path):
    import os
    import subprocess
    data = tmp_path / "etcd"
    aside = data / ".ezops-aside-20261122183000"
    (aside / "member").mkdir(parents=True)
    (aside / "member" / "old").write_text("before the restore")
    (aside / ".hidden").write_text("hidden too")
    (data / "member").mkdir()
    (data / "member" / "new").write_text("the failed restore")
    (data / "lost+found").mkdir()
    (data / ".ezops-aside-20261101000000").mkdir()   # an earlier aside stays where it is
    lines = rules.rollback({"stamp": "20261122183000", "dirs": [str(data)],
                            "members": {"10.0.0.1": [{"from": str(data), "to": str(aside), "how": "contents moved"}]}})
    command = [line for line in lines if line.startswith("  10.0.0.1: ")][0].split(": ", 1)[1]
    assert command.startswith("systemctl stop etcd && ")
    subprocess.run(["bash", "-ec", command.replace("systemctl stop etcd && ", "", 1)], check=True)
    assert (data / "member" / "old").read_text() == "before the restore"
    assert (data / ".hidden").read_text() == "hidden too"
    assert (data / ".ezops-failed-20261122183000" / "member" / "new").read_text() == "the failed restore"
    assert sorted(os.listdir(str(data))) == [".ezops-aside-20261101000000", ".ezops-failed-20261122183000", ".hidden",
                                             "lost+found", "member"]
