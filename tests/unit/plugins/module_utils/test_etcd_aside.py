# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""Moving data and WAL dirs aside: rename, a mount point's contents, copies, space, idempotence."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_aside as ea

STAMP = "20261122183000"
LATER = "20261122190000"


def runner(argv):
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


def etcd_dir(path, wal=False):
    """A data dir shaped like etcd's (member/snap/db, member/wal/*.wal), or a separate WAL dir."""
    path.mkdir(parents=True, exist_ok=True)
    if wal:
        (path / "0000000000000000-0000000000000000.wal").write_bytes(b"w" * 5000)
        return path
    (path / "member" / "snap").mkdir(parents=True)
    (path / "member" / "wal").mkdir()
    (path / "member" / "snap" / "db").write_bytes(b"d" * 20000)
    (path / "member" / "wal" / "0000000000000000-0000000000000000.wal").write_bytes(b"w" * 5000)
    path.chmod(0o700)
    return path


def listing(path):
    return sorted(os.path.relpath(os.path.join(d, n), str(path))
                  for d, dirs, files in os.walk(str(path)) for n in dirs + files)


def plan_one(path, method="move", stamp=STAMP, mounts=(), **kw):
    plans, problems = ea.plan([str(path)], stamp, method, mounts=set(mounts), **kw)
    return plans[0], problems


def apply_all(path, method="move", stamp=STAMP, mounts=(), recreate=True, **kw):
    one, problems = plan_one(path, method, stamp, mounts, **kw)
    assert problems == [], problems
    return ea.apply_dir(one, recreate, runner)


def codes(problems):
    return [p["code"] for p in problems]


# --- naming and arithmetic ---------------------------------------------------------------------
def test_targets_are_named_after_the_stamp():
    assert ea.sibling_target("/var/lib/etcd", STAMP) == "/var/lib/etcd.20261122183000"
    assert ea.inside_target("/var/lib/etcd", STAMP) == "/var/lib/etcd/.ezops-aside-20261122183000"
    assert ea.partial_of("/var/lib/etcd.20261122183000") == "/var/lib/etcd.20261122183000.partial"


@pytest.mark.parametrize("stamp", ["", "2026112218300", "202611221830001", "2026-11-22T1830", None, 20261122183000])
def test_a_stamp_must_be_14_digits(stamp, tmp_path):
    with pytest.raises(ea.AsideProblem) as err:
        ea.plan([str(tmp_path)], stamp, "move", mounts=set())
    assert err.value.code == "aside_stamp_invalid"


def test_method_none_needs_no_stamp(tmp_path):
    plans, problems = ea.plan([str(tmp_path)], None, "none", mounts=set())
    assert problems == [] and plans[0]["action"] == "none"


def test_unknown_method_and_no_path_are_refused(tmp_path):
    with pytest.raises(ea.AsideProblem) as err:
        ea.plan([str(tmp_path)], STAMP, "delete", mounts=set())
    assert err.value.code == "aside_method_invalid"
    with pytest.raises(ea.AsideProblem) as err:
        ea.plan([], STAMP, "move", mounts=set())
    assert err.value.code == "aside_path_missing"


def test_need_bytes_adds_five_percent_and_the_margin():
    assert ea.need_bytes(0, 64) == 0
    assert ea.need_bytes(None, 64) == 0
    assert ea.need_bytes(1000, 0) == 1050
    assert ea.need_bytes(20 * ea.MIB, 64) == 20 * ea.MIB + ea.MIB + 64 * ea.MIB
    assert ea.need_bytes(1000, -5) == 1050


def test_tree_size_counts_blocks_and_hard_links_once(tmp_path):
    src = tmp_path / "d"
    src.mkdir()
    (src / "a").write_bytes(b"x" * 100000)
    one = ea.tree_size(str(src))
    os.link(str(src / "a"), str(src / "b"))
    (src / "l").symlink_to("/usr")
    assert one >= 100000
    assert ea.tree_size(str(src)) - one < 8192  # the link and the symlink add no data


def test_human_sizes():
    assert ea.human(512) == "512 bytes"
    assert ea.human(4096) == "4.0 KiB"
    assert ea.human(300 * ea.MIB) == "300 MiB"


