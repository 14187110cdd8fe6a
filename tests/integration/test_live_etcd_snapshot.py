# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

import base64
import hashlib
import os
import stat
import subprocess

import etcd_lab
from etcd_lab import tree_state


def _sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _offline_status(cluster, path):
    tool = cluster.bin / ("etcdutl" if (cluster.bin / "etcdutl").exists() else "etcdctl")
    proc = subprocess.run([str(tool), "-w", "json", "snapshot", "status", str(path)],
                          capture_output=True, text=True, check=True)
    return proc.stdout


def _save(cluster, run_module, path):
    result = run_module("etcd_snapshot", dict(cluster.conn(), state="saved", path=str(path)))
    assert not result.get("failed"), result.get("msg")
    return result


def test_saved_four_ways_writes_a_verified_private_file(single, run_module, tmp_path):
    single.put("/registry/secrets/default/s1", "v1")
    dest = tmp_path / "backup" / "snapshot.db"
    dest.parent.mkdir(mode=0o755)
    args = dict(single.conn(), state="saved", path=str(dest))
    results = run_module.four_ways("etcd_snapshot", args)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    digest = _sha256(dest)
    assert (tmp_path / "backup" / "snapshot.db.sha256").read_text() == "%s  snapshot.db\n" % digest
    snap = results[1]["snapshot"]
    assert snap["sha256"] == digest and results[2]["snapshot"]["sha256"] == digest
    assert '"revision":%d' % snap["revision"] in _offline_status(single, dest)
    assert snap["revision"] == single.revision()
    assert results[1]["endpoint"] == single.endpoints[0]
    leftovers = sorted(p.name for p in dest.parent.iterdir())
    assert leftovers == ["snapshot.db", "snapshot.db.sha256"]


def test_status_and_refusals_on_damaged_files(single, run_module, tmp_path):
    single.put("k", "v")
    good = tmp_path / "good.db"
    _save(single, run_module, good)
    result = run_module("etcd_snapshot", dict(single.conn(), state="status", path=str(good)))
    assert result["changed"] is False and result["snapshot"]["sha256"] == _sha256(good)
    assert result["snapshot"]["checksum_source"] == str(good) + ".sha256"

    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    flipped = tmp_path / "flipped.db"
    data = bytearray(good.read_bytes())
    data[len(data) // 3] ^= 0xFF
    flipped.write_bytes(bytes(data))
    for bad in (truncated, flipped):
        before = bad.read_bytes()
        result = run_module("etcd_snapshot", dict(single.conn(), state="status", path=str(bad)))
        assert result["failed"] is True and result["error_kind"] == "snapshot_invalid"
        assert ("truncated" in result["msg"]) == (bad == truncated)
        assert bad.read_bytes() == before

    result = run_module("etcd_snapshot", dict(single.conn(), state="status", path=str(good),
                                              checksum="0" * 64))
    assert result["failed"] is True and "sha256" in result["msg"]

    # saved over a file that is not a snapshot: refused, file untouched
    (tmp_path / "notes.db").write_text("not a snapshot")
    result = run_module("etcd_snapshot", dict(single.conn(), state="saved",
                                              path=str(tmp_path / "notes.db")))
    assert result["failed"] is True and result["error_kind"] == "refused"
    assert (tmp_path / "notes.db").read_text() == "not a snapshot"


def test_restored_four_ways_then_etcd_serves_the_data(single, run_module, tmp_path, version):
    single.put("/registry/configmaps/default/cm", "restored-value")
    snap = tmp_path / "snap.db"
    _save(single, run_module, snap)
    revision = single.revision()
    target = etcd_lab.Cluster(version, tmp_path / "restored", size=1, token="restored-1")
    member = target.members[0]
    args = dict(single.conn(), state="restored", path=str(snap), data_dir=str(member.data_dir),
                name=member.name, initial_cluster=target.initial_cluster(),
                initial_cluster_token="restored-1")
    results = run_module.four_ways("etcd_snapshot", args)
    assert results[1]["moved_aside"] is None
    assert (member.data_dir / "member" / "snap" / "db").exists()
    assert stat.S_IMODE(member.data_dir.stat().st_mode) == 0o700
    supported = etcd_lab.version_tuple(version) >= (3, 5, 10)
    assert results[1]["bump_revision"] == (1000000000 if supported else 0)
    assert results[1]["mark_compacted"] is supported
    try:
        target.start()
        value = target.get("/registry/configmaps/default/cm")[0]["value"]
        assert base64.b64decode(value) == b"restored-value"
        if supported:
            assert target.revision() > 1000000000
        else:
            assert target.revision() == revision
    finally:
        target.stop()


def test_restore_refuses_non_empty_target_and_moves_aside_with_force(single, run_module, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    single.put("k", "v")
    snap = files / "snap.db"
    _save(single, run_module, snap)
    data_dir = files / "member-data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "precious").write_text("old data")
    args = dict(single.conn(), state="restored", path=str(snap), data_dir=str(data_dir),
                name="m1", initial_cluster="m1=http://127.0.0.1:2380", bump_revision=0)
    before = tree_state(files)
    for check in (True, False):
        result = run_module("etcd_snapshot", args, check=check)
        assert result["failed"] is True and result["error_kind"] == "refused"
        assert "force" in result["msg"]
        assert tree_state(files) == before

    results = run_module.four_ways("etcd_snapshot", dict(args, force=True))
    aside = results[1]["moved_aside"]
    assert aside and aside.startswith(str(data_dir) + ".")
    assert open(os.path.join(aside, "precious")).read() == "old data"
    assert (data_dir / "member" / "snap" / "db").exists()
    assert results[2]["moved_aside"] is None  # same restore already there: nothing moved


def test_restore_of_a_truncated_snapshot_changes_nothing(single, run_module, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    single.put("k", "v")
    snap = files / "snap.db"
    _save(single, run_module, snap)
    truncated = files / "truncated.db"
    truncated.write_bytes(snap.read_bytes()[:8192])
    data_dir = files / "member-data"
    before = tree_state(files)
    for check in (True, False):
        result = run_module("etcd_snapshot", dict(
            single.conn(), state="restored", path=str(truncated), data_dir=str(data_dir),
            name="m1", initial_cluster="m1=http://127.0.0.1:2380", force=True), check=check)
        assert result["failed"] is True and result["error_kind"] == "snapshot_invalid"
        assert tree_state(files) == before
    assert not data_dir.exists()
