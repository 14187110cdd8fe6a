# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The systemd_time filter: a timestamp that systemctl printed, as seconds since the epoch."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_systemd import systemd_time as _systemd_time


def systemd_time(value):
    """Seconds since the epoch for a timestamp systemctl printed (module_utils/etcd_systemd)."""
    if not isinstance(value, str):
        raise AnsibleFilterError("systemd_time expects the text systemctl printed, got %s" % type(value).__name__)
    try:
        return _systemd_time(value)
    except ValueError as exc:
        raise AnsibleFilterError("systemd_time %s" % exc)


class FilterModule:
    def filters(self):
        return {"systemd_time": systemd_time}
