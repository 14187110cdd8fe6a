# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_common as ec
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_client import EtcdClient
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_snapshot_ops import SnapshotOps
from ansible_collections.ezops.etcd.plugins.modules import etcd_snapshot
from etcd_fakes import make_snapshot, run_main, sha256_of

CLUSTER = "m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380"


def params(**kw):
    base = {"state": "saved", "path": None, "checksum": None, "force": False, "data_dir": None,
            "wal_dir": None, "name": None, "initial_cluster": None,
            "initial_cluster_token": "etcd-cluster-0", "initial_advertise_peer_urls": None,
            "bump_revision": 1000000000, "mark_compacted": True}
    base.update(kw)
    return base


def run(module_for, check=False, **kw):
    module = module_for(check_mode=check, **params(**kw))
    return SnapshotOps(module, EtcdClient(module), clock=lambda: 1795400000).run(), module


def tree(path):
    return sorted((os.path.relpath(os.path.join(d, f), str(path)))
                  for d, dirs, files in os.walk(str(path)) for f in files + dirs)


# --- saved -------------------------------------------------------------------------------------
def test_saved_four_ways(fake_etcd, module_for, tmp_path):
    dest = tmp_path / "backup" / "snap.db"
    dest.parent.mkdir()
    result, _m = run(module_for, check=True, path=str(dest))
    assert result["changed"] is True and tree(dest.parent) == []
    result, _m = run(module_for, path=str(dest))
    assert result["changed"] is True and result["endpoint"] == "https://10.0.0.1:2379"
    assert tree(dest.parent) == ["snap.db", "snap.db.sha256"]
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    digest = sha256_of(str(dest))
    assert (dest.parent / "snap.db.sha256").read_text() == "%s  snap.db\n" % digest
    assert result["snapshot"]["sha256"] == digest and result["snapshot"]["revision"] == 10
    save = [c for c in fake_etcd.calls if "save" in c][0]
    assert save[-1] != str(dest) and save[-1].startswith(str(dest.parent) + "/.snap.db.")
    for check in (False, True):
        again, _m = run(module_for, check=check, path=str(dest))
        assert again["changed"] is False and again["snapshot"]["sha256"] == digest
    assert len([c for c in fake_etcd.calls if "save" in c]) == 1


def test_saved_takes_the_first_endpoint_that_answers(fake_etcd, module_for, tmp_path):
    fake_etcd.down = {"https://10.0.0.1:2379"}
    result, _m = run(module_for, path=str(tmp_path / "s.db"))
    assert result["endpoint"] == "https://10.0.0.2:2379"


def test_saved_rewrites_only_a_missing_sidecar(fake_etcd, module_for, tmp_path):
    dest = make_snapshot(tmp_path / "s.db")
    result, _m = run(module_for, path=dest)
    assert result["changed"] is True and not [c for c in fake_etcd.calls if "save" in c]
    assert ec.read_checksum_file(dest + ".sha256") == sha256_of(dest)


def test_saved_refuses_to_overwrite_something_else(fake_etcd, module_for, tmp_path):
    dest = tmp_path / "s.db"
    dest.write_text("my notes")
    with pytest.raises(ec.EtcdRefused, match="not a valid snapshot") as info:
        run(module_for, path=str(dest))
    assert "force: true" in info.value.to_result()["msg"]
    assert dest.read_text() == "my notes"
    result, _m = run(module_for, path=str(dest), force=True)
    assert result["changed"] is True and ec.snapshot_integrity(str(dest))


def test_saved_needs_the_directory(fake_etcd, module_for, tmp_path):
    with pytest.raises(ec.EtcdConfigError, match="does not exist"):
        run(module_for, path=str(tmp_path / "missing" / "s.db"))


def test_failed_save_leaves_no_partial_file(fake_etcd, module_for, tmp_path):
    fake_etcd.fail["snapshot save"] = (1, "", "Error: etcdserver: permission denied\n")
    fake_etcd.members = fake_etcd.members[:1]
    with pytest.raises(ec.EtcdPermissionDenied):
        run(module_for, path=str(tmp_path / "s.db"))
    assert tree(tmp_path) == ["bin", "bin/etcdctl", "bin/etcdutl"]


# --- status ------------------------------------------------------------------------------------
def test_status_reports_and_checks_the_sidecar(fake_etcd, module_for, tmp_path):
    path = make_snapshot(tmp_path / "s.db")
    result, _m = run(module_for, state="status", path=path)
    assert result["changed"] is False and result["snapshot"]["checksum_source"] is None
    with open(path + ".sha256", "w") as handle:
        handle.write("0" * 64 + "  s.db\n")
    with pytest.raises(ec.SnapshotError, match="not 0000"):
        run(module_for, state="status", path=path)
    result, _m = run(module_for, state="status", path=path, checksum=sha256_of(path).upper())
    assert result["snapshot"]["checksum_source"] == "the checksum option"


