# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The rules of a full-cluster restore, decided once, in Python (filters of the etcd_restore role).

The role gathers facts with read-only tasks; these pure functions decide what is wrong (refusals
for ezops.etcd.refuse: ``{'code': ..., 'msg': ...}``), whether there is anything to do, which
cluster token a resumed restore keeps, and the exact roll-back after a failure. Nothing here runs
a command or touches a file.
"""

from __future__ import annotations

import posixpath

from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_version import dotted as _dotted, parse
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_deploy_checks import path_problems
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_lock import (
    LOCK_NAME,
    lock_holder,
    lock_state,
)
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_lock import lock_refusal as _lock_refusal

STOP_POINTS = ("", "staged", "move_aside", "restore")
FIX_SUFFIX = "Nothing was changed on any host."


def _refusal(code, msg):
    return {"code": code, "msg": " ".join(msg.split())}


def _norm(path):
    path = (path or "").strip()
    if not path:
        return ""
    return posixpath.normpath(path) if path.startswith("/") else path


def _inside(child, parent):
    """Whether ``child`` is ``parent`` or below it (normalized absolute paths)."""
    if not child or not parent:
        return False
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def _version(text):
    return parse(text, anywhere=True)


# --- paths ------------------------------------------------------------------------------------------
def dir_refusals(data_dir, wal_dir="", stage_dir="", protected=None):
    """Refusals for the data and WAL directories (the deploy's rule: dedicated, absolute, plain
    paths, not system directories, not one inside the other nor over the bin and ca dirs; codes
    data_dir_*, wal_dir_*) and for the staging directory (restore_stage_dir)."""
    out = list(path_problems(data_dir, wal_dir or "", protected or {}))
    data = _norm(data_dir)
    wal = _norm(wal_dir)
    stage = _norm(stage_dir)
    problem = None
    if not stage.startswith("/"):
        problem = "etcd_restore_stage_dir=%r is not an absolute path" % (stage_dir,)
    elif stage == "/" or ".." in (stage_dir or "").split("/"):
        problem = "etcd_restore_stage_dir=%s is not a usable parent directory" % stage_dir
    else:
        for setting, path in (("ETCD_DATA_DIR", data), ("ETCD_WAL_DIR", wal)):
            if path and path.startswith("/") and _inside(stage, path):
                problem = ("etcd_restore_stage_dir=%s is inside %s=%s, which the restore moves aside"
                           % (stage_dir, setting, path))
    if problem:
        out.append(_refusal("restore_stage_dir", problem + ". Set etcd_restore_stage_dir to a directory "
                            "outside the data and WAL directories, such as /var/tmp "
                            "(the run works in a subdirectory of its own there and removes only that)."))
    return out


# --- the lock: plugins/module_utils/etcd_lock.py -------------------------------------------------------
def lock_refusal(lock_path, holder):
    return _lock_refusal(lock_path, holder, "restore_locked", "this command")


# --- the snapshot's origin ----------------------------------------------------------------------------
def known_cluster_ids(live_cluster_id=None, record=None, lock=None):
    """The cluster IDs this cluster_dir has known: the live one, the lineage of earlier restores
    (a restore with a fresh token changes the ID), and the ID before a killed restore."""
    ids = []
    for value in ([live_cluster_id] + list((record or {}).get("cluster_ids", []) or [])
                  + [(record or {}).get("cluster_id"), (lock or {}).get("cluster_id_before")]):
        value = str(value or "").strip().lower()
        if value and value not in ids:
            ids.append(value)
    return ids


def _peer_urls(members):
    urls = set()
    for member in members or []:
        for url in (member or {}).get("peer_urls", []) or []:
            urls.add(str(url).strip().rstrip("/").lower())
    return urls


def origin_check(meta, known_ids, inventory_peer_urls):
    """-> ('same' | 'foreign' | 'unknown', why)."""
    meta = meta or {}
    snap_id = str(meta.get("cluster_id") or "").strip().lower()
    if snap_id and known_ids:
        if snap_id in known_ids:
            return "same", "cluster ID %s" % snap_id
        return "foreign", ("its metadata says it was taken from cluster %s, but this cluster is %s"
                           % (snap_id, ", ".join(known_ids)))
    snap_urls = _peer_urls(meta.get("members"))
    mine = set(str(u).strip().rstrip("/").lower() for u in inventory_peer_urls or [])
    if snap_urls and mine:
        if snap_urls & mine:
            return "same", "members' peer URLs"
        return "foreign", ("its metadata lists members %s, none of which is in the inventory (%s)"
                           % (", ".join(sorted(snap_urls)), ", ".join(sorted(mine))))
    return "unknown", ("no metadata to compare with" if not meta else
                       "the cluster does not answer and no earlier restore recorded its ID")


# --- versions -------------------------------------------------------------------------------------
def member_versions(outputs):
    """{host: 'etcd --version' stdout} -> {host: (x, y, z) or None}."""
    return dict((host, _version(text)) for host, text in (outputs or {}).items())


def version_check(meta_version, versions):
    """-> ('newer' | 'newer_patch' | 'ok' | 'unknown', snapshot version, lowest member version)."""
    snap = _version(meta_version)
    known = [v for v in (versions or {}).values() if v]
    if not snap or not known:
        return "unknown", snap, min(known) if known else None
    lowest = min(known)
    if snap[:2] > lowest[:2]:
        return "newer", snap, lowest
    if snap > lowest:
        return "newer_patch", snap, lowest
    return "ok", snap, lowest


# --- phase 1: everything that can be decided without reading the snapshot's content ------------------
def preflight(facts):
    """Decide the refusals, the notes of the plan and whether the cluster already runs this restore.

    ``facts`` (built by tasks/preflight.yml) holds the settings, the controller's files, the lock,
    each member's tools, version and restore marker, and the running cluster as etcd_info saw it.
    -> {'refusal': {code, msg} or {}, 'refusals': [...], 'notes': [...], 'skip': bool,
        'lock_state': 'free' | 'ours' | 'held', 'lock_holder': {...}, 'known_cluster_ids': [...]}
    """
    if not isinstance(facts, dict):
        raise AnsibleFilterError("etcd_restore_preflight expects a dict of facts")
    f = dict(facts)
    refusals, notes = [], []
    members = list(f.get("members") or [])
    db = str(f.get("db") or "")
    backup_dir = f.get("backup_dir", "")
    files = f.get("files") or {}
    available = ", ".join(f.get("available") or []) or "none"

    if not members:
        refusals.append(_refusal("restore_no_members", "The inventory group [%s] lists no member. List "
                                 "the etcd members there (kubeasz: [etcd])." % f.get("group", "etcd")))
    stop_after = f.get("stop_after", "")
    try:
        bump = int(f.get("bump_revision", 0))
    except (TypeError, ValueError):
        bump = -1
    if stop_after not in STOP_POINTS or bump < 0:
        refusals.append(_refusal("restore_settings", (
            "etcd_restore_stop_after=%r must be one of %s and etcd_restore_bump_revision=%r a whole "
            "number >= 0 (0 disables it). Fix the value."
            % (stop_after, ", ".join(repr(p) for p in STOP_POINTS), f.get("bump_revision")))))
    if not db or "/" in db or "\0" in db or db in (".", "..") or db.startswith("."):
        refusals.append(_refusal("restore_db_name", (
            "db_to_restore=%r is not the name of a snapshot file in %s (a path or a hidden file is not "
            "accepted). Give a file name from there, for example -e db_to_restore=snapshot.db; "
            "snapshots there: %s." % (db, backup_dir, available))))
    refusals.extend(dir_refusals(f.get("data_dir"), f.get("wal_dir"), f.get("stage_dir"),
                                 f.get("protected_dirs") or ()))

    identity = f.get("lock_identity") or {}
    lock_exists = bool(files.get("lock"))
    state = lock_state(f.get("lock_text"), identity, exists=lock_exists)
    holder = lock_holder(f.get("lock_text") or "") if lock_exists else {}
    if state == "held":
        refusals.append(lock_refusal(f.get("lock_path", LOCK_NAME), holder))
    elif state == "ours":
        notes.append("Taking over the lock of an earlier run of this same restore (run %s, started %s), "
                     "which did not finish." % (holder.get("run_id", "?"), holder.get("started", "?")))

    plain = f.get("plain", "")
    encrypted = bool(f.get("encrypted"))
    if not (files.get("plain") or files.get("age")):
        refusals.append(_refusal("restore_missing_snapshot", (
            "The snapshot %s does not exist (nor %s.age). Choose one with -e db_to_restore=<name>; "
            "snapshots there: %s." % (plain, plain, available))))
    else:
        if not f.get("expected_sha256") and f.get("require_checksum", True):
            refusals.append(_refusal("restore_no_checksum", (
                "%s.sha256 is missing or holds no sha256, so the snapshot cannot be checked. Give the "
                "expected digest with -e etcd_restore_checksum=<sha256> (or, knowing the risk, "
                "-e etcd_restore_require_checksum=false)." % plain)))
        if encrypted and not f.get("identity_file"):
            refusals.append(_refusal("restore_no_identity", (
                "%s.age is encrypted: give the age identity (private key) with "
                "-e etcd_restore_age_identity_file=<path>." % plain)))
        elif encrypted and not files.get("identity"):
            refusals.append(_refusal("restore_no_identity", (
                "The age identity %s does not exist on the controller. Give the path of the private "
                "key with -e etcd_restore_age_identity_file=<path>." % f.get("identity_file"))))

    hosts = f.get("hosts") or {}
    missing = dict((h, list(i.get("missing") or [])) for h, i in hosts.items() if i.get("missing"))
    versions = member_versions(dict((h, i.get("version")) for h, i in hosts.items()))
    for host, version in versions.items():
        if version is None and host not in missing:
            missing[host] = ["a working %s/etcd (etcd --version failed)" % f.get("bin_dir", "bin_dir")]
    if missing:
        refusals.append(_refusal("restore_not_installed", (
            "etcd is not installed on %s (missing: %s). Install it with playbooks/02.etcd.yml first "
            "(on a fresh host the restore then brings the data)." % (
                ", ".join(sorted(missing)), "; ".join("%s: %s" % (h, ", ".join(m)) for h, m in sorted(missing.items()))))))
    no_stage = sorted(h for h, i in hosts.items() if not i.get("stage_parent", True))
    if no_stage:
        refusals.append(_refusal("restore_stage_dir", (
            "etcd_restore_stage_dir=%s does not exist on %s. Create it, or set etcd_restore_stage_dir to "
            "an existing directory outside the data and WAL directories, such as /var/tmp (the run "
            "works in a subdirectory of its own there and removes only that)." % (f.get("stage_dir"), ", ".join(no_stage)))))

    live = f.get("live") or {}
    inventory_peer_urls = list(f.get("inventory_peer_urls") or [])
    unknown = ["%s %s" % (m.get("name") or m.get("id"), ",".join(m.get("peer_urls") or []))
               for m in live.get("members") or []
               if not _peer_urls([m]) & set(u.lower() for u in inventory_peer_urls)]
    if unknown and not f.get("allow_unknown_members"):
        refusals.append(_refusal("restore_unknown_members", (
            "The running cluster has members that are not in [%s]: %s. They would keep the old data "
            "and could rejoin the restored cluster. Add them to the inventory (they are then restored "
            "too), remove them (playbooks/31.deletcd.yml), or set etcd_restore_allow_unknown_members=true "
            "after stopping them for good." % (f.get("group", "etcd"), "; ".join(unknown)))))

    meta = f.get("meta") or {}
    live_id = live.get("cluster_id") if live.get("endpoints") else None
    known = known_cluster_ids(live_id, f.get("record"), holder if state == "ours" else None)
    origin, why = origin_check(meta, known, inventory_peer_urls)
    if origin == "foreign":
        if f.get("allow_foreign_cluster"):
            notes.append("The snapshot comes from another cluster (%s); restoring it as asked "
                         "(etcd_restore_allow_foreign_cluster=true)." % why)
        else:
            refusals.append(_refusal("restore_foreign_cluster", (
                "%s comes from another cluster: %s. Choose a snapshot of this cluster with "
                "-e db_to_restore=<name>, or, to move that cluster's data here on purpose, add "
                "-e etcd_restore_allow_foreign_cluster=true." % (db, why))))
    elif origin == "unknown":
        notes.append("The snapshot's cluster could not be checked (%s)." % why)

    check, snap, lowest = version_check(meta.get("etcd_version"), versions)
    if check == "newer":
        if f.get("allow_newer_version"):
            notes.append("The snapshot was taken by etcd %s, newer than the members' %s; restoring it as "
                         "asked (etcd_restore_allow_newer_version=true)." % (_dotted(snap), _dotted(lowest)))
        else:
            refusals.append(_refusal("restore_newer_version", (
                "%s was taken by etcd %s, a newer minor version than the members run (%s): etcd %s may "
                "not read its data. Upgrade the members' etcd to %s.%s first (playbooks/02.etcd.yml with "
                "the newer binaries), choose an older snapshot with -e db_to_restore=<name>, or, knowing "
                "the risk, add -e etcd_restore_allow_newer_version=true." % (
                    db, _dotted(snap), ", ".join(sorted(set(_dotted(v) for v in versions.values() if v))),
                    _dotted(lowest), snap[0], snap[1]))))
    elif check == "newer_patch":
        notes.append("The snapshot was taken by etcd %s, a newer patch release of the members' %s "
                     "(same data format)." % (_dotted(snap), _dotted(lowest)))
    elif check == "unknown" and members:
        notes.append("The etcd version of the snapshot could not be compared (%s)."
                     % ("no etcd_version in its metadata" if not snap else "no member version"))

    keep_aside = f.get("keep_aside")
    if keep_aside not in (None, "", 0, "0"):
        notes.append("etcd_restore_keep_aside=%s is ignored: a restore never removes moved-aside "
                     "directories. List and prune them with playbooks/prune-aside.yml "
                     "-e etcd_prune_keep=<N> (--check lists what it would remove)." % keep_aside)

    skip = not refusals and already_restored(f)
    return {"refusal": pick(refusals), "refusals": refusals, "notes": notes, "skip": skip,
            "lock_state": state, "lock_holder": holder, "known_cluster_ids": known, "origin": origin}


def already_restored(facts):
    """The cluster runs a restore of this very snapshot and nothing was written since: the record
    written right after it has the same sha256, cluster ID, revision and members, and every
    member's marker names the snapshot."""
    live = facts.get("live") or {}
    last = facts.get("record") or {}
    sha = facts.get("known_sha256") or ""
    markers = dict((h, i.get("marker")) for h, i in (facts.get("hosts") or {}).items())
    if not (live.get("healthy") and sha and last.get("sha256") == sha):
        return False
    if str(last.get("cluster_id", "")) != str(live.get("cluster_id", "-")):
        return False
    try:
        if int(last.get("revision", -1)) != int(live.get("revision", -2)):
            return False
    except (TypeError, ValueError):
        return False
    if last.get("initial_cluster", "") != facts.get("initial_cluster"):
        return False
    return bool(markers) and all(sha in (text or "") for text in markers.values())


