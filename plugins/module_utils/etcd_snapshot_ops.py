# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What ezops.etcd.etcd_snapshot does: save, verify and restore snapshot files."""

from __future__ import annotations

import json
import os
import shutil
import time

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_aside import (
    AsideProblem,
    install_contents,
    is_mount_point,
    occupied,
)
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_common import (
    RESTORE_MARKER,
    EtcdConfigError,
    EtcdError,
    EtcdRefused,
    SnapshotError,
    checksum_line,
    normalize_checksum,
    normalize_urls,
    parse_initial_cluster,
    parse_snapshot_status,
    read_checksum_file,
    restore_marker,
    same_restore,
    snapshot_integrity,
)


# A restore into a mount point is made in here (same file system) and its entries renamed into place.
RESTORING_PREFIX = ".ezops-restoring-"


def _occupying(path):
    """Entries that make ``path`` not empty: earlier asides, a mount's lost+found and this module's
    own unfinished restores do not count."""
    if not path or not os.path.isdir(path):
        return []
    return [name for name in occupied(path) if not name.startswith(RESTORING_PREFIX)]


def _non_empty(path):
    return bool(_occupying(path))


def _written_since_marker(data_dir, wal_dir):
    """Whether any file in the restored dirs is newer than the restore marker.

    etcd writes its WAL and database as soon as it runs: a marker with newer files beside it
    describes a restore the cluster has moved on from, so restoring the same snapshot again (a
    roll-back) must not be taken as already done.
    """
    try:
        since = os.stat(os.path.join(data_dir, RESTORE_MARKER)).st_mtime
    except OSError:
        return True
    for top in (data_dir, wal_dir):
        for folder, dirs, files in os.walk(top or ""):
            if folder == top:  # asides and unfinished restores are not what etcd wrote
                kept = set(_occupying(top))
                dirs[:] = [name for name in dirs if name in kept]
            for name in files:
                if name != RESTORE_MARKER and os.stat(os.path.join(folder, name)).st_mtime > since:
                    return True
    return False


def _remove_ours(*paths):
    """Remove temporary files or directories this module created (never anything else)."""
    for path in paths:
        if path and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif path and os.path.lexists(path):
            os.unlink(path)


