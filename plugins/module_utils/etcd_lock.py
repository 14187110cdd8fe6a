# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The cluster's lock on the controller, ``cluster_dir/.ezops-etcd.lock``.

A restore (and a real prune) creates it atomically with who, when and what it does, and removes it
when it ends. A backup or a deploy that started while it is held would read or restart a cluster in
the middle of a restore, so they refuse too; a restore of the same snapshot and members takes over
the lock its own killed run left (``lock_state`` 'ours').
"""

from __future__ import annotations

import json

LOCK_NAME = ".ezops-etcd.lock"


def lock_holder(text):
    """The lock's content as a dict ({} when there is no lock, {'unreadable': text} when it cannot
    be read, for example when a run was killed while writing it)."""
    if text is None or not str(text).strip():
        return {} if text is None else {"unreadable": ""}
    try:
        data = json.loads(text)
    except ValueError:
        return {"unreadable": str(text)[:200]}
    return data if isinstance(data, dict) else {"unreadable": str(text)[:200]}


def lock_state(text, identity, exists=None):
    """'free', 'ours' (a run of the same operation was killed: take it over) or 'held'."""
    if exists is False or (exists is None and text is None):
        return "free"
    holder = lock_holder(text if text is not None else "")
    if holder.get("unreadable") is not None:
        return "held"
    same = all(holder.get(key) == value for key, value in identity.items())
    return "ours" if same else "held"


def describe_holder(holder):
    """-> (what holds the lock, the machine it runs on), for people."""
    if holder.get("unreadable") is not None:
        return ("an unreadable lock (%r), probably from a run killed while it took the lock" % holder["unreadable"],
                "the controller")
    parts = [str(holder.get("operation") or "an unnamed operation")]
    for key, text in (("snapshot", "of %s"), ("members", "on members %s"), ("started", "started %s"),
                      ("user", "by %s"), ("controller", "on %s"), ("run_id", "(run %s)")):
        value = holder.get(key)
        if value:
            parts.append(text % (", ".join(value) if isinstance(value, list) else value))
    return " ".join(parts), holder.get("controller") or "the controller"


def lock_refusal(lock_path, holder, code="restore_locked", doing="this command"):
    """The refusal of a run that finds the lock held by another run: {'code', 'msg'}."""
    what, where = describe_holder(holder)
    msg = ("%s is held by %s. Another run works on this cluster: if it is still going, wait until it ends, "
           "then run %s again. If it was killed, make sure no ansible-playbook of it still runs on %s "
           "(pgrep -af ansible-playbook), then clear the lock with: rm %s. A restore of the same snapshot with "
           "the same members takes over its own lock by itself." % (lock_path, what, doing, where, lock_path))
    return {"code": code, "msg": " ".join(msg.split())}


def held_lock_refusal(text, lock_path, code, doing="this command"):
    """For a run that never takes the lock (backup, deploy): {} when ``text`` is None (no lock file),
    else the refusal naming who holds it."""
    if text is None:
        return {}
    return lock_refusal(lock_path, lock_holder(text), code, doing)
