# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The unit_flags and systemd_sandbox filters: the version-gated flags and the sandbox directives
of the etcd unit. The version table and the directives live in module_utils/etcd_flags.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_flags import systemd_sandbox, unit_flags


def _unit_flags(flags, version):
    if not isinstance(flags, dict):
        raise AnsibleFilterError("unit_flags expects a mapping of flag name to value")
    try:
        return unit_flags(flags, version)
    except ValueError as exc:
        raise AnsibleFilterError("unit_flags: %s" % exc) from exc


def _systemd_sandbox(data_dir, wal_dir="", overrides=None):
    try:
        return systemd_sandbox(data_dir, wal_dir, overrides)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"unit_flags": _unit_flags, "systemd_sandbox": _systemd_sandbox}