def test_status_of_a_truncated_file_fails_before_etcdutl_runs(fake_etcd, module_for, tmp_path):
    path = make_snapshot(tmp_path / "s.db")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:5000])
    with pytest.raises(ec.SnapshotError, match="truncated"):
        run(module_for, state="status", path=path)
    assert not [c for c in fake_etcd.calls if "status" in c]  # etcdutl 3.5 crashes on those


# --- restored ----------------------------------------------------------------------------------
def restore_args(tmp_path, **kw):
    args = dict(state="restored", path=make_snapshot(tmp_path / "s.db"),
                data_dir=str(tmp_path / "data"), name="m1", initial_cluster=CLUSTER,
                initial_cluster_token="tok-2")
    args.update(kw)
    return args


@pytest.mark.parametrize("version, bump, flags", [
    ("3.5.16", 1000000000, ["--bump-revision", "1000000000", "--mark-compacted"]),
    ("3.5.16", 0, []),
    ("3.4.23", 1000000000, []),
])
def test_restored_four_ways(fake_etcd, module_for, tmp_path, version, bump, flags):
    fake_etcd.version = version
    args = restore_args(tmp_path, bump_revision=bump)
    results = []
    for check in (True, False, False, True):
        result, _module = run(module_for, check=check, **args)
        results.append(result)
    assert [r["changed"] for r in results] == [True, True, False, False]
    restores = [c for c in fake_etcd.calls if "restore" in c and "--help" not in c]
    assert len(restores) == 1
    argv = restores[0]
    assert os.path.basename(argv[0]) == ("etcdutl" if version == "3.5.16" else "etcdctl")
    assert argv[argv.index("--data-dir") + 1].startswith(str(tmp_path / "data") + ".restoring-")
    assert argv[argv.index("--initial-advertise-peer-urls") + 1] == "https://10.0.0.1:2380"
    assert argv[argv.index("--initial-cluster-token") + 1] == "tok-2"
    assert [a for a in argv if a in ("--bump-revision", "--mark-compacted")] == \
        [f for f in flags if f.startswith("--")]
    assert results[1]["bump_revision"] == (int(flags[1]) if flags else 0)
    marker = json.load(open(str(tmp_path / "data" / "member" / "ezops-restore.json")))
    assert marker["name"] == "m1" and marker["snapshot_sha256"] == results[1]["snapshot"]["sha256"]
    assert tree(tmp_path).count("data/member/snap/db") == 1
    assert not [p for p in os.listdir(str(tmp_path)) if ".restoring-" in p]


def test_restored_warns_when_bump_is_unsupported(fake_etcd, module_for, tmp_path):
    fake_etcd.version = "3.4.23"
    _result, module = run(module_for, **restore_args(tmp_path))
    assert any("--bump-revision" in w for w in module.warnings)


def test_restored_refuses_a_non_empty_target_without_force(fake_etcd, module_for, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "old").write_text("keep me")
    args = restore_args(tmp_path)
    before = tree(tmp_path)
    for check in (True, False):
        with pytest.raises(ec.EtcdRefused, match="data is not empty") as info:
            run(module_for, check=check, **args)
        assert "moved aside" in info.value.to_result()["msg"]
        assert tree(tmp_path) == before
    result, _m = run(module_for, **dict(args, force=True))
    assert result["moved_aside"] == str(data) + "." + result["moved_aside"][-14:]
    assert open(os.path.join(result["moved_aside"], "old")).read() == "keep me"
    assert (data / "member" / "snap" / "db").exists()


def test_restored_with_a_separate_wal_dir(fake_etcd, module_for, tmp_path):
    wal = tmp_path / "wal"
    wal.mkdir()
    (wal / "0.wal").write_text("old wal")
    args = restore_args(tmp_path, wal_dir=str(wal), force=True)
    result, _m = run(module_for, **args)
    assert result["wal_moved_aside"] and result["moved_aside"] is None
    assert open(os.path.join(result["wal_moved_aside"], "0.wal")).read() == "old wal"
    assert wal.is_dir() and not (wal / "0.wal").exists()


def test_restored_of_another_member_is_not_the_same_restore(fake_etcd, module_for, tmp_path):
    run(module_for, **restore_args(tmp_path))
    with pytest.raises(ec.EtcdRefused):
        run(module_for, **restore_args(tmp_path, name="m2"))


def test_a_restore_etcd_has_written_to_since_is_not_the_same_restore(fake_etcd, module_for, tmp_path):
    args = restore_args(tmp_path)
    run(module_for, **args)
    marker = tmp_path / "data" / "member" / "ezops-restore.json"
    wal = tmp_path / "data" / "member" / "wal"
    wal.mkdir(parents=True, exist_ok=True)
    (wal / "0000000000000001-0000000000000001.wal").write_text("written by etcd after the restore")
    later = marker.stat().st_mtime + 60
    os.utime(str(wal / "0000000000000001-0000000000000001.wal"), (later, later))
    # rolling back to the same snapshot is a new restore: refused without force, done with it
    with pytest.raises(ec.EtcdRefused, match="not empty"):
        run(module_for, **args)
    result, _m = run(module_for, **dict(args, force=True))
    assert result["changed"] is True and result["moved_aside"]
    assert os.path.exists(os.path.join(result["moved_aside"], "member", "wal", "0000000000000001-0000000000000001.wal"))


