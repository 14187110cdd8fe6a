# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The etcd_certs_report filter: playbooks/certs.yml's table (module_utils/etcd_certs)."""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleFilterError
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_certs import HEADER, certs_report, describe_slurped, why_not
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_status import table


def _served(result):
    for endpoint, cert in (result.get("served_certificates") or {}).items():
        if isinstance(cert, dict):
            return (endpoint, cert if "error" not in cert else {"error": "no TLS handshake (%s)" % cert["error"]})
    why = why_not(result) if result.get("failed") or result.get("unreachable") else "did not answer"
    return ("served", {"error": why})


def _by_role(loop_result):
    return dict(((item.get("item") or {}).get("role"), ((item.get("item") or {}).get("path"), describe_slurped(item)))
                for item in (loop_result or {}).get("results", []))


def etcd_certs_report(files, served=None, controller=None, controller_members=None, min_days=None, now=None):
    """See etcd_certs_report.yml."""
    if not isinstance(files, dict):
        raise AnsibleFilterError("etcd_certs_report expects a dict of member to its registered slurp loop")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    members = {}
    for host, result in files.items():
        result = result if isinstance(result, dict) else {}
        if result.get("unreachable") or "results" not in result:
            members[host] = {"error": why_not(result)}
            continue
        held = _by_role(result)
        members[host] = {"ca": held.get("ca"), "cert": held.get("cert"), "served": _served(((served or {}).get(host)) or {})}
    ctrl = _by_role(controller)
    shared = ctrl.pop("shared", None)
    own = {}
    for item in (controller_members or {}).get("results", []):
        path = (item.get("invocation") or {}).get("module_args", {}).get("src") or "etcd-%s.pem" % item.get("item")
        own[item.get("item")] = (path, describe_slurped(item))
    # kubeasz issues one etcd.pem for every member; ours are etcd-<member>.pem
    has_shared = shared is not None and shared[1] is not None
    ctrl["members"] = dict((host, shared if entry[1] is None and has_shared else entry) for host, entry in own.items())
    try:
        report = certs_report(members, ctrl, now, min_days=int(min_days) if min_days not in (None, "") else None)
    except (KeyError, ValueError, TypeError) as exc:
        raise AnsibleFilterError("etcd_certs_report: unreadable certificate data (%s)" % exc)
    report["lines"] = table(HEADER, report["rows"])
    return report


class FilterModule:
    def filters(self):
        return {"etcd_certs_report": etcd_certs_report}
