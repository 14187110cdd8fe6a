# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Does the controller's CA match the CA the members already trust?

With ``cluster_dir`` pointing to the wrong place (a directory without this cluster's ssl/), a
deploy would create a new CA and copy it, with certificates signed by it, over every member's
files: every client, and on kubeasz hosts everything that reads the shared ``ca.pem``, breaks at
once, and the next restart breaks the cluster. So the members' CA files (possibly bundles) are
compared with the controller's CA certificate, by SHA-256 fingerprint of the DER, before the PKI
role creates or copies anything (pure Python).

A second rule guards a change of the trusted CA (a CA rotation, or a deploy run with the CA name of
before one): members restart one at a time, so every member's certificate that is still in place must
be signed by a CA of the file the run installs, or the restarted members refuse the others' peer
connections and the cluster loses its quorum one restart at a time. That check verifies signatures
with the cryptography library (present wherever ansible-core runs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
except ImportError:  # pragma: no cover - ansible-core needs cryptography on the controller
    x509 = None

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


def _certificates(pem_text):
    out = []
    for body in _PEM_CERT.findall(pem_text or ""):
        block = "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % "\n".join(body.split())
        try:
            out.append(x509.load_pem_x509_certificate(block.encode()))
        except ValueError:
            continue
    return out


def issued_by(cert_pem, ca_pem):
    """True when the first certificate of ``cert_pem`` is signed by one of the CAs in ``ca_pem``
    (a CA file or a bundle): the signature is verified, names alone prove nothing."""
    if x509 is None:
        raise RuntimeError("the Python cryptography library is missing on the controller")
    certs = _certificates(cert_pem)
    if not certs:
        return False
    for ca in _certificates(ca_pem):
        try:
            _verify_signed_by(certs[0], ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def _verify_signed_by(cert, ca):
    """Raise unless ``ca`` issued ``cert``: the issuer name, then the signature with the CA's key
    (cryptography's verify_directly_issued_by does this from version 40 on; distributions ship older)."""
    if hasattr(cert, "verify_directly_issued_by"):
        cert.verify_directly_issued_by(ca)
        return
    if cert.issuer != ca.subject:
        raise ValueError("issuer name differs")
    key = ca.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        key.verify(cert.signature, cert.tbs_certificate_bytes)
    else:
        raise TypeError("unsupported CA key type")


def untrusted_certificates(trusted_pem, member_certs, trusted_path, cert_path):
    """Problems of making the members trust ``trusted_pem`` while their certificates stay in place.

    member_certs: host -> text of the member's certificate (ca_dir/etcd.pem), None when it has none
    (a new member gets its certificate from the run). Returns ``certs_not_from_trusted_ca`` naming
    the members whose certificate no CA of the trusted file signed.
    """
    if not _certificates(trusted_pem):
        return []
    strangers = sorted(host for host, text in (member_certs or {}).items()
                       if text is not None and not issued_by(text, trusted_pem))
    if not strangers:
        return []
    return [problem("certs_not_from_trusted_ca", "The certificate %s of %s is not signed by any CA in %s, the file this run "
                    "would make the members trust. Members restart one at a time: each restarted member would refuse "
                    "the others, and the cluster would lose its quorum. Nothing was changed on any host. If the "
                    "cluster went through playbooks/98.rotate-ca.yml, set etcd_pki_ca_name to the CA it rotated to "
                    "(for example etcd_pki_ca_name: etcd-ca in the inventory); to change the CA, run "
                    "playbooks/98.rotate-ca.yml instead (docs/certificates.md)."
                    % (cert_path, ", ".join(strangers), trusted_path))]
