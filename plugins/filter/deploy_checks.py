# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The deploy_problems, deploy_host_problems, data_dir_problems, etcd_foreign_changes and
etcd_member_count_warning filters: what 02.etcd.yml (and
every playbook that installs a member, or moves a data dir aside) refuses before it changes
anything. The rules live in module_utils."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_deploy_checks import (
    deploy_problems,
    foreign_changes,
    host_problems,
    member_count_warning,
    path_problems,
)


def _deploy_problems(settings):
    if not isinstance(settings, dict):
        raise AnsibleFilterError("deploy_problems expects a mapping of settings")
    return deploy_problems(settings)


def deploy_host_problems(facts):
    """Host-side problems from the read-only facts of one host.

    facts: host, data_dir, wal_dir, user, passwd (the passwd fields of user, or None) and dirs
    (path -> exists, isdir, entries), as module etcd_member_state reports them.
    """
    if not isinstance(facts, dict):
        raise AnsibleFilterError("deploy_host_problems expects a mapping of facts")
    return host_problems(facts.get("host"), facts.get("data_dir"), facts.get("wal_dir") or "", facts.get("user"),
                         facts.get("passwd"), facts.get("dirs") or {})


def data_dir_problems(data_dir, wal_dir="", protected=None):
    """The path rules alone, for roles that move a data dir aside (restore, recovery, removal)."""
    if protected is not None and not isinstance(protected, dict):
        raise AnsibleFilterError("data_dir_problems expects protected as a mapping of label to path")
    return path_problems(data_dir, wal_dir or "", protected)


def etcd_foreign_changes(facts):
    """facts: host, unit (the text of the unit before this run, None when there was none), installed
    (the result of etcd_member_files, which handed the data dirs to the user), dirs, user."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError("etcd_foreign_changes expects a mapping of facts")
    dirs = list(facts.get("dirs") or [])
    handed = (facts.get("installed") or {}).get("dirs") or {}
    rehomed = any((handed.get(path) or {}).get("changed_below") for path in dirs)
    return foreign_changes(facts.get("host"), facts.get("unit"), rehomed, dirs, facts.get("user"))


def etcd_member_count_warning(count, group="etcd"):
    """count: the number of members; group: the inventory group named in the warning."""
    try:
        count = int(count)
    except (TypeError, ValueError):
        raise AnsibleFilterError("etcd_member_count_warning expects a number of members, not %r" % (count,))
    return member_count_warning(group, count)


class FilterModule:
    def filters(self):
        return {"deploy_problems": _deploy_problems, "deploy_host_problems": deploy_host_problems,
                "data_dir_problems": data_dir_problems, "etcd_foreign_changes": etcd_foreign_changes,
                "etcd_member_count_warning": etcd_member_count_warning}
