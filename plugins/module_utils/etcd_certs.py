# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The certificate report of playbooks/certs.yml: what each member holds on disk, what it serves,
and the controller's copies, compared.

Certificates are described the way ``etcd_client.describe_peer_certificate`` describes a served one
(subject and issuer common names, lower-case hex serial, not_after in epoch seconds, SANs), so that a
file and a TLS handshake compare field by field. Runs on the controller (filter ``etcd_certs_report``).
"""

from __future__ import annotations

import base64
import binascii
import datetime

try:
    from cryptography import x509
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - ansible-core itself needs cryptography on the controller
    x509 = None


def _common_name(name):
    return ", ".join(attr.value for attr in name.get_attributes_for_oid(NameOID.COMMON_NAME))


def _san_text(name):
    if isinstance(name, x509.IPAddress):
        return "IP Address:%s" % name.value
    if isinstance(name, x509.DNSName):
        return "DNS:%s" % name.value
    return "%s:%s" % (type(name).__name__, name.value)


def describe_pem(pem):
    """The first certificate of a PEM text -> {subject, issuer, serial, not_after, sans}, or {error}."""
    if x509 is None:
        return {"error": "the Python cryptography library is missing on the controller"}
    try:
        cert = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    except ValueError as exc:
        return {"error": "not a PEM certificate (%s)" % exc}
    try:
        sans = [_san_text(name) for name in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value]
    except x509.ExtensionNotFound:
        sans = []
    return {"subject": _common_name(cert.subject), "issuer": _common_name(cert.issuer), "serial": "%x" % cert.serial_number,
            "not_after": int(cert.not_valid_after_utc.timestamp()), "sans": sans}


def why_not(result):
    """Why an Ansible result has no answer: its message, marked when the host was unreachable."""
    return ("unreachable: " if result.get("unreachable") else "") + (result.get("msg") or "no reason given").strip()


def describe_slurped(slurped):
    """An ansible.builtin.slurp result of a certificate file -> describe_pem's description; None when
    the file is not there; {error} when it could not be read (failed, unreachable, skipped)."""
    if slurped.get("failed") or "content" not in slurped:
        if "not found" in (slurped.get("msg") or "") or "does not exist" in (slurped.get("msg") or ""):
            return None
        return {"error": "unreadable (%s)" % why_not(slurped)}
    try:
        pem = base64.b64decode(slurped["content"])
    except (binascii.Error, ValueError, TypeError):
        return {"error": "unreadable (the content is not base64)"}
    return describe_pem(pem)


def days_left(cert, now):
    """Whole days from ``now`` until a described certificate's not_after (epoch seconds)."""
    end = datetime.datetime.fromtimestamp(cert["not_after"], datetime.timezone.utc)
    return int((end - now).total_seconds() // 86400)


def _row(host, what, cert, now):
    if "error" in cert:
        return [host, what, "-", "-", "-", "-", "-", cert["error"]]
    sans = ", ".join(san.split(":", 1)[-1] for san in cert.get("sans") or []) or "-"
    return [host, what, cert["subject"] or "-", cert["issuer"] or "-", sans, cert["serial"], str(days_left(cert, now)), ""]


def certs_report(members, controller, now, min_days=None):
    """Rows and problems of the report.

    ``members``: {host: {"ca": (path, cert), "cert": (path, cert), "served": (endpoint, cert), "error": why the
    host could not be read, or absent}}, where cert is a description (``describe_pem`` or a served one), None when
    absent. ``controller``: {"ca": (path, cert), "client": (path, cert), "members": {host: (path, cert)}}.
    ``min_days``: a certificate with fewer days left is listed in ``expiring`` (the playbook fails on it).
    -> {"rows", "problems", "expiring", "differs"}."""
    rows, problems, expiring, differs = [], [], [], []

    def look(host, entry):
        if entry is None:  # not asked for
            return None
        path_or_endpoint, cert = entry
        if cert is None:
            rows.append([host, path_or_endpoint, "-", "-", "-", "-", "-", "missing"])
            return None
        rows.append(_row(host, path_or_endpoint, cert, now))
        if "error" in cert:
            problems.append("%s: %s on %s" % (path_or_endpoint, cert["error"], host))
            return None
        days = days_left(cert, now)
        if days < 0:
            problems.append("%s on %s expired %d days ago" % (path_or_endpoint, host, -days))
        if min_days is not None and days < min_days:
            expiring.append("%s on %s expires in %d days (under %d)" % (path_or_endpoint, host, days, min_days))
        return cert

    ctrl_ca = look("controller", controller.get("ca"))
    look("controller", controller.get("client"))
    for host, held in members.items():
        if held.get("error"):
            rows.append([host, "-", "-", "-", "-", "-", "-", held["error"]])
            problems.append("%s could not be read: %s" % (host, held["error"]))
            continue
        ctrl_member = look("controller", (controller.get("members") or {}).get(host))
        ca = look(host, held.get("ca"))
        cert = look(host, held.get("cert"))
        served = look(host, held.get("served"))
        if served and cert and served["serial"] != cert["serial"]:
            differs.append("%s serves serial %s, not its file's %s (restart it: 02.etcd.yml)"
                           % (host, served["serial"], cert["serial"]))
        if served and ctrl_member and served["serial"] != ctrl_member["serial"]:
            differs.append("%s serves serial %s, not the controller's copy %s (02.etcd.yml installs the controller's; "
                           "if the controller's copy is the wrong one, its cluster_dir is not this cluster's)"
                           % (host, served["serial"], ctrl_member["serial"]))
        if ca and ctrl_ca and ca["serial"] != ctrl_ca["serial"]:
            differs.append("%s trusts a CA file with serial %s, not the controller's CA %s" % (host, ca["serial"], ctrl_ca["serial"]))
    return {"rows": rows, "problems": problems + differs, "expiring": expiring, "differs": differs}


HEADER = ["HOST", "FILE / ENDPOINT", "SUBJECT", "ISSUER", "SANS", "SERIAL", "DAYS", "NOTE"]
