# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The etcd_upgrade_problems and etcd_deploy_version_problems filters: the version changes that
playbooks/93.upgrade.yml and 02.etcd.yml refuse (module_utils/etcd_upgrade)."""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_upgrade import (
    binary_version,
    deploy_version_problems,
    upgrade_problems,
)


def running_versions(views):
    """{member: etcd_info result} -> {member: the version its endpoint reported in any view, or None}."""
    seen = {}
    for view in views.values():
        for status in (view or {}).get("endpoints") or [] if isinstance(view, dict) else []:
            seen.setdefault(urlsplit(status["endpoint"]).hostname, status.get("version"))
    return dict((member, seen.get(member)) for member in views)


def etcd_upgrade_problems(views, binary_output, min_before_minor=None):
    """See etcd_upgrade_problems.yml."""
    if not isinstance(views, dict):
        raise AnsibleFilterError("etcd_upgrade_problems expects a dict of member to its etcd_info result")
    output = binary_output.get("stdout", "") if isinstance(binary_output, dict) else str(binary_output or "")
    target = binary_version(output) or output.strip()[:80]
    return upgrade_problems(running_versions(views), target, min_before_minor)


def etcd_deploy_version_problems(info, binary_output, min_before_minor=None):
    """See etcd_deploy_version_problems.yml."""
    if not isinstance(info, dict):
        raise AnsibleFilterError("etcd_deploy_version_problems expects an etcd_info result")
    running = dict((urlsplit(s["endpoint"]).hostname, s.get("version")) for s in info.get("endpoints") or [])
    return deploy_version_problems(running, etcd_binary_version(binary_output), min_before_minor)


def etcd_binary_version(binary_output):
    """The version a registered `etcd --version` (or its text) printed, '' when none."""
    output = binary_output.get("stdout", "") if isinstance(binary_output, dict) else str(binary_output or "")
    return binary_version(output) or ""


class FilterModule:
    def filters(self):
        return {"etcd_upgrade_problems": etcd_upgrade_problems, "etcd_binary_version": etcd_binary_version,
                "etcd_deploy_version_problems": etcd_deploy_version_problems}