# --- phase 2: the snapshot's content, once the lock is held ------------------------------------------
def content_refusal(facts):
    """The refusal once the lock is held ({} when none): another run took the lock in between, age
    failed, the sha256 differs, or the snapshot does not verify on the controller."""
    return pick(_content_refusals(facts))


def _content_refusals(facts):
    f = dict(facts or {})
    db = f.get("db", "")
    lock = f.get("lock_result") or {}
    if lock and not lock.get("skipped") and lock.get("rc", 0) != 0:
        return [_refusal("restore_locked", (
            "%s was taken by another run a moment ago (%s). Wait until that run ends, then run this "
            "command again." % (f.get("lock_path", LOCK_NAME), (lock.get("stderr") or "").strip())))]
    decrypt = f.get("decrypt_result") or {}
    if decrypt and not decrypt.get("skipped") and decrypt.get("rc", 0) != 0:
        return [_refusal("restore_decrypt_failed", (
            "age could not decrypt %s.age with %s: %s. Give the identity that matches the backup's "
            "recipient with -e etcd_restore_age_identity_file=<path>." % (
                f.get("plain", db), f.get("identity_file", "?"),
                (decrypt.get("stderr") or decrypt.get("msg") or "").strip()[:300])))]
    actual = str(f.get("sha256") or "")
    expected = str(f.get("expected_sha256") or "").lower()
    if expected and actual and actual != expected:
        return [_refusal("restore_checksum_mismatch", (
            "The sha256 of %s is %s, but its checksum says %s: the file changed after the backup. "
            "%sChoose another snapshot with -e db_to_restore=<name>." % (
                db, actual or "?", expected,
                "kubeasz's `ezctl backup` copies its own snapshot onto snapshot.db (cp -f) without our "
                "checksum; its snapshot_<stamp>.db files beside ours are restorable by name. "
                if db == "snapshot.db" else "")))]
    status = f.get("status_result") or {}
    if status and not status.get("skipped") and not status.get("snapshot"):
        return [_refusal("restore_invalid_snapshot", (
            "%s cannot be restored: %s. Choose another snapshot with -e db_to_restore=<name>." % (
                db, (status.get("msg") or "it does not verify").strip().rstrip("."))))]
    return []


