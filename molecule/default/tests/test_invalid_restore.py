"""95.restore.yml and prune-aside.yml refuse bad input before anything on a host changes (issue 8:
defects 2, 4, 6 and 8), with a refusal code and a message that names the fix.

The default scenario's lab has no backup: the module fixture takes one with 94.backup.yml, writes
the bad snapshots beside it, and removes all of it afterwards, so that the lab is left as found
(checked with invalid_input.lab_state). No test here restores anything: every run is refused, or
stops on purpose (etcd_restore_stop_after=staged) before anything stops.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest

from invalid_input import CLUSTER_DIR, HOSTS, PREFIX, SUBNET, assert_refused, lab_state, run

PLAYBOOK = "95.restore.yml"
BACKUP_DIR = os.path.join(CLUSTER_DIR, "backup")
LOCK = os.path.join(CLUSTER_DIR, ".ezops-etcd.lock")
MEMBERS = ["%s.%d" % (SUBNET, 10 + i) for i in (1, 2, 3)]
CONTAINERS = ["%s-%d" % (PREFIX, i) for i in (1, 2, 3)]
MEMBER_BACKUP_TMP = "/var/tmp/ezops-etcd-backup"
BAD = ("foreign.db", "newer.db", "truncated.db", "empty.db", "badsum.db", "encrypted.db.age")


def _sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _write(path, data, sidecar=True, digest=None):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as handle:
        handle.write(data)
    os.chmod(path, 0o600)
    if sidecar:
        name = os.path.basename(path)
        with open(path + ".sha256", "w") as handle:
            handle.write("%s  %s\n" % (digest or _sha256(path), name))


def _exists_on(container, path):
    return subprocess.run(["docker", "exec", container, "test", "-e", path], check=False).returncode == 0


def _backup_dir_as_the_role_names_it():
    """etcd_restore_backup_dir as the inventory spells it (cluster_dir="{{ base_dir }}/clusters/lab")."""
    with open(HOSTS) as handle:
        base_dir = re.search(r'^base_dir="?([^"\n]+)"?$', handle.read(), re.M).group(1)
    return base_dir + "/clusters/lab/backup"


@pytest.fixture(scope="module")
def snapshots():
    """A real backup of the lab and the bad snapshots beside it; all of it removed at the end."""
    initial = lab_state()
    had_backup_dir = os.path.isdir(BACKUP_DIR)
    before_files = set(os.listdir(BACKUP_DIR)) if had_backup_dir else set()
    had_member_tmp = dict((c, _exists_on(c, MEMBER_BACKUP_TMP)) for c in CONTAINERS)
    result = run("94.backup.yml")
    assert result.rc == 0, result.tail()
    latest = os.path.join(BACKUP_DIR, "snapshot.db")
    with open(latest + ".json") as handle:
        meta = json.load(handle)
    with open(latest, "rb") as handle:
        data = handle.read()
    for name, content in (("foreign.db", data), ("newer.db", data), ("badsum.db", data)):
        _write(os.path.join(BACKUP_DIR, name), content, digest="0" * 64 if name == "badsum.db" else None)
    _write(os.path.join(BACKUP_DIR, "truncated.db"), data[:len(data) // 2])
    _write(os.path.join(BACKUP_DIR, "empty.db"), b"")
    _write(os.path.join(BACKUP_DIR, "encrypted.db.age"), b"age-encryption.org/v1\n-> X25519 not a real file\n",
           sidecar=False)
    _write(os.path.join(BACKUP_DIR, "encrypted.db.sha256"), "%s  encrypted.db\n" % _sha256(latest), sidecar=False)
    foreign = dict(meta, cluster_id="deadbeef00000001",
                   members=[{"name": "etcd-10.99.0.1", "peer_urls": ["https://10.99.0.1:2380"]}])
    newer = dict(meta, etcd_version="3.99.0")
    for name, content in (("foreign.db.json", foreign), ("newer.db.json", newer)):
        _write(os.path.join(BACKUP_DIR, name), json.dumps(content), sidecar=False)
    yield {"meta": meta, "sha256": _sha256(latest)}
    if os.path.exists(LOCK):
        os.unlink(LOCK)
    if had_backup_dir:
        for name in set(os.listdir(BACKUP_DIR)) - before_files:
            path = os.path.join(BACKUP_DIR, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    else:
        shutil.rmtree(BACKUP_DIR)
    for container, had in had_member_tmp.items():
        if not had:
            subprocess.run(["docker", "exec", container, "rmdir", MEMBER_BACKUP_TMP], check=False)
    assert lab_state() == initial, "the restore tests did not leave the lab as they found it"


def refused(extra, code, fix, playbook=PLAYBOOK, args=()):
    before = lab_state()
    result = run(playbook, extra, args=args)
    assert_refused(result, code, fix, before, lab_state())
    return result


# --- the snapshot --------------------------------------------------------------------------------------
@pytest.mark.parametrize("db", ["../backup/snapshot.db", "/etc/passwd"])
def test_db_to_restore_must_be_a_file_name(snapshots, db):
    refused({"db_to_restore": db}, "restore_db_name", "-e db_to_restore=")


def test_missing_snapshot(snapshots):
    result = refused({"db_to_restore": "snapshot_209901010000.db"}, "restore_missing_snapshot", "-e db_to_restore=<name>")
    assert "snapshot.db" in result.message("restore_missing_snapshot")  # it lists what is there


@pytest.mark.parametrize("db", ["empty.db", "truncated.db"])
def test_empty_or_truncated_snapshot(snapshots, db):
    refused({"db_to_restore": db}, "restore_invalid_snapshot", "-e db_to_restore=<name>")


def test_wrong_checksum(snapshots):
    refused({"db_to_restore": "badsum.db"}, "restore_checksum_mismatch", "-e db_to_restore=<name>")


def test_encrypted_snapshot_without_identity(snapshots):
    refused({"db_to_restore": "encrypted.db"}, "restore_no_identity", "etcd_restore_age_identity_file=")


def test_snapshot_of_another_cluster(snapshots):
    result = refused({"db_to_restore": "foreign.db"}, "restore_foreign_cluster", "etcd_restore_allow_foreign_cluster=true")
    assert "deadbeef00000001" in result.message("restore_foreign_cluster")


def test_snapshot_of_a_newer_etcd(snapshots):
    result = refused({"db_to_restore": "newer.db"}, "restore_newer_version", "etcd_restore_allow_newer_version=true")
    assert "3.99.0" in result.message("restore_newer_version")


# --- paths ---------------------------------------------------------------------------------------------
def test_data_dir_that_is_a_system_directory(snapshots):
    refused({"ETCD_DATA_DIR": "/var/lib"}, "data_dir_system", "Set ETCD_DATA_DIR")


def test_wal_dir_inside_the_data_dir(snapshots):
    refused({"ETCD_WAL_DIR": "/var/lib/etcd/wal"}, "wal_dir_overlaps", "ETCD_WAL_DIR")


def test_stage_dir_inside_the_data_dir(snapshots):
    refused({"etcd_restore_stage_dir": "/var/lib/etcd/stage"}, "restore_stage_dir", "etcd_restore_stage_dir")


def test_unknown_stop_point(snapshots):
    refused({"etcd_restore_stop_after": "halfway"}, "restore_settings", "etcd_restore_stop_after")


def test_stage_dir_tmp_the_run_works_in_its_own_subdirectory_and_leaves_tmp_alone(snapshots):
    """A run that stages in /tmp and stops on purpose before anything stops: it created and removed
    /tmp/ezops-restore-<sha256 prefix> only (lab_state watches /tmp's entries and mode)."""
    before = lab_state()
    result = run(PLAYBOOK, {"etcd_restore_stage_dir": "/tmp", "etcd_restore_stop_after": "staged"})
    assert result.rc != 0 and set(result.refusals) == {"restore_stopped_as_asked"}, result.tail()
    created = [res["path"] for name, _host, res in result.results
               if name.endswith("Create this run's staging directory on each member")]
    assert sorted(created) == ["/tmp/ezops-restore-%s" % snapshots["sha256"][:16]] * 3, created
    removed = [res for name, _host, res in result.results if name.endswith("Remove this run's staging directory")]
    assert len(removed) == 3 and all(res.get("changed") for res in removed), removed
    assert lab_state() == before


# --- the lock --------------------------------------------------------------------------------------------
def test_lock_held_by_another_run(snapshots):
    with open(LOCK, "w") as handle:
        json.dump({"operation": "backup", "run_id": "20261122183000-1", "started": "2026-11-22T18:30:00Z",
                   "user": "root", "controller": "other-controller"}, handle)
    try:
        result = refused({}, "restore_locked", "rm %s" % LOCK)
        assert "other-controller" in result.message("restore_locked")
    finally:
        os.unlink(LOCK)


def test_a_killed_run_of_the_same_restore_takes_over_its_lock(snapshots):
    before = lab_state()
    with open(LOCK, "w") as handle:
        json.dump({"operation": "restore", "snapshot": "snapshot.db", "backup_dir": _backup_dir_as_the_role_names_it(),
                   "members": sorted(MEMBERS), "run_id": "20261122183000-1", "decrypt_dir": ""}, handle)
    try:
        result = run(PLAYBOOK, {"etcd_restore_stop_after": "staged"})
        assert result.rc != 0 and set(result.refusals) == {"restore_stopped_as_asked"}, result.tail()
        assert not os.path.exists(LOCK), "the run did not release the lock it took over"
        assert lab_state() == before
    finally:
        if os.path.exists(LOCK):
            os.unlink(LOCK)


# --- prune ---------------------------------------------------------------------------------------------
def test_prune_without_a_keep_count(snapshots):
    refused({}, "prune_keep_missing", "-e etcd_prune_keep=<N>", playbook="prune-aside.yml")


@pytest.mark.parametrize("keep", [-1, "three"])
def test_prune_with_a_nonsense_keep_count(snapshots, keep):
    refused({"etcd_prune_keep": keep}, "prune_keep_invalid", "-e etcd_prune_keep=3", playbook="prune-aside.yml")


def test_prune_in_check_mode_lists_and_removes_nothing(snapshots):
    before = lab_state()
    result = run("prune-aside.yml", {"etcd_prune_keep": 0}, args=("--check",))
    assert result.rc == 0, result.tail()
    reports = [res["msg"] for name, _host, res in result.results if name.endswith("Report what stays and what goes")]
    assert len(reports) == 3 and all("/var/lib/etcd: keeps" in msg and "would remove" in msg for msg in reports), reports
    assert lab_state() == before
