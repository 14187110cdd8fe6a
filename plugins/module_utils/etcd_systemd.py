# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What systemctl prints and what environment files hold, read once for modules and filters."""

from __future__ import annotations

import datetime
import re

# "Mon 2026-11-23 14:21:59.123456 UTC", as `systemctl show --timestamp=us+utc` prints it.
_US_UTC = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) UTC$")
_UNIX = re.compile(r"@(\d+)$")
_NEVER = ("", "n/a", "0")
SHOW_ARGS = ["--timestamp=us+utc",
             "--property=LoadState,UnitFileState,ActiveState,NeedDaemonReload,ActiveEnterTimestamp"]


def systemd_time(value):
    """Seconds since the epoch (a float, microseconds kept) for a systemctl timestamp.

    Takes the value alone or a whole "Property=value" line. A unit that never entered the state
    prints an empty value: that is 0.0, so every file counts as newer than it. Raises ValueError
    for text it cannot read.
    """
    text = value.strip().split("=", 1)[-1].strip()
    if text in _NEVER:
        return 0.0
    unix = _UNIX.search(text)
    if unix:
        return float(unix.group(1))
    found = _US_UTC.search(text)
    if not found:
        raise ValueError("cannot read %r: run systemctl show with --timestamp=us+utc (systemd 248 or later)" % value)
    stamp = found.group(1)
    layout = "%Y-%m-%d %H:%M:%S.%f" if "." in stamp else "%Y-%m-%d %H:%M:%S"
    return datetime.datetime.strptime(stamp, layout).replace(tzinfo=datetime.timezone.utc).timestamp()


def parse_show(text):
    """``systemctl show`` output -> {property: value}."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def service_state(show_text):
    """The state a deploy decides on, from ``systemctl show <unit> SHOW_ARGS``."""
    props = parse_show(show_text)
    return {"loaded": props.get("LoadState") == "loaded",
            "enabled": props.get("UnitFileState") in ("enabled", "enabled-runtime"),
            "active": props.get("ActiveState") == "active",
            "needs_daemon_reload": props.get("NeedDaemonReload") == "yes",
            "active_since": systemd_time(props.get("ActiveEnterTimestamp", ""))}


def parse_env(text):
    """KEY=value lines of an environment file (comments and blank lines skipped, quotes removed)."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env
