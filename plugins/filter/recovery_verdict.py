# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The recovery_verdict filter: whether a quorum recovery may force a new cluster (etcd_quorum)."""

from __future__ import annotations

import base64
import re

from ansible.errors import AnsibleFilterError
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_quorum import recovery_verdict as _verdict


def _stamp_text(value):
    """A slurp result (base64 content; failed when the file is absent) or plain text -> text."""
    if isinstance(value, dict):
        if value.get("failed") or value.get("skipped") or not value.get("content"):
            return None
        try:
            return base64.b64decode(value["content"]).decode("utf-8", "replace")
        except (TypeError, ValueError) as exc:
            raise AnsibleFilterError("recovery_verdict: a stamp is not base64 (%s)" % exc)
    return value or None


def _wal_count(value):
    """A find result (matched) or a number -> number of WAL files."""
    if isinstance(value, dict):
        return int(value.get("matched") or 0)
    return int(value or 0)


def _running(value):
    """A ``systemctl show --property=MainPID`` command result (or a bool) -> whether etcd runs."""
    if isinstance(value, dict):
        match = re.search(r"^MainPID=(\d+)", value.get("stdout") or "", re.MULTILINE)
        return bool(match and int(match.group(1)) > 0)
    return bool(value)


def recovery_verdict(views, client_urls, survivor, stamps=None, wal_files=None, wal_path="", stamp_path="",
                     running=None):
    """See plugins/module_utils/etcd_quorum.py (recovery_verdict) and recovery_verdict.yml."""
    if not isinstance(views, dict) or not isinstance(client_urls, dict):
        raise AnsibleFilterError("recovery_verdict expects a dict of etcd_info results and a dict of client URLs")
    try:
        return _verdict(
            views, client_urls, survivor,
            stamps=dict((m, _stamp_text(v)) for m, v in (stamps or {}).items()),
            wal_files=None if wal_files is None else dict((m, _wal_count(v)) for m, v in wal_files.items()),
            wal_path=wal_path, stamp_path=stamp_path,
            running=None if running is None else dict((m, _running(v)) for m, v in running.items()))
    except ValueError as exc:
        raise AnsibleFilterError("recovery_verdict: %s" % exc)


class FilterModule:
    def filters(self):
        return {"recovery_verdict": recovery_verdict}