def mount_points(monkeypatch, *paths):
    """Make the given directories look like mount points to the restore."""
    from ansible_collections.ezops.etcd.plugins.module_utils import etcd_snapshot_ops
    points = set(str(p) for p in paths)
    monkeypatch.setattr(etcd_snapshot_ops, "is_mount_point", lambda path, mounts=None: str(path) in points)
    from ansible_collections.ezops.etcd.plugins.module_utils import etcd_aside
    monkeypatch.setattr(etcd_aside, "is_mount_point", lambda path, mounts=None: str(path) in points)


def test_restored_into_a_mount_point_whose_data_was_moved_aside_inside_it(fake_etcd, module_for, tmp_path,
                                                                          monkeypatch):
    data = tmp_path / "data"
    (data / ".ezops-aside-20261201000000" / "member").mkdir(parents=True)
    (data / ".ezops-aside-20261201000000" / "member" / "old").write_text("keep me")
    (data / "lost+found").mkdir()
    (data / ".ezops-restoring-20261130000000").mkdir()   # left by a restore that was cut off
    mount_points(monkeypatch, data)
    args = restore_args(tmp_path)
    result, _m = run(module_for, **args)
    assert result["changed"] is True and result["moved_aside"] is None
    restores = [c for c in fake_etcd.calls if "restore" in c and "--help" not in c]
    assert restores[0][restores[0].index("--data-dir") + 1].startswith(str(data / ".ezops-restoring-"))
    assert sorted(os.listdir(str(data))) == [".ezops-aside-20261201000000", "lost+found", "member"]
    assert (data / "member" / "snap" / "db").exists()
    assert (data / ".ezops-aside-20261201000000" / "member" / "old").read_text() == "keep me"
    again, _m = run(module_for, **args)
    assert again["changed"] is False


def test_restored_refuses_a_mount_point_still_holding_data_even_with_force(fake_etcd, module_for, tmp_path,
                                                                           monkeypatch):
    data = tmp_path / "data"
    (data / "member").mkdir(parents=True)
    (data / "member" / "old").write_text("keep me")
    mount_points(monkeypatch, data)
    args = restore_args(tmp_path, force=True)
    before = tree(tmp_path)
    with pytest.raises(ec.EtcdRefused, match="mount point") as info:
        run(module_for, **args)
    assert "etcd_move_aside" in info.value.to_result()["msg"]
    assert tree(tmp_path) == before


def test_failed_restore_changes_nothing(fake_etcd, module_for, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "old").write_text("keep me")
    calls = {"n": 0}
    original = fake_etcd.cmd_snapshot_restore

    def failing(words, flags, endpoints, argv):
        if "--help" in argv:
            return original(words, flags, endpoints, argv)
        calls["n"] += 1
        os.makedirs(argv[argv.index("--data-dir") + 1])   # etcdutl may leave a partial dir
        return 1, "", "Error: expected sha256 [0 0], got [1 2]\n"

    fake_etcd.cmd_snapshot_restore = failing
    with pytest.raises(ec.SnapshotError, match="expected sha256"):
        run(module_for, force=True, **restore_args(tmp_path))
    assert calls["n"] == 1
    assert sorted(os.listdir(str(tmp_path))) == ["bin", "data", "s.db"]
    assert (data / "old").read_text() == "keep me"


@pytest.mark.parametrize("kw, words", [
    ({"name": "m9"}, "not in initial_cluster"),
    ({"initial_advertise_peer_urls": ["https://other:2380"]}, "differ from the URLs"),
    ({"wal_dir": "DATA/wal"}, "inside data_dir"),
    ({"mark_compacted": False}, "mark_compacted must be true"),
    ({"bump_revision": -1}, "must not be negative"),
    ({"initial_cluster": "https://x:2380"}, "NAME=PEER_URL"),
])
def test_restored_validates_its_options(fake_etcd, module_for, tmp_path, kw, words):
    if kw.get("wal_dir"):
        kw["wal_dir"] = str(tmp_path / "data" / "wal")
    with pytest.raises(ec.EtcdConfigError, match=words):
        run(module_for, **restore_args(tmp_path, **kw))


def test_main_requires_restore_options(fake_etcd, module_for, tmp_path):
    conn = module_for().params
    result, failed = run_main(etcd_snapshot.main, dict(conn, state="restored",
                                                       path=str(tmp_path / "s.db")))
    assert failed and "data_dir" in result["msg"]
    path = make_snapshot(tmp_path / "s.db")
    result, failed = run_main(etcd_snapshot.main, dict(conn, state="status", dest=path))
    assert not failed and result["snapshot"]["path"] == path
