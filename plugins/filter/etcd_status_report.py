# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The etcd_status_report filter: playbooks/status.yml's tables (module_utils/etcd_status)."""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleFilterError
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_certs import describe_slurped
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_status import certificate_days, status_report


def _file_cert(slurped):
    """A member's slurped certificate file -> {"not_after": epoch seconds, "serial": hex}; None when there is
    no content (missing file, failed, skipped, unreachable) or it is not a PEM certificate."""
    cert = describe_slurped(slurped) if isinstance(slurped, dict) else None
    if not cert or "error" in cert:
        return None
    return {"not_after": cert["not_after"], "serial": cert["serial"]}


def etcd_status_report(results, certs=None, quota_bytes=None, min_cert_days=30, now=None):
    """See etcd_status_report.yml."""
    if not isinstance(results, dict):
        raise AnsibleFilterError("etcd_status_report expects a dict of member to its etcd_info result")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    views, unreachable = {}, {}
    for host, result in results.items():
        result = result if isinstance(result, dict) else {}
        if result.get("unreachable"):
            unreachable[host] = "unreachable: %s" % (result.get("msg") or "no reason given").strip()
        elif result.get("failed"):
            unreachable[host] = "the query failed there: %s" % (result.get("msg") or "no reason given").strip()
        elif not result.get("skipped"):
            views[host] = result
    files = {}
    for host, slurped in (certs or {}).items() if isinstance(certs, dict) else ():
        cert = _file_cert(slurped)
        if cert:
            files[host] = cert
    try:
        days, differs = certificate_days(views, files, now)
    except (KeyError, ValueError, TypeError) as exc:
        raise AnsibleFilterError("etcd_status_report: unreadable certificate date (%s)" % exc)
    return status_report(list(results), views, cert_days=days, quota_bytes=int(quota_bytes) if quota_bytes else None,
                         min_cert_days=int(min_cert_days), unreachable=unreachable, cert_differs=differs)


class FilterModule:
    def filters(self):
        return {"etcd_status_report": etcd_status_report}
