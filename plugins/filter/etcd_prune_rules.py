# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What playbooks/prune-aside.yml may remove (filters of the etcd_prune role).

Restores, quorum recovery and member removal move a data or WAL directory aside to
``<dir>.<YYYYmmddHHMMSS>``; nothing removes those by itself. Pruning is asked for explicitly with a
keep count: per live directory, the newest ``keep`` moved-aside siblings stay, older ones go. The
live directories themselves, and any name that is not exactly ``<live dir>.<14 digits>``, are never
in the plan.
"""

from __future__ import annotations

import posixpath
import re

from ansible.errors import AnsibleFilterError
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_aside import ASIDE_PREFIX

_STAMP = re.compile(r"^[0-9]{14}$")
FIX_SUFFIX = "Nothing was changed on any host."


def _refusal(code, msg):
    return {"code": code, "msg": " ".join(msg.split())}


def _norm(path):
    path = (path or "").strip()
    return posixpath.normpath(path) if path.startswith("/") else path


def parse_keep(keep):
    """-> (int or None, refusal or None)."""
    if keep is None or (isinstance(keep, str) and not keep.strip()):
        return None, _refusal("prune_keep_missing", (
            "Say how many moved-aside directories to keep per data and WAL directory: "
            "-e etcd_prune_keep=<N> (N >= 0, the newest N stay). Add --check to only list what "
            "would be removed."))
    if isinstance(keep, bool):
        value = None
    elif isinstance(keep, int):
        value = keep
    elif isinstance(keep, str) and re.match(r"^\s*-?[0-9]+\s*$", keep):
        value = int(keep)
    else:
        value = None
    if value is None or value < 0:
        return None, _refusal("prune_keep_invalid", (
            "etcd_prune_keep=%r is not a whole number >= 0. Give how many of the newest "
            "moved-aside directories to keep, for example -e etcd_prune_keep=3 (0 removes them "
            "all); add --check to only list what would be removed." % (keep,)))
    return value, None


def refusal(keep, live_dirs, lock_exists=False, lock_path="", check_mode=False):
    """The refusal for ezops.etcd.refuse ({} when the prune may run): the first problem's code,
    every problem's message."""
    return pick(refusals(keep, live_dirs, lock_exists, lock_path, check_mode))


def refusals(keep, live_dirs, lock_exists=False, lock_path="", check_mode=False):
    """Every reason to refuse the prune."""
    out = []
    _value, problem = parse_keep(keep)
    if problem:
        out.append(problem)
    for setting, path in zip(("ETCD_DATA_DIR", "ETCD_WAL_DIR"), live_dirs or []):
        if setting == "ETCD_WAL_DIR" and not path:
            continue
        norm = _norm(path)
        if not norm.startswith("/") or norm == "/" or ".." in (path or "").split("/"):
            out.append(_refusal("prune_dir_invalid", (
                "%s=%r is not an absolute path of a data directory. Set it as in the etcd unit "
                "(--data-dir / --wal-dir)." % (setting, path))))
    if lock_exists and not check_mode:
        out.append(_refusal("prune_locked", (
            "%s exists: a restore or another run works on this cluster, and may need the directories "
            "it moved aside. Run the prune once it has ended; if it was killed and will not be run "
            "again, remove the lock first: rm %s. (--check lists without removing, even now.)"
            % (lock_path, lock_path))))
    return out


def pick(found):
    """One refusal for ezops.etcd.refuse: the first code, every message."""
    found = list(found or [])
    if not found:
        return {}
    return {"code": found[0]["code"], "msg": " ".join(r["msg"] for r in found) + " " + FIX_SUFFIX}


def _aside_stamp(path, directory):
    """The stamp of ``path`` when it is an aside of the live ``directory``: its sibling
    ``<dir>.<stamp>``, or ``<dir>/.ezops-aside-<stamp>`` inside a mount point; else None."""
    name = posixpath.basename(path)
    if posixpath.dirname(path) == posixpath.dirname(directory):
        prefix = posixpath.basename(directory) + "."
    elif posixpath.dirname(path) == directory:
        prefix = ASIDE_PREFIX
    else:
        return None
    stamp = name[len(prefix):] if name.startswith(prefix) else ""
    return stamp if _STAMP.match(stamp) else None


def plan(paths, live_dirs, keep):
    """Split the moved-aside siblings of each live directory into those kept and those removed.

    paths: candidate paths (for example the ``path`` of ansible.builtin.find results); only those
    named exactly ``<live dir>.<YYYYmmddHHMMSS>`` or ``<live dir>/.ezops-aside-<YYYYmmddHHMMSS>`` (a
    mount point's contents moved aside inside it) are considered, newest stamp first.
    -> {'groups': [{'dir': ..., 'keep': [...], 'remove': [...]}], 'keep': [...], 'remove': [...]}
    """
    value, problem = parse_keep(keep)
    if problem:
        raise AnsibleFilterError(problem["msg"])
    live = []
    for path in live_dirs or []:
        norm = _norm(path)
        if norm and norm not in live:
            live.append(norm)
    seen = set()
    groups = []
    for directory in live:
        siblings = []
        for path in paths or []:
            norm = _norm(path)
            if norm in seen or norm in live:
                continue
            stamp = _aside_stamp(norm, directory)
            if stamp:
                siblings.append((stamp, norm))
                seen.add(norm)
        siblings = [path for _stamp, path in sorted(siblings, reverse=True)]
        groups.append({"dir": directory, "keep": siblings[:value], "remove": siblings[value:]})
    return {"groups": groups,
            "keep": [p for g in groups for p in g["keep"]],
            "remove": [p for g in groups for p in g["remove"]]}


class FilterModule(object):
    def filters(self):
        return {
            "etcd_prune_refusal": refusal,
            "etcd_prune_plan": plan,
        }
