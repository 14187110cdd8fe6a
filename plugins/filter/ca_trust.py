# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Filters over the CA that members trust (rules in module_utils/etcd_ca_trust.py):
ca_trust_problems refuses to replace the CA that running members trust (a wrong cluster_dir);
untrusted_certificates refuses a trusted CA file that does not sign the members' certificates;
issued_by tells whether a CA file signed a certificate."""

from __future__ import annotations

import base64
import binascii

from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_ca_trust import ca_trust_problems, issued_by, untrusted_certificates


def _member_text(result):
    """The text of a member's CA file from an ansible.builtin.slurp result; None when it has none."""
    if not isinstance(result, dict) or "content" not in result:
        return None
    try:
        return base64.b64decode(result["content"]).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def _ca_trust_problems(controller_pem, member_results, controller_path, member_path, cluster_dir, certified=None):
    if not isinstance(member_results, dict):
        raise AnsibleFilterError("ca_trust_problems expects a mapping of host to slurp result")
    members = {str(host): _member_text(result) for host, result in member_results.items()}
    return ca_trust_problems(controller_pem or "", members, controller_path, member_path, cluster_dir,
                             [str(host) for host in certified or []])


def _untrusted_certificates(trusted_pem, member_results, trusted_path, cert_path):
    if not isinstance(member_results, dict):
        raise AnsibleFilterError("untrusted_certificates expects a mapping of host to slurp result")
    members = {str(host): _member_text(result) for host, result in member_results.items()}
    return untrusted_certificates(trusted_pem or "", members, trusted_path, cert_path)


def _issued_by(cert_pem, ca_pem):
    try:
        return issued_by(cert_pem or "", ca_pem or "")
    except RuntimeError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"ca_trust_problems": _ca_trust_problems, "untrusted_certificates": _untrusted_certificates,
                "issued_by": _issued_by}
