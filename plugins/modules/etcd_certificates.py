#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_certificates
short_description: Ensure the etcd CA and the member and client certificates it signs, in one run on the controller
version_added: 0.2.0
description:
  - Works in O(dir) on the controller (kubeasz C(cluster_dir/ssl)), created with mode 0700 when missing.
  - B(The CA) C(<ca_name>.pem) and C(<ca_name>-key.pem) is reused when both exist, and refused when it cannot
    sign (not a CA, expired, or not its key's certificate) or when only one of the two files exists. When both
    are missing it is created (O(create_ca)); a CA is never replaced. A CA that expires within
    O(renew_before_days) gives a warning.
  - B(A member certificate) C(etcd-<member>.pem) (server and peer) holds the member's address, its name
    C(etcd-<member>), C(127.0.0.1), C(localhost) and O(member_extra_sans). B(A client certificate)
    C(<name>.pem) holds its name as common name and DNS SAN.
  - B(A private key is never replaced.) A missing key is created (mode 0600); a certificate is issued again,
    with the key it has, when it is missing, is not its key's, has another subject, other SANs or usages,
    was not signed by the CA, expires within O(renew_before_days), or was issued before
    O(renew_issued_before). The certificate it replaces is kept beside it (C(<name>.pem.<pid>.<time>~)).
  - Everything is checked before any file is written; one run does the CA and every certificate, instead of
    five module runs per certificate.
author:
  - ezops.etcd developers (@ezops)
attributes:
  check_mode:
    support: full
    description: Reports what would be created or issued, and why; writes nothing.
  diff_mode:
    support: full
    description: Subject, SANs, validity and issuer of each certificate before and after (never key material).
requirements:
  - The Python cryptography library on the controller (ansible-core's own dependency).
options:
  dir:
    description: The controller's directory of the CA and the certificates.
    type: path
    required: true
  ca_name:
    description: Base name of the CA files in O(dir) (kubeasz C(ca); C(etcd-ca) for a CA of etcd's own).
    type: str
    required: true
  create_ca:
    description: Create the CA when both of its files are missing; V(false) refuses instead.
    type: bool
    default: true
  ca_common_name:
    description: Common name of a CA this module creates.
    type: str
    default: ezops-etcd-ca
  ca_valid_days:
    description: Validity of a CA this module creates.
    type: int
    default: 36500
  members:
    description: The members (kubeasz inventory names, their addresses) that get a server and peer certificate.
    type: list
    elements: str
    default: []
  member_extra_sans:
    description: Extra SANs (C(DNS:name) or C(IP:address)) for every member certificate.
    type: list
    elements: str
    default: []
  clients:
    description: Names of client certificates (for example C(etcd-client)).
    type: list
    elements: str
    default: []
  valid_days:
    description: Validity of the member and client certificates issued.
    type: int
    default: 3650
  renew_before_days:
    description: Issue again a certificate that expires within this many days.
    type: int
    default: 30
  renew_issued_before:
    description:
      - Issue again every certificate issued before this time (ASN.1 UTC, C(YYYYMMDDHHMMSSZ)); empty for none.
        C(96.update-certs.yml) passes the time its renewal started, so its re-run does not renew twice.
    type: str
    default: ""
  key_type:
    description: Type of new private keys (V(ECC) is P-256).
    type: str
    choices: [RSA, ECC]
    default: RSA
  key_size:
    description: Size of new RSA keys.
    type: int
    default: 2048
  organization:
    description: Organization name in the subject of new certificates (and of a new CA).
    type: str
    default: ezops
"""

EXAMPLES = r"""
- name: Ensure the CA, the members' certificates and the controller's client certificate
  ezops.etcd.etcd_certificates:
    dir: /etc/kubeasz/clusters/k8s/ssl
    ca_name: ca
    members: "{{ ansible_play_hosts }}"
    clients: [etcd-client]
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
ca:
  description: The CA.
  returned: always
  type: dict
  contains:
    path:
      description: The CA certificate.
      type: str
      returned: always
    action:
      description: V(kept) or V(created).
      type: str
      returned: always
    not_after:
      description: When it expires (ASN.1 UTC); empty when it is created in check mode.
      type: str
      returned: always
certificates:
  description: One entry per member, then per client, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Base name of the files (C(etcd-<member>), or the client's name).
      type: str
      returned: always
    path:
      description: The certificate.
      type: str
      returned: always
    action:
      description: V(kept), V(issued) (there was none) or V(reissued).
      type: str
      returned: always
    reasons:
      description: Why it is issued again (empty when kept).
      type: list
      elements: str
      returned: always
    key_created:
      description: Whether its private key was created.
      type: bool
      returned: always
    backup_file:
      description: Where the certificate it replaced was kept.
      type: str
      returned: when reissued outside check mode
"""

import datetime
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_pki import (
    PkiError,
    asn1_time,
    build_ca,
    build_certificate,
    ca_problems,
    check_settings,
    client_request,
    describe,
    key_pem,
    load_certificate,
    load_key,
    member_request,
    new_key,
    not_after,
    reissue_reasons,
)


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _write(path, data, mode):
    """Replace ``path`` atomically; the temporary file is private from its first byte."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Certificates:
    def __init__(self, module, now):
        self.module = module
        self.params = module.params
        self.now = now
        self.check = module.check_mode
        self.changed = False
        self.diff = {"before": {}, "after": {}}

    def path(self, name, suffix=".pem"):
        return os.path.join(self.params["dir"], name + suffix)

    def ensure_mode(self, path, mode):
        self.changed = self.module.set_mode_if_different(path, mode, self.changed)

    def validate(self):
        check_settings(self.params["key_type"], self.params["key_size"], self.params["renew_issued_before"],
                       self.params["member_extra_sans"],
                       {name: self.params[name] for name in ("valid_days", "ca_valid_days")})

    def ensure_dir(self):
        folder = self.params["dir"]
        if os.path.isdir(folder):
            return
        if os.path.exists(folder):
            raise PkiError("%s exists and is not a directory: move it aside, or set etcd_pki_dir" % folder)
        self.changed = True
        if not self.check:
            os.makedirs(folder, mode=0o700)

    def plan_ca(self):
        """-> (result, certificate, key, PEM bytes), the last three None when the CA is to be created; reads only."""
        cert_path, key_path = self.path(self.params["ca_name"]), self.path(self.params["ca_name"], "-key.pem")
        present = [os.path.exists(cert_path), os.path.exists(key_path)]
        if present == [True, True]:
            cert_pem = _read(cert_path)
            cert, key = load_certificate(cert_pem, cert_path), load_key(_read(key_path), key_path)
            problem = ca_problems(cert, key, cert_path, key_path, self.now)
            if problem:
                raise PkiError(problem)
            if not_after(cert) < self.now + datetime.timedelta(days=self.params["renew_before_days"]):
                self.module.warn("The CA %s expires on %s: plan a CA rotation (playbooks/98.rotate-ca.yml)."
                                 % (cert_path, not_after(cert).date()))
            return {"path": cert_path, "action": "kept", "not_after": asn1_time(not_after(cert))}, cert, key, cert_pem
        if any(present):
            raise PkiError("Only one of %s and %s exists. A CA needs both: put the missing file back (from a backup of "
                           "cluster_dir/ssl), or move both aside to create a new CA (every member certificate is then "
                           "issued again)." % (cert_path, key_path))
        if not self.params["create_ca"]:
            raise PkiError("There is no CA %s in %s to sign with: create it first (role etcd_pki, tasks_from ca.yml)."
                           % (self.params["ca_name"], self.params["dir"]))
        return {"path": cert_path, "action": "created", "not_after": ""}, None, None, None

    def create_ca(self, result):
        """Write the CA that plan_ca found missing -> (certificate, key, PEM bytes); (None, None, None) in check mode."""
        self.changed = True
        self.diff["before"][self.params["ca_name"]] = "absent"
        self.diff["after"][self.params["ca_name"]] = "a new CA %s" % self.params["ca_common_name"]
        if self.check:
            return None, None, None
        key = new_key(self.params["key_type"], self.params["key_size"])
        _write(self.path(self.params["ca_name"], "-key.pem"), key_pem(key), 0o600)
        cert_pem = build_ca(key, self.params["ca_common_name"], self.params["organization"],
                            self.params["ca_valid_days"], self.now)
        _write(result["path"], cert_pem, 0o644)
        cert = load_certificate(cert_pem, result["path"])
        result["not_after"] = asn1_time(not_after(cert))
        return cert, key, cert_pem

    def inspect(self, request, ca_pem):
        """-> the plan of one certificate, its key and PEM loaded; reads only."""
        cert_path, key_path = self.path(request["name"]), self.path(request["name"], "-key.pem")
        key = load_key(_read(key_path), key_path) if os.path.exists(key_path) else None
        plan = {"name": request["name"], "path": cert_path, "key_path": key_path, "key_created": key is None,
                "reasons": [], "request": request, "key": key}
        if not os.path.exists(cert_path):
            plan["action"] = "issued"
            return plan
        cert_pem = _read(cert_path)
        cert = load_certificate(cert_pem, cert_path)
        plan["before"] = describe(cert)
        if key is None:
            plan["reasons"] = ["its key %s is missing" % key_path]
        elif ca_pem is None:
            plan["reasons"] = ["the CA is created by this run"]
        else:
            plan["reasons"] = reissue_reasons(cert, cert_pem.decode("ascii", "replace"), key, ca_pem.decode("ascii"),
                                              request, self.params["organization"], self.params["renew_before_days"],
                                              self.params["renew_issued_before"], self.now)
        plan["action"] = "reissued" if plan["reasons"] else "kept"
        return plan

    def apply(self, plan, ca_cert, ca_key):
        name = plan["name"]
        if plan["action"] == "kept":
            if not self.check:
                self.ensure_mode(plan["key_path"], "0600")
                self.ensure_mode(plan["path"], "0644")
            return
        self.changed = True
        self.diff["before"][name] = plan.get("before", "absent")
        if self.check:
            self.diff["after"][name] = "%s (%s)" % (plan["action"], "; ".join(plan["reasons"]) or "new")
            return
        key = plan["key"]
        if key is None:
            key = new_key(self.params["key_type"], self.params["key_size"])
            _write(plan["key_path"], key_pem(key), 0o600)
        cert_pem = build_certificate(key, ca_cert, ca_key, plan["request"], self.params["organization"],
                                     self.params["valid_days"], self.now)
        if os.path.exists(plan["path"]):
            plan["backup_file"] = self.module.backup_local(plan["path"])
        _write(plan["path"], cert_pem, 0o644)
        self.diff["after"][name] = describe(load_certificate(cert_pem, plan["path"]))

    def run(self):
        self.validate()
        requests = ([member_request(host, self.params["member_extra_sans"]) for host in self.params["members"]]
                    + [client_request(name) for name in self.params["clients"]])
        names = [request["name"] for request in requests]
        twice = sorted(set(name for name in names if names.count(name) > 1))
        if twice:
            raise PkiError("two certificates would be named %s: list each member once, and give no client the name "
                           "etcd-<member> of a member" % ", ".join(twice))
        # Everything is read and judged before the first file is written.
        ca_result, ca_cert, ca_key, ca_pem = self.plan_ca()
        plans = [self.inspect(request, ca_pem) for request in requests]
        self.ensure_dir()
        if ca_cert is None:
            ca_cert, ca_key, ca_pem = self.create_ca(ca_result)
        elif not self.check:
            self.ensure_mode(self.path(self.params["ca_name"], "-key.pem"), "0600")
        for plan in plans:
            self.apply(plan, ca_cert, ca_key)
        public = [{key: plan[key] for key in ("name", "path", "action", "reasons", "key_created", "backup_file")
                   if key in plan} for plan in plans]
        return {"changed": self.changed, "ca": ca_result, "certificates": public, "diff": self.diff}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            ca_name=dict(type="str", required=True),
            create_ca=dict(type="bool", default=True),
            ca_common_name=dict(type="str", default="ezops-etcd-ca"),
            ca_valid_days=dict(type="int", default=36500),
            members=dict(type="list", elements="str", default=[]),
            member_extra_sans=dict(type="list", elements="str", default=[]),
            clients=dict(type="list", elements="str", default=[]),
            valid_days=dict(type="int", default=3650),
            renew_before_days=dict(type="int", default=30),
            renew_issued_before=dict(type="str", default=""),
            key_type=dict(type="str", default="RSA", choices=["RSA", "ECC"]),
            key_size=dict(type="int", default=2048),
            organization=dict(type="str", default="ezops"),
        ),
        supports_check_mode=True,
    )
    try:
        result = Certificates(module, datetime.datetime.now(datetime.timezone.utc)).run()
    except PkiError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