class SnapshotOps(object):
    def __init__(self, module, client, clock=time.time):
        self.module = module
        self.client = client
        self.params = module.params
        self.check_mode = module.check_mode
        self.clock = clock

    def run(self):
        path = self.params["path"]
        if os.path.isdir(path):
            raise EtcdConfigError("path %s is a directory (nothing was changed)" % path,
                                  hint="name a snapshot file, such as %s"
                                       % os.path.join(path, "snapshot.db"))
        if self.params["checksum"]:
            normalize_checksum(self.params["checksum"])  # malformed: fail before any work
        by_state = {"saved": self._saved, "status": self._status, "restored": self._restored}
        return by_state[self.params["state"]]()

    # --- verification -------------------------------------------------------------------------
    def verify(self, path, checksum=None):
        """Integrity (embedded sha256), the expected checksum, then ``snapshot status``."""
        integrity = snapshot_integrity(path)
        source = None
        if checksum:
            expected, source = normalize_checksum(checksum), "the checksum option"
        elif os.path.isfile(path + ".sha256"):
            expected, source = read_checksum_file(path + ".sha256"), path + ".sha256"
        else:
            expected = None
        if expected and expected != integrity["sha256"]:
            raise SnapshotError("sha256 of %s is %s, not %s as %s says"
                                % (path, integrity["sha256"], expected, source),
                                hint="the file changed after it was written: use another backup")
        _rc, out, _err = self.client.util(["snapshot", "status", path])
        info = {"path": path, "sha256": integrity["sha256"], "size": integrity["size"],
                "checksum_source": source}
        info.update(parse_snapshot_status(out))
        return info

    # --- state: status ------------------------------------------------------------------------
    def _status(self):
        return {"changed": False, "snapshot": self.verify(self.params["path"],
                                                          self.params["checksum"])}

    # --- state: saved -------------------------------------------------------------------------
    def _saved(self):
        dest = self.params["path"]
        sidecar = dest + ".sha256"
        directory = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(directory):
            raise EtcdConfigError("directory %s of dest does not exist" % directory,
                                  hint="create it first (mode 0700: snapshots hold every secret)")
        if os.path.exists(dest) and not self.params["force"]:
            try:
                info = self.verify(dest, self.params["checksum"])
            except SnapshotError as exc:
                raise EtcdRefused("%s exists and is not a valid snapshot: %s" % (dest, exc.message),
                                  hint="set force: true to replace it, or choose another dest")
            has_sidecar = os.path.isfile(sidecar)
            if not has_sidecar and not self.check_mode:
                self._write_sidecar(sidecar, info["sha256"], dest)
            return {"changed": not has_sidecar, "snapshot": info,
                    "diff": {"before": {"sha256_file": has_sidecar},
                             "after": {"sha256_file": True}}}
        before = {"path": dest, "exists": os.path.exists(dest)}
        if self.check_mode:
            return {"changed": True, "snapshot": {"path": dest},
                    "diff": {"before": before, "after": {"path": dest, "exists": True}}}
        tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(dest), os.getpid()))
        old_umask = os.umask(0o077)
        try:
            endpoint = self._save(tmp)
            os.chmod(tmp, 0o600)
            info = self.verify(tmp)
            self._write_sidecar(sidecar, info["sha256"], dest)
            os.rename(tmp, dest)
        finally:
            os.umask(old_umask)
            _remove_ours(tmp, tmp + ".part")
        info["path"] = dest
        info["checksum_source"] = sidecar
        return {"changed": True, "snapshot": info, "endpoint": endpoint,
                "diff": {"before": before, "after": {"path": dest, "exists": True,
                                                     "sha256": info["sha256"]}}}

    def _save(self, tmp):
        """Save from the first endpoint that answers -> that endpoint."""
        good, _failed = self.client.preflight()
        error = None
        for endpoint in good:
            try:
                self.client.ctl(["snapshot", "save", tmp], endpoints=[endpoint], json_output=False)
                return endpoint
            except EtcdError as exc:
                error = exc
                _remove_ours(tmp, tmp + ".part")
        raise error

    @staticmethod
    def _write_sidecar(sidecar, digest, dest):
        tmp = sidecar + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(checksum_line(digest, dest))
        os.chmod(tmp, 0o644)
        os.rename(tmp, sidecar)

    # --- state: restored ----------------------------------------------------------------------
    def _restore_plan(self):
        params = self.params
        name, cluster = params["name"], params["initial_cluster"]
        members = parse_initial_cluster(cluster)
        if name not in members:
            raise EtcdConfigError("member %s is not in initial_cluster %s" % (name, cluster),
                                  hint="initial_cluster must list every member as name=peer_url, "
                                       "this one included")
        peer_urls = params["initial_advertise_peer_urls"] or members[name]
        if normalize_urls(peer_urls) != normalize_urls(members[name]):
            raise EtcdConfigError(
                "initial_advertise_peer_urls %s differ from the URLs of %s in initial_cluster (%s)"
                % (",".join(peer_urls), name, ",".join(members[name])),
                hint="make them the same, or omit initial_advertise_peer_urls")
        data_dir = params["data_dir"].rstrip("/")
        wal_dir = (params["wal_dir"] or "").rstrip("/") or None
        if wal_dir and (wal_dir == data_dir or wal_dir.startswith(data_dir + "/")):
            raise EtcdConfigError("wal_dir %s is inside data_dir %s" % (wal_dir, data_dir),
                                  hint="leave wal_dir unset (the WAL then lives in data_dir) or "
                                       "put it outside data_dir")
        bump = int(params["bump_revision"] or 0)
        if bump < 0:
            raise EtcdConfigError("bump_revision must not be negative", hint="use 0 to disable it")
        if bump and not params["mark_compacted"]:
            raise EtcdConfigError("mark_compacted must be true when bump_revision is set",
                                  hint="etcdutl requires --mark-compacted with --bump-revision")
        return name, cluster, peer_urls, data_dir, wal_dir, bump

    def _restored(self):
        name, cluster, peer_urls, data_dir, wal_dir, bump = self._restore_plan()
        token = self.params["initial_cluster_token"]
        info = self.verify(self.params["path"], self.params["checksum"])
        wanted = restore_marker(info["sha256"], name, cluster, token, peer_urls)
        marker = self._read_marker(data_dir)
        result = {"snapshot": info, "data_dir": data_dir, "wal_dir": wal_dir,
                  "moved_aside": None, "wal_moved_aside": None}
        if same_restore(marker, wanted) and not _written_since_marker(data_dir, wal_dir):
            result.update(changed=False, bump_revision=marker.get("bump_revision", 0),
                          mark_compacted=bool(marker.get("mark_compacted", False)))
            return result
        occupied = [d for d in (data_dir, wal_dir) if _non_empty(d)]
        mounted = [d for d in occupied if is_mount_point(d)]
        if mounted:
            raise EtcdRefused(
                "%s %s a mount point holding data, which cannot be renamed aside"
                % (" and ".join(mounted), "is" if len(mounted) == 1 else "are"),
                hint="move its contents aside first with ezops.etcd.etcd_move_aside (they go to "
                     "<dir>/.ezops-aside-<stamp>), then restore (nothing was changed)")
        if occupied and not self.params["force"]:
            raise EtcdRefused(
                "%s not empty and does not hold a restore of this snapshot for member %s"
                % (" and ".join(occupied) + (" is" if len(occupied) == 1 else " are"), name),
                hint="stop etcd on this member and set force: true; the old directory is then "
                     "moved aside to <dir>.<timestamp>, never deleted (nothing was changed)")
        supported = self.client.restore_supports_bump()
        applied = bump if supported else 0
        if bump and not supported:
            self.module.warn("etcd %s has no --bump-revision/--mark-compacted (3.4.27, 3.5.10 and "
                             "later have): restored without them, so watchers must re-list"
                             % self.client.version())
        stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(self.clock()))
        aside = dict((d, "%s.%s" % (d, stamp)) for d in occupied)
        result.update(changed=True, bump_revision=applied, mark_compacted=bool(applied),
                      moved_aside=aside.get(data_dir), wal_moved_aside=aside.get(wal_dir),
                      diff={"before": {"restore": marker, "occupied": occupied},
                            "after": {"restore": wanted, "occupied": [data_dir]}})
        if self.check_mode:
            return result
        for path in aside.values():
            if os.path.exists(path):
                raise EtcdRefused("%s already exists" % path, hint="retry in a second")
        self._restore(info["path"], name, cluster, token, peer_urls, data_dir, wal_dir, applied,
                      stamp, dict(wanted, bump_revision=applied, mark_compacted=bool(applied),
                                  restored_at=stamp), aside)
        return result

    def _restore(self, path, name, cluster, token, peer_urls, data_dir, wal_dir, bump, stamp,
                 marker, aside):
        """Restore next to the target (inside it when it is a mount point, which cannot be renamed
        over), then move the old dirs aside and the new ones in."""
        mounted = [d for d in (data_dir, wal_dir) if d and is_mount_point(d)]
        for target in mounted:  # unfinished restores of runs that were cut off: only ours
            _remove_ours(*[os.path.join(target, name) for name in os.listdir(target)
                           if name.startswith(RESTORING_PREFIX)])

        def tmp_of(target):
            if target in mounted:
                return os.path.join(target, RESTORING_PREFIX + stamp)
            return "%s.restoring-%s" % (target, stamp)

        tmp_data = tmp_of(data_dir)
        tmp_wal = tmp_of(wal_dir) if wal_dir else None
        for path_ in (os.path.dirname(data_dir), os.path.dirname(wal_dir or data_dir)):
            if not os.path.isdir(path_):
                os.makedirs(path_, 0o700)
        args = ["snapshot", "restore", path, "--data-dir", tmp_data, "--name", name,
                "--initial-cluster", cluster, "--initial-cluster-token", token,
                "--initial-advertise-peer-urls", ",".join(peer_urls)]
        if tmp_wal:
            args += ["--wal-dir", tmp_wal]
        if bump:
            args += ["--bump-revision", str(bump), "--mark-compacted"]
        try:
            self.client.util(args, json_output=False)
            with open(os.path.join(tmp_data, RESTORE_MARKER), "w") as handle:
                json.dump(marker, handle, indent=1, sort_keys=True)
        except (EtcdError, OSError):
            _remove_ours(tmp_data, tmp_wal)
            raise
        for target, tmp in ((data_dir, tmp_data), (wal_dir, tmp_wal)):
            if not target:
                continue
            if target in mounted:
                try:
                    install_contents(tmp, target)
                except AsideProblem as exc:
                    raise EtcdRefused(exc.msg, hint="the restore is in %s; move it in by hand or run again" % tmp)
                continue
            if target in aside:
                os.rename(target, aside[target])
            elif os.path.isdir(target):
                os.rmdir(target)  # empty: nothing to keep
            os.rename(tmp, target)

    @staticmethod
    def _read_marker(data_dir):
        try:
            with open(os.path.join(data_dir, RESTORE_MARKER)) as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return None
