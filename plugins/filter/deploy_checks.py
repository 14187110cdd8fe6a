# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The deploy_problems, deploy_host_problems, data_dir_problems and etcd_foreign_changes filters: what 02.etcd.yml (and
every playbook that installs a member, or moves a data dir aside) refuses before it changes
anything. The rules live in module_utils."""

from __future__ import annotations

import base64
import posixpath

from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_deploy_checks import (
    deploy_problems,
    foreign_changes,
    host_problems,
    path_problems,
)


def _deploy_problems(settings):
    if not isinstance(settings, dict):
        raise AnsibleFilterError("deploy_problems expects a mapping of settings")
    return deploy_problems(settings)


def deploy_host_problems(facts):
    """Host-side problems from the read-only facts of one host.

    facts: host, data_dir, wal_dir, user, passwd (the getent passwd fields of user, or None),
    stat (the results of a stat loop over the dirs), find (the result of a find over the existing dirs).
    """
    if not isinstance(facts, dict):
        raise AnsibleFilterError("deploy_host_problems expects a mapping of facts")
    dirs = {}
    for result in facts.get("stat") or []:
        stat = result.get("stat") or {}
        dirs[result.get("item")] = {"exists": bool(stat.get("exists")), "isdir": bool(stat.get("isdir")), "entries": []}
    for found in (facts.get("find") or {}).get("files") or []:
        parent = posixpath.dirname(found.get("path", ""))
        if parent in dirs:
            dirs[parent]["entries"].append(posixpath.basename(found["path"]))
    return host_problems(facts.get("host"), facts.get("data_dir"), facts.get("wal_dir") or "", facts.get("user"),
                         facts.get("passwd"), dirs)


def data_dir_problems(data_dir, wal_dir="", protected=None):
    """The path rules alone, for roles that move a data dir aside (restore, recovery, removal)."""
    if protected is not None and not isinstance(protected, dict):
        raise AnsibleFilterError("data_dir_problems expects protected as a mapping of label to path")
    return path_problems(data_dir, wal_dir or "", protected)


def etcd_foreign_changes(facts):
    """facts: host, unit (the result of slurping the unit before this run), rehomed (the result of
    handing the data dirs to the user), dirs, user."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError("etcd_foreign_changes expects a mapping of facts")
    unit = facts.get("unit") or {}
    unit_text = base64.b64decode(unit["content"]).decode("utf-8", "replace") if unit.get("content") else None
    return foreign_changes(facts.get("host"), unit_text, bool((facts.get("rehomed") or {}).get("changed")),
                           list(facts.get("dirs") or []), facts.get("user"))


class FilterModule:
    def filters(self):
        return {"deploy_problems": _deploy_problems, "deploy_host_problems": deploy_host_problems,
                "data_dir_problems": data_dir_problems, "etcd_foreign_changes": etcd_foreign_changes}
