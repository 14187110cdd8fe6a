# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The cluster's CA and its member and client certificates, decided and built in one place.

What a member certificate holds (its SANs, its usages) and when a certificate is re-issued are
rules of this file alone; module etcd_certificates reads and writes the files. A key is never
replaced: a certificate is re-issued with the key it already has.
"""

from __future__ import annotations

import datetime
import ipaddress
import re

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:  # pragma: no cover - ansible-core needs cryptography on the controller
    x509 = None

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_ca_trust import issued_by

USAGES = ("serverAuth", "clientAuth")
_ASN1_UTC = re.compile(r"^\d{14}Z$")


class PkiError(Exception):
    """A CA or key that cannot be used as it is: the message names the file and the fix."""


def _require_cryptography():
    if x509 is None:
        raise PkiError("the Python cryptography library is missing on the controller: install it "
                       "(pip install cryptography, or the python3-cryptography package)")


def member_request(host, extra_sans=()):
    """The certificate of member ``host`` (kubeasz: its address): server and peer, for its address,
    its name etcd-<host>, 127.0.0.1 and localhost."""
    try:
        ipaddress.ip_address(host)
        address = "IP:" + host
    except ValueError:
        address = "DNS:" + host
    name = "etcd-" + host
    sans = [address, "IP:127.0.0.1", "DNS:localhost", "DNS:" + name]
    sans += [san for san in extra_sans or [] if san not in sans]
    return {"name": name, "common_name": name, "sans": sans, "usages": ["serverAuth", "clientAuth"]}


def client_request(name):
    """A client certificate (the controller's etcdctl, kube-apiserver): its name as CN and DNS SAN."""
    return {"name": name, "common_name": name, "sans": ["DNS:" + name], "usages": ["clientAuth"]}


def parse_san(text):
    """``DNS:name`` or ``IP:address`` -> an x509 general name; anything else is refused."""
    kind, value = (str(text).split(":", 1) + [""])[:2]
    kind = kind.strip().upper()
    value = value.strip()
    if kind == "DNS" and value:
        return x509.DNSName(value)
    if kind == "IP":
        try:
            return x509.IPAddress(ipaddress.ip_address(value))
        except ValueError:
            pass
    raise PkiError("the SAN %r is neither DNS:<name> nor IP:<address>: fix etcd_pki_extra_sans" % (text,))


def _check_key_settings(key_type, key_size):
    if key_type not in ("RSA", "ECC"):
        raise PkiError("etcd_pki_key_type is %r: use RSA or ECC" % (key_type,))
    if key_type == "RSA" and key_size < 2048:
        raise PkiError("key_size is %s: RSA keys need 2048 bits or more (etcd_pki_key_size)" % key_size)


def check_settings(key_type, key_size, renew_issued_before, extra_sans, valid_days):
    """Refuse settings that would fail half-way, before anything is read or written.

    valid_days: name -> number of days of each validity setting."""
    _check_key_settings(key_type, key_size)
    if renew_issued_before and not _ASN1_UTC.match(renew_issued_before):
        raise PkiError("renew_issued_before is %r: give an ASN.1 UTC time such as 20261207120000Z"
                       % renew_issued_before)
    for san in extra_sans:
        parse_san(san)
    for name, days in sorted(valid_days.items()):
        if days < 1:
            raise PkiError("%s is %s: give a positive number of days" % (name, days))


def new_key(key_type, key_size):
    _require_cryptography()
    _check_key_settings(key_type, key_size)
    if key_type == "ECC":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def load_key(data, path):
    _require_cryptography()
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise PkiError("%s is not a readable, unencrypted private key (%s). It is never replaced: put back the key "
                       "from a backup of cluster_dir/ssl, or move it aside (with its certificate) to have both "
                       "made anew" % (path, exc))


def load_certificate(data, path):
    _require_cryptography()
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise PkiError("%s is not a PEM certificate (%s): put back the file from a backup of cluster_dir/ssl, or move "
                       "it aside" % (path, exc))


def _public_der(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def _utc(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def not_before(cert):
    return _utc(getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before)


def not_after(cert):
    return _utc(getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after)


def asn1_time(moment):
    """YYYYMMDDHHMMSSZ, the form of etcd_pki_renew_issued_before."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")


def _extension(cert, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def ca_problems(cert, key, cert_path, key_path, now):
    """Why an existing CA cannot sign: not a CA, expired, or not the key's certificate."""
    constraints = _extension(cert, x509.BasicConstraints)
    reasons = []
    if constraints is None or not constraints.ca:
        reasons.append("it is not a CA certificate (no CA:TRUE)")
    if not_after(cert) <= now:
        reasons.append("it expired on %s" % not_after(cert).date())
    if _public_der(cert) != _public_der(key):
        reasons.append("%s is not its key" % key_path)
    if not reasons:
        return None
    return ("%s cannot be used as the etcd CA: %s. This role never replaces a CA: fix or move the files aside "
            "yourself (see docs/certificates.md)." % (cert_path, "; ".join(reasons)))


def _subject(common_name, organization):
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(names)


def _attributes(name):
    """A subject's attributes in any order (other tools write O before CN)."""
    return sorted((attribute.oid.dotted_string, attribute.value) for attribute in name)


def _seconds(now):
    return now.astimezone(datetime.timezone.utc).replace(microsecond=0)


def build_ca(key, common_name, organization, valid_days, now):
    """A self-signed CA certificate (PEM bytes) for ``key``."""
    now = _seconds(now)
    subject = _subject(common_name, organization)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + datetime.timedelta(days=valid_days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _usage_oids(usages):
    unknown = [usage for usage in usages if usage not in USAGES]
    if unknown:
        raise PkiError("unknown certificate usage %s: use %s" % (", ".join(unknown), " or ".join(USAGES)))
    return {"serverAuth": ExtendedKeyUsageOID.SERVER_AUTH, "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH}


def reissue_reasons(cert, cert_pem, key, ca_pem, request, organization, renew_before_days, renew_issued_before, now):
    """Why the existing certificate must be issued again ([] keeps it): another key, subject, SANs or
    usages than requested, not signed by the CA that signs now, close to expiry, or issued before
    ``renew_issued_before`` (a renewal's start: its re-run does not renew again)."""
    reasons = []
    if _public_der(cert) != _public_der(key):
        reasons.append("it is not the certificate of its key")
    if _attributes(cert.subject) != _attributes(_subject(request["common_name"], organization)):
        reasons.append("its subject is %s" % cert.subject.rfc4514_string())
    sans = _extension(cert, x509.SubjectAlternativeName)
    wanted = {parse_san(san) for san in request["sans"]}
    if set(sans or []) != wanted:
        reasons.append("its SANs differ from %s" % ", ".join(request["sans"]))
    usages = _extension(cert, x509.ExtendedKeyUsage)
    oids = _usage_oids(request["usages"])
    if set(usages or []) != {oids[usage] for usage in request["usages"]}:
        reasons.append("its usages differ from %s" % ", ".join(request["usages"]))
    if not issued_by(cert_pem, ca_pem):
        reasons.append("the CA that signs now did not sign it")
    if not_after(cert) < now + datetime.timedelta(days=renew_before_days):
        reasons.append("it expires on %s, within %d days" % (not_after(cert).date(), renew_before_days))
    if renew_issued_before and asn1_time(not_before(cert)) < renew_issued_before:
        reasons.append("it was issued before %s (renewal)" % renew_issued_before)
    return reasons


def build_certificate(key, ca_cert, ca_key, request, organization, valid_days, now):
    """The certificate (PEM bytes) of ``request`` for ``key``, signed by the CA."""
    now = _seconds(now)
    oids = _usage_oids(request["usages"])
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=isinstance(key, rsa.RSAPrivateKey), data_encipherment=False,
                          key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False,
                          decipher_only=False)
    ca_ski = _extension(ca_cert, x509.SubjectKeyIdentifier)
    authority = (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski) if ca_ski
                 else x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()))
    builder = (x509.CertificateBuilder().subject_name(_subject(request["common_name"], organization))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + datetime.timedelta(days=valid_days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(usage, critical=True)
               .add_extension(x509.ExtendedKeyUsage([oids[name] for name in request["usages"]]), critical=False)
               .add_extension(x509.SubjectAlternativeName([parse_san(san) for san in request["sans"]]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(authority, critical=False))
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def describe(cert):
    """One line for a diff: subject, SANs and validity, no key material."""
    sans = _extension(cert, x509.SubjectAlternativeName)
    names = ["%s:%s" % ("IP" if isinstance(name, x509.IPAddress) else "DNS", name.value) for name in sans or []]
    return "%s; SANs %s; valid %s to %s; issuer %s" % (
        cert.subject.rfc4514_string(), ", ".join(names) or "none", not_before(cert).date(), not_after(cert).date(),
        cert.issuer.rfc4514_string())
