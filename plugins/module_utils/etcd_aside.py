# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Moving an etcd data or WAL directory aside (ezops.etcd.etcd_move_aside), and the space it needs.

Where a directory goes:

* An ordinary directory is renamed to ``<dir>.<stamp>`` (same file system: no copy, no space) and an
  empty directory with its owner and mode is put back, because the unit's sandbox
  (``ReadWritePaths``) needs the path to exist.
* A mount point cannot be renamed (EBUSY), and a sibling ``<dir>.<stamp>`` would be on the parent
  file system (a copy as large as the data, while etcd is stopped, onto a disk that was not sized
  for it). Its contents are renamed into ``<dir>/.ezops-aside-<stamp>/`` on the same file system
  instead: instant, no space, nothing copied. The data dir then holds that hidden directory (and
  the file system's ``lost+found``). etcd starts on such a dir (it logs "found invalid file under
  data directory" and ignores it); ``etcdutl snapshot restore`` refuses a non-empty ``--data-dir``,
  so a restore goes through a temporary directory inside the mount (``.ezops-restoring-<stamp>``)
  whose contents are then renamed into place (``install_contents``). The aside stays on the data
  disk and takes its space until it is pruned.
* A separate WAL dir that is a mount point is refused: when etcd creates a new WAL it removes the
  WAL dir's contents and renames a new one over it (``wal.Create``), which fails on a mount point
  (etcd-io/etcd#20218) after deleting whatever was inside, an aside included.
* ``copy`` (the quorum-recovery survivor keeps its data) copies with ``cp -a`` to
  ``<dir>.<stamp>.partial`` and renames it to ``<dir>.<stamp>`` once complete; it needs the size of
  the tree plus a margin free on the file system of ``<dir>.<stamp>``.

Nothing is deleted except a stale ``<dir>.<stamp>.partial`` copy of data that is still in place.
"""

from __future__ import annotations

import os
import re
import stat

MIB = 1024 * 1024
STAMP_RE = re.compile(r"^[0-9]{14}$")
ASIDE_PREFIX = ".ezops-aside-"
RESTORING_PREFIX = ".ezops-restoring-"
LOST_FOUND = "lost+found"
METHODS = ("move", "copy", "none")
NOTHING_CHANGED = "Nothing was changed."


class AsideProblem(Exception):
    """A reason not to go ahead, with a stable code."""

    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code
        self.msg = msg


def problem(code, msg):
    return {"code": code, "msg": " ".join(msg.split())}


# --- naming -----------------------------------------------------------------------------------
def check_stamp(stamp):
    if not isinstance(stamp, str) or not STAMP_RE.match(stamp):
        raise AsideProblem("aside_stamp_invalid",
                           "stamp=%r is not 14 digits (YYYYmmddHHMMSS). Give the run's time stamp, for example "
                           "\"{{ now(fmt='%%Y%%m%%d%%H%%M%%S') }}\", chosen once per run so that a re-run reuses it. %s"
                           % (stamp, NOTHING_CHANGED))
    return stamp


def sibling_target(path, stamp):
    return "%s.%s" % (path, stamp)


def inside_target(path, stamp):
    return os.path.join(path, ASIDE_PREFIX + stamp)


def partial_of(target):
    return target + ".partial"


def is_aside_name(name):
    return name.startswith(ASIDE_PREFIX)


# --- space --------------------------------------------------------------------------------------
def need_bytes(size, margin_mb):
    """Space to ask for before writing ``size`` bytes: the size, 5 % for file system overhead, and
    a fixed margin (etcd and the system must not be left with a full disk)."""
    size = max(0, int(size or 0))
    if not size:
        return 0
    return size + size // 20 + max(0, int(margin_mb or 0)) * MIB


def tree_size(path):
    """Bytes the tree at ``path`` occupies (allocated blocks; hard links once; symlinks not followed)."""
    seen = set()
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    try:
        total += os.lstat(path).st_blocks * 512
    except OSError:
        pass
    return total


def existing_ancestor(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def free_bytes(path):
    """Bytes an unprivileged writer may still use on the file system of ``path`` (or its nearest
    existing ancestor)."""
    st = os.statvfs(existing_ancestor(path))
    return st.f_bavail * st.f_frsize


def human(size):
    size = int(size or 0)
    if size >= 10 * MIB:
        return "%d MiB" % (size // MIB)
    if size >= 1024:
        return "%.1f KiB" % (size / 1024.0)
    return "%d bytes" % size


# --- mount points -------------------------------------------------------------------------------
def _unescape(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def read_mount_points(mountinfo="/proc/self/mountinfo"):
    """Every mount point of this mount namespace (bind mounts included, which ``ismount`` misses
    when they come from the same file system)."""
    points = set()
    try:
        with open(mountinfo) as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 4:
                    points.add(_unescape(fields[4]))
    except (IOError, OSError):
        pass
    return points


def is_mount_point(path, mounts=None):
    path = os.path.abspath(path)
    if mounts and path in mounts:
        return True
    if os.path.ismount(path):
        return True
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


def movable_entries(path, mount_point):
    """The entries a move takes: all but earlier asides, and the file system's lost+found on a mount."""
    names = sorted(os.listdir(path))
    return [name for name in names
            if not is_aside_name(name) and not (mount_point and name == LOST_FOUND)]


def occupied(path, mounts=None):
    """Entries of ``path`` that make it not empty for etcd's purposes (none when absent)."""
    if not os.path.isdir(path):
        return []
    return movable_entries(path, is_mount_point(path, mounts))


def holds_wal(path):
    """Whether the top of ``path`` holds WAL files (a separate WAL dir)."""
    try:
        return any(name.endswith(".wal") for name in os.listdir(path))
    except OSError:
        return False


def open_by(path, proc="/proc"):
    """Processes (other than this one) with a file open under ``path`` -> [(pid, command)]."""
    top = os.path.realpath(path)
    own = str(os.getpid())
    found = []
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit() and name != own]
    except OSError:
        return found
    for pid in pids:
        fd_dir = os.path.join(proc, pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target == top or target.startswith(top + "/"):
                try:
                    with open(os.path.join(proc, pid, "comm")) as handle:
                        comm = handle.read().strip()
                except (IOError, OSError):
                    comm = "?"
                found.append((int(pid), comm))
                break
    return sorted(found)


# --- planning -----------------------------------------------------------------------------------
def plan_dir(path, stamp, method, reserve_bytes=0, space_margin_mb=64, mounts=None):
    """What moving (or copying) ``path`` aside needs -> a dict; its ``problem`` is None when it can go ahead.

    action: none (nothing to do), rename (to <dir>.<stamp>), contents (into <dir>/.ezops-aside-<stamp>),
    copy (cp -a to <dir>.<stamp>).
    """
    given = path
    path = os.path.realpath(path.rstrip("/") or "/") if os.path.lexists(path) else os.path.abspath(path.rstrip("/"))
    out = {"path": given, "real_path": path, "method": method, "exists": os.path.isdir(path),
           "mount_point": False, "action": "none", "target": None, "entries": [], "reason": "",
           "need_bytes": 0, "free_bytes": None, "space_path": None, "problem": None, "resume": False}
    reserve = max(0, int(reserve_bytes or 0))

    def space(need, where):
        out["need_bytes"] = need
        out["space_path"] = where
        out["free_bytes"] = free_bytes(where)
        if need and out["free_bytes"] < need:
            out["problem"] = problem("aside_no_space", (
                "%s needs %s free on the file system of %s, which has %s (%s). Free space there (or grow "
                "the file system), then run again. %s"
                % (given, human(need), where, human(out["free_bytes"]), out["_space_why"], NOTHING_CHANGED)))

    if path == "/" or not os.path.isabs(path):
        out["problem"] = problem("aside_path_invalid", "%r is not an absolute path of a directory other than /. %s"
                                 % (given, NOTHING_CHANGED))
        return out
    if method == "none":
        out["_space_why"] = "%s asked for plus the margin" % human(reserve)
        space(need_bytes(reserve, space_margin_mb), path)
        out.pop("_space_why", None)
        return out
    if os.path.lexists(path) and not os.path.isdir(path):
        out["problem"] = problem("aside_not_a_directory", "%s exists and is not a directory: it is not a data or WAL "
                                 "directory. Check ETCD_DATA_DIR / ETCD_WAL_DIR. %s" % (given, NOTHING_CHANGED))
        return out
    mount = out["exists"] and is_mount_point(path, mounts)
    out["mount_point"] = bool(mount)
    sibling = sibling_target(path, stamp)

    if method == "copy":
        out["target"] = sibling
        if os.path.lexists(sibling):
            out["reason"] = "already copied to %s" % sibling
            return out
        if not out["exists"]:
            out["reason"] = "absent: nothing to copy"
            return out
        out["action"] = "copy"
        out["entries"] = sorted(os.listdir(path))
        stale = partial_of(sibling)
        reclaim = tree_size(stale) if os.path.lexists(stale) else 0
        size = tree_size(path)
        out["_space_why"] = "the copy takes %s, plus 5 %% and the margin%s" % (
            human(size), ", %s reserved" % human(reserve) if reserve else "")
        space(max(0, need_bytes(size + reserve, space_margin_mb) - reclaim), os.path.dirname(sibling))
        out.pop("_space_why", None)
        out["reason"] = "copy %s (%s) to %s" % (given, human(size), sibling)
        return out

    # method == "move"
    if not out["exists"]:
        out["target"] = sibling
        out["reason"] = ("already moved to %s" % sibling) if os.path.lexists(sibling) else "absent: nothing to move"
        return out
    entries = movable_entries(path, mount)
    out["entries"] = entries
    if mount:
        target = inside_target(path, stamp)
        out["target"] = target
        partial = partial_of(target)
        if os.path.lexists(target):
            if entries:
                out["problem"] = problem("aside_target_taken", (
                    "%s was already moved aside to %s with stamp %s, and holds data again (%s). It is left as "
                    "it is: look at what wrote there; to move it aside too, run again with a new stamp. %s"
                    % (given, target, stamp, ", ".join(entries[:5]), NOTHING_CHANGED)))
            else:
                out["reason"] = "already moved to %s" % target
            return out
        if not entries and not os.path.lexists(partial):
            out["reason"] = "empty: nothing to move"
            return out
        if holds_wal(path):
            out["problem"] = problem("aside_wal_mount_point", (
                "%s is a mount point that holds WAL files. etcd cannot create a new WAL in a mount point: it "
                "removes the directory's contents and then fails to replace it (etcd-io/etcd#20218), which "
                "would delete anything moved aside inside it. Mount the disk one level up (for example at %s) "
                "and set ETCD_WAL_DIR to a directory inside it, or move the WAL files aside yourself. %s"
                % (given, os.path.dirname(path) + "/etcd-wal-disk", NOTHING_CHANGED)))
            return out
        nested = [name for name in entries if is_mount_point(os.path.join(path, name), mounts)]
        if nested:
            out["problem"] = problem("aside_nested_mount", (
                "%s holds mount points (%s), which cannot be moved. Unmount them first. %s"
                % (given, ", ".join(nested), NOTHING_CHANGED)))
            return out
        if os.path.isdir(partial):
            clash = [name for name in entries if os.path.lexists(os.path.join(partial, name))]
            if clash:
                out["problem"] = problem("aside_target_taken", (
                    "%s holds %s, and so does the unfinished aside %s (a run was cut off while moving). "
                    "Compare them and move one away by hand, then run again. %s"
                    % (given, ", ".join(clash), partial, NOTHING_CHANGED)))
                return out
            out["resume"] = True
        out["action"] = "contents"
        out["reason"] = ("mount point: move its contents (%s) into %s on the same file system"
                         % (", ".join(entries[:5]) or "none left", target))
        out["_space_why"] = "%s reserved plus the margin" % human(reserve)
        space(need_bytes(reserve, space_margin_mb), path)
        out.pop("_space_why", None)
        return out
    out["target"] = sibling
    if os.path.lexists(sibling):
        if os.listdir(path):
            out["problem"] = problem("aside_target_taken", (
                "%s exists (moved aside with stamp %s), and %s holds data again (%s). Neither is touched: "
                "look at what wrote there; to move it aside too, run again with a new stamp. %s"
                % (sibling, stamp, given, ", ".join(sorted(os.listdir(path))[:5]), NOTHING_CHANGED)))
        else:
            out["reason"] = "already moved to %s" % sibling
        return out
    if not os.listdir(path):
        out["reason"] = "empty: nothing to move"
        return out
    out["action"] = "rename"
    out["reason"] = "rename %s to %s" % (given, sibling)
    out["_space_why"] = "%s reserved plus the margin" % human(reserve)
    space(need_bytes(reserve, space_margin_mb), path)
    out.pop("_space_why", None)
    return out


def plan(paths, stamp, method, reserve_bytes=0, space_margin_mb=64, mounts=None):
    """Plan every directory -> (plans, problems). Checks that apply across directories too."""
    if method not in METHODS:
        raise AsideProblem("aside_method_invalid", "method=%r is not one of %s. %s"
                           % (method, ", ".join(METHODS), NOTHING_CHANGED))
    if method != "none":
        check_stamp(stamp)
    if not paths:
        raise AsideProblem("aside_path_missing", "Give at least one directory in path. %s" % NOTHING_CHANGED)
    if mounts is None:
        mounts = read_mount_points()
    plans = [plan_dir(p, stamp, method, reserve_bytes, space_margin_mb, mounts) for p in paths]
    problems = [p["problem"] for p in plans if p["problem"]]
    real = [p["real_path"] for p in plans]
    for i, one in enumerate(real):
        for other in real[i + 1:]:
            if one == other or other.startswith(one + "/") or one.startswith(other + "/"):
                problems.append(problem("aside_paths_overlap", (
                    "%s and %s overlap: give separate data and WAL directories (leave the WAL dir out when it "
                    "is inside the data dir). %s" % (one, other, NOTHING_CHANGED))))
    return plans, problems


def in_use_problems(plans, proc="/proc"):
    """A directory about to move must not be open by a running process (etcd still running)."""
    out = []
    for one in plans:
        if one["action"] in ("rename", "contents", "copy"):
            users = open_by(one["real_path"], proc)
            if users:
                out.append(problem("aside_in_use", (
                    "%s is in use by %s: etcd (or another process) still runs on it. Stop it first "
                    "(systemctl stop etcd), then run again. %s"
                    % (one["path"], ", ".join("%s (pid %d)" % (comm, pid) for pid, comm in users), NOTHING_CHANGED))))
    return out


# --- doing --------------------------------------------------------------------------------------
def _recreate_like(path, like):
    """Put back an empty ``path`` with the owner and mode of ``like`` (a stat result) -> created."""
    if os.path.lexists(path):
        return False
    os.mkdir(path, 0o700)
    try:
        os.chown(path, like.st_uid, like.st_gid)
    except OSError:
        pass
    os.chmod(path, stat.S_IMODE(like.st_mode))
    return True


def install_contents(source, dest):
    """Rename every entry of ``source`` into ``dest`` (same file system), then remove the now empty
    ``source``. Used to put a restore made in a temporary directory into a mount point, which cannot
    be renamed over. Refuses to overwrite any entry of ``dest``."""
    names = sorted(os.listdir(source))
    clash = [name for name in names if os.path.lexists(os.path.join(dest, name))]
    if clash:
        raise AsideProblem("aside_target_taken", "%s already holds %s: nothing was moved into it."
                           % (dest, ", ".join(clash)))
    for name in names:
        os.rename(os.path.join(source, name), os.path.join(dest, name))
    os.rmdir(source)


def apply_dir(one, recreate=True, runner=None):
    """Carry out one plan -> list of what was done (empty when nothing changed)."""
    path, target, done = one["real_path"], one["target"], []
    if one["action"] == "rename":
        like = os.stat(path)
        os.rename(path, target)
        done.append({"from": one["path"], "to": target, "how": "renamed"})
        if recreate and _recreate_like(path, like):
            done.append({"created": path})
    elif one["action"] == "contents":
        like = os.stat(path)
        partial = partial_of(target)
        if not os.path.isdir(partial):
            os.mkdir(partial, 0o700)
            try:
                os.chown(partial, like.st_uid, like.st_gid)
            except OSError:
                pass
        for name in movable_entries(path, True):
            os.rename(os.path.join(path, name), os.path.join(partial, name))
        os.rename(partial, target)
        done.append({"from": one["path"], "to": target, "how": "contents moved"})
    elif one["action"] == "copy":
        partial = partial_of(target)
        if os.path.lexists(partial):
            # a copy cut off earlier, of data that is still in place: only that copy is removed
            rc, _out, err = runner(["rm", "-rf", "--one-file-system", "--", partial])
            if rc != 0:
                raise AsideProblem("aside_copy_failed", "could not remove the unfinished copy %s: %s" % (partial, err))
        rc, _out, err = runner(["cp", "-a", "--no-target-directory", "--", path, partial])
        if rc != 0:
            runner(["rm", "-rf", "--one-file-system", "--", partial])
            raise AsideProblem("aside_copy_failed", (
                "copying %s to %s failed (%s). The unfinished copy was removed; %s is untouched. "
                "Check the free space of %s, then run again."
                % (one["path"], partial, (err or "").strip() or "cp failed", one["path"], os.path.dirname(target))))
        os.rename(partial, target)
        done.append({"from": one["path"], "to": target, "how": "copied"})
    elif needs_recreate(one, recreate):
        # moved by an earlier run that was cut off before the empty directory was put back
        if _recreate_like(path, os.stat(target)):
            done.append({"created": path})
    return done


def needs_recreate(one, recreate=True):
    """Whether a directory moved by an earlier run still lacks its empty replacement."""
    return (bool(recreate) and one["method"] == "move" and not one["exists"] and bool(one["target"])
            and os.path.isdir(one["target"]) and not one["mount_point"])