# --- resuming a restore: which members keep their restored data, with which token ---------------------
def resume(hosts, wanted, fresh_token, explicit_token=""):
    """Decide the token and the members whose directories already hold an untouched restore.

    hosts: {host: {'name': member name, 'marker': dict or None, 'marker_mtime': float,
                   'newest_mtime': float (newest file of its data/WAL dirs)}}
    wanted: {'sha256': ..., 'initial_cluster': sorted 'name=url,...'}.
    An untouched restore of this snapshot for the same member and cluster is kept, with its token
    (the newest such restore's when they differ), so that a resumed run restores the other members
    with the token the kept ones already have; otherwise the run's fresh token is used.
    -> {'token': ..., 'pristine': [hosts]}
    """
    candidates = {}
    for host, info in sorted((hosts or {}).items()):
        marker = info.get("marker") or {}
        if (marker.get("snapshot_sha256") == wanted.get("sha256")
                and marker.get("name") == info.get("name")
                and marker.get("initial_cluster") == wanted.get("initial_cluster")
                and marker.get("initial_cluster_token")
                and float(info.get("newest_mtime") or 0) <= float(info.get("marker_mtime") or 0)):
            candidates[host] = marker
    if explicit_token:
        token = explicit_token
    elif candidates:
        token = sorted(candidates.values(), key=lambda m: str(m.get("restored_at", "")))[-1]["initial_cluster_token"]
    else:
        token = fresh_token
    return {"token": token,
            "pristine": sorted(h for h, m in candidates.items() if m.get("initial_cluster_token") == token)}