# --- mount points -------------------------------------------------------------------------------
def test_mountinfo_is_read_with_its_escapes(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text("22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
                    "40 22 8:17 / /var/lib/etcd rw - ext4 /dev/sdb1 rw\n"
                    "41 22 0:50 / /mnt/with\\040space rw - tmpfs tmpfs rw\n")
    assert ea.read_mount_points(str(info)) == {"/", "/var/lib/etcd", "/mnt/with space"}
    assert ea.read_mount_points(str(tmp_path / "missing")) == set()


def test_a_mount_point_is_found_by_mountinfo_ismount_or_device(tmp_path, monkeypatch):
    data = etcd_dir(tmp_path / "etcd")
    assert not ea.is_mount_point(str(data), set())
    assert ea.is_mount_point(str(data), {str(data)})            # a bind mount: only mountinfo knows
    monkeypatch.setattr(ea.os.path, "ismount", lambda p: p == str(data))
    assert ea.is_mount_point(str(data), set())
    monkeypatch.undo()
    real_stat = os.stat

    class Fake:
        def __init__(self, st, dev):
            self.st_dev = dev
            self.st_mode = st.st_mode

    monkeypatch.setattr(ea.os, "stat", lambda p, *a, **k: Fake(real_stat(p), 4242) if str(p) == str(data)
                        else real_stat(p, *a, **k))
    assert ea.is_mount_point(str(data), set())


# --- move: an ordinary directory ---------------------------------------------------------------
def test_move_renames_and_puts_back_an_empty_directory_like_the_old_one(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    data.chmod(0o750)
    before = listing(data)
    one, problems = plan_one(data)
    assert problems == []
    assert (one["action"], one["target"], one["mount_point"]) == ("rename", str(data) + "." + STAMP, False)
    assert one["need_bytes"] == 0  # a rename needs no space
    done = ea.apply_dir(one, True, runner)
    assert done == [{"from": str(data), "to": str(data) + "." + STAMP, "how": "renamed"}, {"created": str(data)}]
    assert listing(tmp_path / ("etcd." + STAMP)) == before
    assert os.listdir(str(data)) == []
    assert stat.S_IMODE(os.stat(str(data)).st_mode) == 0o750


def test_move_again_with_the_same_stamp_changes_nothing(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    apply_all(data)
    one, problems = plan_one(data)
    assert problems == [] and one["action"] == "none" and "already moved" in one["reason"]
    assert not ea.needs_recreate(one)
    assert ea.apply_dir(one, True, runner) == []


def test_move_without_recreate_leaves_no_directory(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    apply_all(data, recreate=False)
    assert not data.exists()
    one, problems = plan_one(data)
    assert problems == [] and one["action"] == "none" and "already moved" in one["reason"]
    assert ea.needs_recreate(one)              # a later run with recreate puts it back
    assert ea.apply_dir(one, True, runner) == [{"created": str(data)}]
    assert data.is_dir()


def test_an_existing_target_is_never_overwritten(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    apply_all(data)
    (data / "member").mkdir()                  # something wrote there again
    one, problems = plan_one(data)
    assert codes(problems) == ["aside_target_taken"]
    assert "new stamp" in problems[0]["msg"] and "Nothing was changed" in problems[0]["msg"]
    one, problems = plan_one(data, stamp=LATER)
    assert problems == [] and one["target"] == str(data) + "." + LATER


def test_absent_and_empty_directories_need_nothing(tmp_path):
    one, problems = plan_one(tmp_path / "absent")
    assert problems == [] and one["action"] == "none" and "absent" in one["reason"]
    (tmp_path / "empty").mkdir()
    one, problems = plan_one(tmp_path / "empty")
    assert problems == [] and one["action"] == "none" and "empty" in one["reason"]


def test_a_file_is_not_a_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    _one, problems = plan_one(tmp_path / "file")
    assert codes(problems) == ["aside_not_a_directory"]


def test_root_and_relative_paths_are_refused():
    _plans, problems = ea.plan(["/"], STAMP, "move", mounts=set())
    assert codes(problems) == ["aside_path_invalid"]


def test_overlapping_directories_are_refused(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    _plans, problems = ea.plan([str(data), str(data / "member" / "wal")], STAMP, "move", mounts=set())
    assert "aside_paths_overlap" in codes(problems)


def test_a_symlinked_directory_moves_its_real_directory(tmp_path):
    real = etcd_dir(tmp_path / "disk" / "etcd")
    link = tmp_path / "etcd"
    link.symlink_to(real)
    one, problems = plan_one(link)
    assert problems == [] and one["target"] == str(real) + "." + STAMP
    ea.apply_dir(one, True, runner)
    assert link.is_symlink() and os.listdir(str(link)) == []
    assert (tmp_path / "disk" / ("etcd." + STAMP) / "member" / "snap" / "db").exists()


# --- move: a mount point -------------------------------------------------------------------------
def test_a_mount_point_keeps_its_place_and_its_contents_move_inside(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    (data / "lost+found").mkdir()
    before = listing(data / "member")
    one, problems = plan_one(data, mounts={str(data)})
    assert problems == []
    assert one["action"] == "contents" and one["mount_point"]
    assert one["target"] == str(data / (".ezops-aside-" + STAMP))
    assert one["entries"] == ["member"]
    done = ea.apply_dir(one, True, runner)
    assert done == [{"from": str(data), "to": one["target"], "how": "contents moved"}]
    assert sorted(os.listdir(str(data))) == [".ezops-aside-" + STAMP, "lost+found"]
    assert listing(data / (".ezops-aside-" + STAMP) / "member") == before
    assert ea.occupied(str(data), {str(data)}) == []   # empty for etcd's purposes


def test_a_mount_point_moved_again_with_the_same_stamp_changes_nothing(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    apply_all(data, mounts={str(data)})
    one, problems = plan_one(data, mounts={str(data)})
    assert problems == [] and one["action"] == "none" and "already moved" in one["reason"]


def test_a_mount_point_with_new_data_and_the_same_stamp_is_refused_then_moves_with_a_new_one(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    apply_all(data, mounts={str(data)})
    etcd_dir(data)                             # etcd ran on it again
    _one, problems = plan_one(data, mounts={str(data)})
    assert codes(problems) == ["aside_target_taken"]
    one, problems = plan_one(data, stamp=LATER, mounts={str(data)})
    assert problems == [] and one["entries"] == ["member"]   # the earlier aside stays where it is
    ea.apply_dir(one, True, runner)
    assert sorted(os.listdir(str(data))) == [".ezops-aside-" + STAMP, ".ezops-aside-" + LATER]


def test_a_cut_off_move_of_a_mount_point_is_finished(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    (data / "extra").write_text("x")
    partial = data / (".ezops-aside-" + STAMP + ".partial")
    partial.mkdir()
    os.rename(str(data / "member"), str(partial / "member"))   # cut off after the first entry
    one, problems = plan_one(data, mounts={str(data)})
    assert problems == [] and one["resume"] and one["entries"] == ["extra"]
    ea.apply_dir(one, True, runner)
    assert sorted(os.listdir(str(data / (".ezops-aside-" + STAMP)))) == ["extra", "member"]
    assert not partial.exists()


def test_a_cut_off_move_whose_names_clash_is_refused(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    partial = data / (".ezops-aside-" + STAMP + ".partial")
    (partial / "member").mkdir(parents=True)
    _one, problems = plan_one(data, mounts={str(data)})
    assert codes(problems) == ["aside_target_taken"]


def test_a_wal_mount_point_is_refused(tmp_path):
    wal = etcd_dir(tmp_path / "wal", wal=True)
    _one, problems = plan_one(wal, mounts={str(wal)})
    assert codes(problems) == ["aside_wal_mount_point"]
    assert "etcd-io/etcd#20218" in problems[0]["msg"] and "ETCD_WAL_DIR" in problems[0]["msg"]


def test_a_wal_dir_that_is_not_a_mount_point_is_renamed(tmp_path):
    wal = etcd_dir(tmp_path / "wal", wal=True)
    one, problems = plan_one(wal)
    assert problems == [] and one["action"] == "rename"


def test_an_empty_mount_point_needs_nothing(tmp_path):
    data = tmp_path / "etcd"
    (data / "lost+found").mkdir(parents=True)
    one, problems = plan_one(data, mounts={str(data)})
    assert problems == [] and one["action"] == "none" and "empty" in one["reason"]


def test_a_mount_point_inside_the_data_is_refused(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    _one, problems = plan_one(data, mounts={str(data), str(data / "member")})
    assert codes(problems) == ["aside_nested_mount"]


def test_install_contents_puts_a_restore_into_a_mount_point(tmp_path):
    data = tmp_path / "etcd"
    (data / "lost+found").mkdir(parents=True)
    restoring = data / (ea.RESTORING_PREFIX + STAMP)
    etcd_dir(restoring)
    ea.install_contents(str(restoring), str(data))
    assert sorted(os.listdir(str(data))) == ["lost+found", "member"]
    etcd_dir(restoring)
    with pytest.raises(ea.AsideProblem) as err:
        ea.install_contents(str(restoring), str(data))
    assert err.value.code == "aside_target_taken"
    assert (restoring / "member").exists()     # nothing moved on a clash


# --- copy ---------------------------------------------------------------------------------------
def test_copy_keeps_the_data_in_place_and_preserves_mode_and_times(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    db = data / "member" / "snap" / "db"
    db.chmod(0o600)
    os.utime(str(db), (1700000000, 1700000000))
    before = listing(data)
    one, problems = plan_one(data, method="copy", space_margin_mb=0)
    assert problems == [] and one["action"] == "copy" and one["target"] == str(data) + "." + STAMP
    assert one["need_bytes"] >= 25000 and one["space_path"] == str(tmp_path)
    done = ea.apply_dir(one, True, runner)
    assert done == [{"from": str(data), "to": str(data) + "." + STAMP, "how": "copied"}]
    copy = tmp_path / ("etcd." + STAMP)
    assert listing(data) == before and listing(copy) == before
    copied = os.stat(str(copy / "member" / "snap" / "db"))
    assert stat.S_IMODE(copied.st_mode) == 0o600 and int(copied.st_mtime) == 1700000000
    assert stat.S_IMODE(os.stat(str(copy)).st_mode) == 0o700
    one, problems = plan_one(data, method="copy")
    assert problems == [] and one["action"] == "none" and "already copied" in one["reason"]


def test_copy_replaces_an_unfinished_copy_of_a_cut_off_run(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    partial = tmp_path / ("etcd." + STAMP + ".partial")
    partial.mkdir()
    (partial / "half").write_text("x")
    apply_all(data, method="copy", space_margin_mb=0)
    assert not partial.exists()
    assert listing(tmp_path / ("etcd." + STAMP)) == listing(data)


def test_copy_needs_free_space_and_says_how_much(tmp_path, monkeypatch):
    data = etcd_dir(tmp_path / "etcd")
    monkeypatch.setattr(ea, "free_bytes", lambda path: 1000)
    one, problems = plan_one(data, method="copy", space_margin_mb=1)
    assert codes(problems) == ["aside_no_space"]
    msg = problems[0]["msg"]
    assert str(tmp_path) in msg and "1000 bytes" in msg and ea.human(one["need_bytes"]) in msg
    assert one["need_bytes"] > ea.MIB and one["free_bytes"] == 1000


def test_a_failed_copy_leaves_no_partial_copy(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    one, problems = plan_one(data, method="copy", space_margin_mb=0)
    assert problems == []

    def failing(argv):
        if argv[0] == "cp":
            os.makedirs(argv[-1])
            return 1, "", "cp: error writing: No space left on device"
        return runner(argv)

    with pytest.raises(ea.AsideProblem) as err:
        ea.apply_dir(one, True, failing)
    assert err.value.code == "aside_copy_failed" and "No space left" in err.value.msg
    assert sorted(os.listdir(str(tmp_path))) == ["etcd"]


def test_copy_of_an_absent_directory_needs_nothing(tmp_path):
    one, problems = plan_one(tmp_path / "absent", method="copy")
    assert problems == [] and one["action"] == "none"


# --- space only, and reserve ---------------------------------------------------------------------
def test_method_none_checks_the_reserve_plus_margin(tmp_path, monkeypatch):
    monkeypatch.setattr(ea, "free_bytes", lambda path: 10 * ea.MIB)
    one, problems = plan_one(tmp_path, method="none", reserve_bytes=5 * ea.MIB, space_margin_mb=1)
    assert problems == [] and one["need_bytes"] == 5 * ea.MIB + 5 * ea.MIB // 20 + ea.MIB
    _one, problems = plan_one(tmp_path, method="none", reserve_bytes=9 * ea.MIB, space_margin_mb=1)
    assert codes(problems) == ["aside_no_space"] and "10 MiB" in problems[0]["msg"]


def test_a_move_checks_the_reserve_on_the_directory(tmp_path, monkeypatch):
    data = etcd_dir(tmp_path / "etcd")
    monkeypatch.setattr(ea, "free_bytes", lambda path: ea.MIB)
    _one, problems = plan_one(data, reserve_bytes=2 * ea.MIB, space_margin_mb=0)
    assert codes(problems) == ["aside_no_space"]


def test_free_bytes_of_a_missing_path_is_that_of_its_parent(tmp_path):
    assert ea.free_bytes(str(tmp_path / "a" / "b")) == ea.free_bytes(str(tmp_path))


# --- in use ---------------------------------------------------------------------------------------
def test_a_directory_with_files_open_by_a_process_is_in_use(tmp_path):
    data = etcd_dir(tmp_path / "etcd")
    holder = subprocess.Popen([sys.executable, "-c", "import sys,time; f=open(sys.argv[1]); print('ok', flush=True); "
                               "time.sleep(60)", str(data / "member" / "snap" / "db")], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"ok"
        plans, problems = ea.plan([str(data)], STAMP, "move", mounts=set())
        assert problems == []
        found = ea.in_use_problems(plans)
        assert codes(found) == ["aside_in_use"] and "pid %d" % holder.pid in found[0]["msg"]
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.05)
    assert ea.in_use_problems(plans) == []


def test_open_by_reads_a_proc_tree(tmp_path):
    proc = tmp_path / "proc"
    (proc / "123" / "fd").mkdir(parents=True)
    (proc / "123" / "comm").write_text("etcd\n")
    (proc / "123" / "fd" / "7").symlink_to("/var/lib/etcd/member/wal/0.wal")
    (proc / "124" / "fd").mkdir(parents=True)
    (proc / "124" / "fd" / "3").symlink_to("/var/lib/etcd-other/x")
    assert ea.open_by("/var/lib/etcd", str(proc)) == [(123, "etcd")]
