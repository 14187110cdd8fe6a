# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The systemd_time filter: a timestamp that systemctl printed, as seconds since the epoch."""

from __future__ import annotations

import datetime
import re

from ansible.errors import AnsibleFilterError

# "Mon 2026-11-23 14:21:59.123456 UTC", as `systemctl show --timestamp=us+utc` prints it.
_US_UTC = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) UTC$")
_UNIX = re.compile(r"@(\d+)$")
_NEVER = ("", "n/a", "0")


def systemd_time(value):
    """Seconds since the epoch (a float, microseconds kept) for a systemctl timestamp.

    Takes the value alone or a whole "Property=value" line. A unit that never entered the state
    prints an empty value: that is 0.0, so every file counts as newer than it.
    """
    if not isinstance(value, str):
        raise AnsibleFilterError("systemd_time expects the text systemctl printed, got %s" % type(value).__name__)
    text = value.strip().split("=", 1)[-1].strip()
    if text in _NEVER:
        return 0.0
    unix = _UNIX.search(text)
    if unix:
        return float(unix.group(1))
    found = _US_UTC.search(text)
    if not found:
        raise AnsibleFilterError(
            "systemd_time cannot read %r: run systemctl show with --timestamp=us+utc "
            "(systemd 248 or later)" % value
        )
    stamp = found.group(1)
    layout = "%Y-%m-%d %H:%M:%S.%f" if "." in stamp else "%Y-%m-%d %H:%M:%S"
    moment = datetime.datetime.strptime(stamp, layout).replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


class FilterModule:
    def filters(self):
        return {"systemd_time": systemd_time}