# --- after a failure ---------------------------------------------------------------------------------
def rollback(facts):
    """The exact way back after a restore failed once etcd was stopped, as lines to print.

    facts: {'db', 'stamp', 'inventory', 'members': {host: [{'from': dir, 'to': dir.<stamp>}...]},
            'dirs': [data_dir, wal_dir?], 'control_plane': {host: [services this run stopped]},
            'control_plane_hosts': [...], 'services': [...]}
    """
    f = dict(facts or {})
    stamp = f.get("stamp", "<stamp>")
    lines = [
        "The restore of %s failed after etcd was stopped: the cluster is down." % f.get("db", "the snapshot"),
        "The usual fix: run the same ansible-playbook command again; it resumes the restore (members "
        "that already hold it keep it) and starts the Kubernetes control plane at the end.",
        "To go back to the data from before the restore instead, on every member:",
    ]
    dirs = [d for d in f.get("dirs") or [] if d]
    for host, moved in sorted((f.get("members") or {}).items()):
        steps = ["systemctl stop etcd"]
        for item in moved or []:
            src, aside = item["from"], item["to"]
            if item.get("how") == "contents moved":
                # a mount point: its entries (not the asides, not lost+found) swap places instead
                failed = "%s/.ezops-failed-%s" % (src, stamp)
                steps.append("mkdir %s" % failed)
                steps.append("find %s -mindepth 1 -maxdepth 1 ! -name '.ezops-*' ! -name lost+found "
                             "-exec mv -t %s {} +" % (src, failed))
                steps.append("find %s -mindepth 1 -maxdepth 1 -exec mv -t %s {} +" % (aside, src))
                steps.append("rmdir %s" % aside)
                continue
            steps.append("{ [ ! -e %s ] || mv %s %s.failed-%s; }" % (src, src, src, stamp))
            steps.append("mv %s %s" % (aside, src))
        if moved:
            lines.append("  %s: %s" % (host, " && ".join(steps)))
        else:
            lines.append("  %s: this run moved nothing aside there; its data from before the restore is in the "
                         "newest of %s (ls -d %s): stop etcd and move it back the same way (the current "
                         "directory to <dir>.failed-%s, the moved-aside one to <dir>)." % (
                             host, ", ".join("%s.<YYYYmmddHHMMSS>" % d for d in dirs),
                             " ".join("%s.*" % d for d in dirs), stamp))
    lines.append("then start etcd on every member at the same time (systemctl start etcd, or: ansible -i %s %s "
                 "-b -m ansible.builtin.systemd_service -a 'name=etcd state=started') and check it with "
                 "playbooks/status.yml." % (f.get("inventory", "<inventory>"), f.get("group", "etcd")))
    stopped = dict((h, s) for h, s in (f.get("control_plane") or {}).items() if s)
    if stopped:
        lines.append("The Kubernetes control plane is still stopped. Once etcd is healthy again, start it: %s."
                     % "; ".join("on %s: systemctl start %s" % (h, " ".join(s)) for h, s in sorted(stopped.items())))
    elif f.get("control_plane_hosts"):
        lines.append("The Kubernetes services (%s) on %s may still be stopped: once etcd is healthy again, "
                     "start them with systemctl start." % (" ".join(f.get("services") or []),
                                                           ", ".join(f.get("control_plane_hosts"))))
    return lines


def pick(refusals):
    """One refusal for ezops.etcd.refuse: the first code, every message."""
    refusals = list(refusals or [])
    if not refusals:
        return {}
    msg = " ".join(r["msg"].replace(FIX_SUFFIX, "").strip() for r in refusals)
    return {"code": refusals[0]["code"], "msg": msg + " " + FIX_SUFFIX}


class FilterModule(object):
    def filters(self):
        return {
            "etcd_restore_preflight": preflight,
            "etcd_restore_content": content_refusal,
            "etcd_restore_resume": resume,
            "etcd_restore_rollback": rollback,
        }
