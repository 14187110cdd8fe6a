#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_move_aside
short_description: Move an etcd data or WAL directory aside, or copy it, never deleting anything
version_added: 0.2.0
description:
  - Moves each directory in O(path) aside to C(<dir>.<stamp>) (O(method=move)), copies it there with
    C(cp -a) while it stays in place (O(method=copy)), or only checks free space (O(method=none)).
  - B(A mount point) cannot be renamed. Its contents are moved into C(<dir>/.ezops-aside-<stamp>/) on
    the same file system (a rename each, no copy, no space needed); the file system's C(lost+found) and
    earlier asides stay. etcd starts on such a directory (it ignores the hidden entry with a warning);
    C(etcdutl snapshot restore) needs an empty target, so a restore into a mount point must restore into
    a temporary directory inside it and move the result in. The aside takes space on the data disk until
    it is pruned.
  - A separate WAL directory that is a mount point and holds WAL files is refused (RV(refusal)
    C(aside_wal_mount_point)) - etcd cannot create a new WAL there and would first delete its contents
    (etcd-io/etcd#20218).
  - Idempotent with the same O(stamp) - a directory already moved (the target exists and the directory is
    empty or absent) is left alone, and so is an existing copy. An existing target is never overwritten.
    A copy is made under C(<dir>.<stamp>.partial) and renamed when complete; a C(.partial) left by a run
    that was cut off is removed and made again (the data it copies is still in place).
  - After a rename an empty directory with the old one's owner and mode is put back (O(recreate)), because
    the unit's sandbox (C(ReadWritePaths)) needs the path to exist.
  - Before anything is moved, every directory is checked - a process with files open in it (etcd still
    running) is refused, and a copy needs the size of the tree plus 5 % and O(space_margin_mb) free on the
    target's file system. Run it with O(check_only=true) (or in check mode) B(before stopping etcd) to learn
    about mount points, WAL mounts and free space while nothing is stopped yet.
  - Failures carry RV(refusal), a stable code, like C(ezops.etcd.refuse).
author:
  - ezops.etcd developers (@ezops)
attributes:
  check_mode:
    support: full
    description: Plans, checks free space and reports what would move; moves nothing.
  diff_mode:
    support: full
    description: What each directory held before and where it went after.
options:
  path:
    description:
      - The directories (data dir, then WAL dir). An absent directory is not an error. A symbolic link is
        followed and the real directory is moved.
    type: list
    elements: path
    required: true
  stamp:
    description:
      - The 14-digit time stamp (C(YYYYmmddHHMMSS)) of the run. Choose it once per run and pass the same value
        when the run is repeated, so a re-run finds what it moved. Required unless O(method=none).
    type: str
  method:
    description:
      - V(move) renames the directory (or moves a mount point's contents), V(copy) copies it with C(cp -a)
        (owner, mode, times, links kept) and leaves it in place, V(none) moves nothing and only checks that
        O(reserve_bytes) plus the margin are free on each directory's file system.
    type: str
    choices: [move, copy, none]
    default: move
  check_only:
    description:
      - Plan and check (mount points, WAL mounts, overlapping paths, free space) and fail on any problem,
        without changing anything and without the in-use check. Meant to run before etcd is stopped.
    type: bool
    default: false
  recreate:
    description: After a rename, create an empty directory in its place with the old owner and mode.
    type: bool
    default: true
  reserve_bytes:
    description:
      - Bytes that must also be free on each directory's file system (for example the size of a snapshot
        about to be restored there). Added to what a copy needs.
    type: int
    default: 0
  space_margin_mb:
    description: MiB kept free on top of what is written (0 for none). Applies only when something is written.
    type: int
    default: 64
notes:
  - Runs on the host that holds the directories; no etcd client is needed (not in the C(etcd) action group).
"""

EXAMPLES = r"""
- name: Before stopping etcd, check that its directories can be moved aside
  ezops.etcd.etcd_move_aside:
    path: [/var/lib/etcd]
    stamp: "{{ __stamp }}"
    check_only: true

- name: Move them aside (etcd stopped)
  ezops.etcd.etcd_move_aside:
    path: [/var/lib/etcd, /var/lib/etcd-wal]
    stamp: "{{ __stamp }}"
  register: aside

- name: Keep a copy of the survivor's data, which stays in place
  ezops.etcd.etcd_move_aside:
    path: [/var/lib/etcd]
    stamp: "{{ __stamp }}"
    method: copy

- name: Is there room for 1 GiB in the backup directory?
  ezops.etcd.etcd_move_aside:
    path: [/etc/kubeasz/clusters/k8s/backup]
    method: none
    reserve_bytes: 1073741824
    space_margin_mb: 16
  delegate_to: localhost
"""

RETURN = r"""
dirs:
  description: The plan of each directory of O(path), in order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The directory as given.
      type: str
      returned: always
    real_path:
      description: The directory with symbolic links resolved.
      type: str
      returned: always
    exists:
      description: Whether it exists as a directory.
      type: bool
      returned: always
    mount_point:
      description: Whether it is a mount point.
      type: bool
      returned: always
    action:
      description: V(none), V(rename), V(contents) (of a mount point) or V(copy).
      type: str
      returned: always
    target:
      description: Where it goes (or went).
      type: str
      returned: always
    entries:
      description: The entries that move (or are copied).
      type: list
      elements: str
      returned: always
    reason:
      description: Why this action.
      type: str
      returned: always
    need_bytes:
      description: Free bytes needed on the file system of RV(dirs[].space_path).
      type: int
      returned: always
    free_bytes:
      description: Free bytes there (null when not measured).
      type: int
      returned: always
    space_path:
      description: Where free space was measured.
      type: str
      returned: always
    need_text:
      description: RV(dirs[].need_bytes) for people (C(16 MiB), C(24.0 KiB)).
      type: str
      returned: always
    free_text:
      description: RV(dirs[].free_bytes) for people, or null.
      type: str
      returned: always
    resume:
      description: Whether an unfinished move of a mount point's contents is being finished.
      type: bool
      returned: always
moved:
  description: What was moved or copied, as C({from, to, how}), and the directories put back (C({created})).
  returned: always
  type: list
  elements: dict
  sample: [{"from": /var/lib/etcd, "to": /var/lib/etcd.20261122183000, "how": renamed}, {"created": /var/lib/etcd}]
problems:
  description: Every reason not to go ahead, as C({code, msg}).
  returned: always
  type: list
  elements: dict
refusal:
  description: The code of the first problem.
  returned: failed because of a problem
  type: str
  sample: aside_no_space
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_aside import (
    AsideProblem,
    apply_dir,
    human,
    in_use_problems,
    needs_recreate,
    plan,
)

_PUBLIC = ("path", "real_path", "exists", "mount_point", "action", "target", "entries", "reason",
           "need_bytes", "free_bytes", "space_path", "resume")


def _public(one):
    out = dict((key, one.get(key)) for key in _PUBLIC)
    out["need_text"] = human(one.get("need_bytes") or 0)
    out["free_text"] = human(one["free_bytes"]) if one.get("free_bytes") is not None else None
    return out


def _diff(plans, check_only):
    before, after = {}, {}
    for one in plans:
        if one["action"] == "none" or check_only:
            continue
        before[one["path"]] = {"entries": one["entries"], "aside": None}
        after[one["path"]] = {"entries": one["entries"] if one["action"] == "copy" else [], "aside": one["target"]}
    return {"before": before, "after": after}


def run(module, runner):
    params = module.params
    result = {"changed": False, "dirs": [], "moved": [], "problems": []}
    try:
        plans, problems = plan(params["path"], params["stamp"], params["method"], params["reserve_bytes"],
                               params["space_margin_mb"])
    except AsideProblem as exc:
        result["problems"] = [{"code": exc.code, "msg": exc.msg}]
        return result, exc.msg, exc.code
    if not params["check_only"] and not module.check_mode:
        problems = problems + in_use_problems(plans)
    result.update(dirs=[_public(one) for one in plans], problems=problems)
    if problems:
        return result, " ".join(p["msg"] for p in problems), problems[0]["code"]
    todo = [one for one in plans if one["action"] != "none" or needs_recreate(one, params["recreate"])]
    result["diff"] = _diff(plans, params["check_only"])
    if params["check_only"] or module.check_mode:
        result["changed"] = bool(todo) and not params["check_only"]
        return result, None, None
    for one in todo:
        try:
            result["moved"].extend(apply_dir(one, params["recreate"], runner))
        except AsideProblem as exc:
            result["changed"] = bool(result["moved"])
            return result, exc.msg, exc.code
        except OSError as exc:
            result["changed"] = bool(result["moved"])
            return result, ("moving %s aside failed: %s. Done so far: %s. Nothing was deleted; run again "
                            "with the same stamp once the cause is fixed." % (one["path"], exc, result["moved"] or "nothing")), \
                "aside_failed"
    result["changed"] = bool(result["moved"])
    return result, None, None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="list", elements="path", required=True),
            stamp=dict(type="str"),
            method=dict(type="str", default="move", choices=["move", "copy", "none"]),
            check_only=dict(type="bool", default=False),
            recreate=dict(type="bool", default=True),
            reserve_bytes=dict(type="int", default=0),
            space_margin_mb=dict(type="int", default=64),
        ),
        required_if=[("method", "move", ("stamp",)), ("method", "copy", ("stamp",))],
        supports_check_mode=True,
    )
    result, msg, code = run(module, module.run_command)
    if msg:
        module.fail_json(msg=msg, refusal=code, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
