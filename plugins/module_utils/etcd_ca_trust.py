# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Does the controller's CA match the CA the members already trust?

With ``cluster_dir`` pointing to the wrong place (a directory without this cluster's ssl/), a
deploy would create a new CA and copy it, with certificates signed by it, over every member's
files: every client, and on kubeasz hosts everything that reads the shared ``ca.pem``, breaks at
once, and the next restart breaks the cluster. So the members' CA files (possibly bundles) are
compared with the controller's CA certificate, by SHA-256 fingerprint of the DER, before the PKI
role creates or copies anything. Pure Python: no cryptography library needed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_flags import problem

_PEM_CERT = re.compile(r"-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----(.*?)-----END (?:X509 |TRUSTED )?CERTIFICATE-----",
                       re.DOTALL)


def fingerprints(pem_text):
    """SHA-256 fingerprints (lower-case hex) of the DER of each certificate in ``pem_text``, in order.

    Blocks whose body is not base64 are skipped; text outside blocks (bundle comments) is ignored.
    """
    out = []
    for body in _PEM_CERT.findall(pem_text or ""):
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        if der:
            out.append(hashlib.sha256(der).hexdigest())
    return out


def _short(fingerprint):
    return ":".join(fingerprint[i:i + 2] for i in range(0, 16, 2)).upper() + "..."


def ca_trust_problems(controller_pem, member_pems, controller_path, member_path, cluster_dir, certified=None):
    """Problems of installing the controller's CA on members that already trust a CA.

    controller_pem: text of the controller's CA file ("" or None when it does not exist); its first
    certificate is the CA that signs. member_pems: host -> text of the member's CA file, or None when
    the member has no such file (a new host). A member whose file holds no certificate is treated
    like one whose file does not hold the controller's CA. certified: the members that already have
    a certificate (ca_dir/etcd.pem): one of them without the CA file was set up with another CA
    name (etcd_pki_ca_name changed), and its CA would be replaced unseen.
    """
    controller = fingerprints(controller_pem)
    holders = {host: text for host, text in sorted((member_pems or {}).items()) if text is not None}
    renamed = sorted(host for host in (certified or []) if (member_pems or {}).get(host) is None)
    if renamed:
        return [problem("ca_name_changed", "%s already have a certificate but no %s: their CA has another name, and "
                        "this run would install a CA beside it and replace their certificate. Set etcd_pki_ca_name to "
                        "the name their CA file has in that directory (kubeasz: ca), or, to replace their CA on "
                        "purpose, set etcd_pki_replace_member_ca: true (see docs/security.md). Nothing was changed on "
                        "any host and no CA or certificate was created." % (", ".join(renamed), member_path))]
    if not holders:
        return []
    fix = ("Nothing was changed on any host and no CA or certificate was created. Most likely cluster_dir (%s) "
           "points to the wrong place: set cluster_dir to the directory that holds this cluster's ssl/ (kubeasz: "
           "/etc/kubeasz/clusters/<name>), or put back ca.pem and ca-key.pem from a backup of cluster_dir/ssl. "
           "Replacing the CA the members trust breaks every client at once: only when you mean to, set "
           "etcd_pki_replace_member_ca: true (see docs/security.md)." % cluster_dir)
    if not controller:
        return [problem("ca_missing_on_controller", "The controller has no CA in %s, but %s already trust a CA in %s: a "
                        "new CA would be created and copied over it. %s"
                        % (controller_path, ", ".join(holders), member_path, fix))]
    mismatched = [host for host, text in holders.items() if controller[0] not in fingerprints(text)]
    if mismatched:
        return [problem("ca_not_trusted_by_members", "The controller's CA %s (sha256 %s) is not among the CAs that %s "
                        "trust in %s: installing it would replace the CA they and their clients use. %s"
                        % (controller_path, _short(controller[0]), ", ".join(mismatched), member_path, fix))]
    return []
