# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Which etcd versions know which server flags, the version-gated flags of the unit, and what
``etcd_extra_args`` may not say.

etcd refuses to start on a flag it does not know, so a flag rendered for a version that lacks it
crash-loops the first restarted member (``--tls-min-version`` on 3.5.0-3.5.7 did). Every
version-dependent flag is listed once, in FLAG_SINCE, and the unit renders a flag only when the
installed version has it. Pure functions: a problem is ``{"code": ..., "msg": ...}``.
"""

from __future__ import annotations

import re

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_version import dotted as _dotted, parse

# The first etcd release that knows each version-dependent flag of the unit (the others exist in
# every release this collection supports, 3.4 and later).
FLAG_SINCE = {
    "listen-metrics-urls": (3, 3, 0),
    "cipher-suites": (3, 3, 0),
    "tls-min-version": (3, 5, 8),
    "tls-max-version": (3, 5, 8),
    "listen-client-http-urls": (3, 5, 8),
}

# Cipher suite names that only newer releases accept (3.4 knows Go's older names without _SHA256).
CIPHER_SUITE_SINCE = {
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": (3, 5, 0),
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": (3, 5, 0),
}
# ECDHE key exchange and AEAD ciphers only (TLS 1.2; TLS 1.3 suites are not configurable in Go).
# The names without _SHA256 are the ones every release from 3.4 on accepts.
DEFAULT_CIPHER_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
]
# Go's HTTP/2 server refuses a cipher list without one of these, and etcd serves HTTP/2.
HTTP2_REQUIRED_CIPHER_SUITES = ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
TLS_VERSIONS = ("TLS1.2", "TLS1.3")

# Flags the role derives from its own variables and the inventory: set through etcd_extra_args they
# would bypass the checks of those variables or break the start and membership logic.
OWNED_FLAGS = {
    "name": "etcd_member_name",
    "data-dir": "ETCD_DATA_DIR (etcd_data_dir)",
    "wal-dir": "ETCD_WAL_DIR (etcd_wal_dir)",
    "initial-cluster": "the inventory (written to /etc/etcd/bootstrap.env)",
    "initial-cluster-state": "the start logic (written to /etc/etcd/bootstrap.env)",
    "initial-cluster-token": "etcd_initial_cluster_token",
    "initial-advertise-peer-urls": "the inventory address and etcd_peer_port",
    "force-new-cluster": "playbooks/97.recover-quorum.yml",
}
# Flags that switch off or replace TLS and certificate authentication: refused in etcd_extra_args
# unless etcd_extra_args_allow_insecure is true.
SECURITY_FLAGS = {
    "client-cert-auth": "always on",
    "peer-client-cert-auth": "always on",
    "cert-file": "the member's certificate in ca_dir",
    "key-file": "the member's key in ca_dir",
    "trusted-ca-file": "etcd_pki_ca_name in ca_dir",
    "peer-cert-file": "the member's certificate in ca_dir",
    "peer-key-file": "the member's key in ca_dir",
    "peer-trusted-ca-file": "etcd_pki_ca_name in ca_dir",
    "client-cert-file": "the member's certificate in ca_dir",
    "client-key-file": "the member's key in ca_dir",
    "peer-client-cert-file": "the member's certificate in ca_dir",
    "peer-client-key-file": "the member's key in ca_dir",
    "auto-tls": "the CA of role etcd_pki",
    "peer-auto-tls": "the CA of role etcd_pki",
    "experimental-peer-skip-client-san-verification": "verification stays on",
    "peer-skip-client-san-verification": "verification stays on",
    "tls-min-version": "etcd_tls_min_version",
    "tls-max-version": "etcd_tls_max_version",
    "cipher-suites": "etcd_cipher_suites",
    "listen-metrics-urls": "etcd_listen_metrics_urls",
    "listen-client-http-urls": "etcd_plain_http_loopback",
}
# URL flags allowed in etcd_extra_args as long as every URL is https.
URL_FLAGS = ("listen-client-urls", "advertise-client-urls", "listen-peer-urls")

_FLAG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_CIPHER_NAME = re.compile(r"^TLS_[A-Z0-9_]+$")


def problem(code, msg):
    return {"code": code, "msg": msg}


def parse_version(version):
    """(major, minor, patch) of an etcd version such as 3.5.16 or v3.4.23; ValueError otherwise."""
    parsed = parse(version)
    if parsed is None:
        raise ValueError("not an etcd version: %r" % (version,))
    return parsed


def has_flag(flag, version):
    """Whether etcd ``version`` knows ``--flag`` (flags outside FLAG_SINCE: always)."""
    since = FLAG_SINCE.get(flag.lstrip("-"))
    return since is None or parse_version(version) >= since


def _rendered(value):
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def unit_flags(flags, version):
    """The ``--name=value`` strings to render from ``flags`` (name -> value, in order) for ``version``.

    Flags the version does not know and empty values are left out; so is ``cipher-suites`` when
    only TLS 1.3 is allowed (Go cannot configure TLS 1.3 suites and etcd refuses the combination).
    """
    tls13_only = flags.get("tls-min-version") == "TLS1.3" and has_flag("tls-min-version", version)
    out = []
    for name, value in flags.items():
        if value is None or value is False or value == "" or value == [] or not has_flag(name, version):
            continue
        if name == "cipher-suites" and tls13_only:
            continue
        out.append("--%s=%s" % (name, _rendered(value)))
    return out


def tls_problems(version, tls_min_version, tls_max_version="", cipher_suites=None):
    """What is wrong with the TLS settings for etcd ``version``."""
    try:
        parsed = parse_version(version)
    except ValueError:
        return [problem("etcd_version_unknown", "Cannot tell the version of the etcd binary to install (%r): "
                        "check that it is an etcd server binary." % (version,))]
    problems = []
    if tls_min_version not in TLS_VERSIONS:
        problems.append(problem("tls_version_invalid", "etcd_tls_min_version=%s is not one of %s: set one of them."
                                % (tls_min_version, ", ".join(TLS_VERSIONS))))
    if tls_max_version and tls_max_version not in TLS_VERSIONS:
        problems.append(problem("tls_version_invalid", "etcd_tls_max_version=%s is not one of %s: set one of them, "
                                "or leave it empty." % (tls_max_version, ", ".join(TLS_VERSIONS))))
    if (tls_min_version in TLS_VERSIONS and tls_max_version in TLS_VERSIONS
            and TLS_VERSIONS.index(tls_max_version) < TLS_VERSIONS.index(tls_min_version)):
        problems.append(problem("tls_version_invalid", "etcd_tls_max_version=%s is below etcd_tls_min_version=%s: "
                                "raise the maximum or leave it empty." % (tls_max_version, tls_min_version)))
    since = _dotted(FLAG_SINCE["tls-min-version"])
    if tls_min_version == "TLS1.3" and parsed < FLAG_SINCE["tls-min-version"]:
        problems.append(problem("tls_version_unsupported", "etcd %s has no --tls-min-version (etcd %s and later): it "
                                "would keep accepting TLS 1.2. Set etcd_tls_min_version: TLS1.2, or install etcd %s "
                                "or later." % (_dotted(parsed), since, since)))
    if tls_max_version and parsed < FLAG_SINCE["tls-max-version"]:
        problems.append(problem("tls_version_unsupported", "etcd %s has no --tls-max-version (etcd %s and later): "
                                "leave etcd_tls_max_version empty, or install etcd %s or later."
                                % (_dotted(parsed), since, since)))
    suites = list(cipher_suites or [])
    bad = [name for name in suites if not isinstance(name, str) or not _CIPHER_NAME.match(name)]
    if bad:
        problems.append(problem("cipher_suites_invalid", "etcd_cipher_suites has names that are not Go cipher suite "
                                "names (TLS_...): %s. Use names such as %s." % (bad, DEFAULT_CIPHER_SUITES[1])))
    newer = [name for name in suites if name in CIPHER_SUITE_SINCE and parsed < CIPHER_SUITE_SINCE[name]]
    if newer:
        problems.append(problem("cipher_suites_unsupported", "etcd %s does not know the cipher suites %s: use the names "
                                "without _SHA256 (for example TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305)."
                                % (_dotted(parsed), newer)))
    if suites and tls_min_version != "TLS1.3" and not set(suites) & set(HTTP2_REQUIRED_CIPHER_SUITES):
        problems.append(problem("cipher_suites_invalid", "etcd_cipher_suites lacks both %s: etcd serves HTTP/2, whose "
                                "server refuses such a list. Add one of them." % " and ".join(HTTP2_REQUIRED_CIPHER_SUITES)))
    return problems


def _has_control(text):
    return any(ord(char) < 32 or char == "\\" for char in text)


def extra_args_problems(extra_args, version, allow_insecure=False):
    """What ``etcd_extra_args`` (flag name -> value) may not say.

    Owned flags are always refused, security flags and plain-http URLs unless ``allow_insecure``,
    flags that ``version`` does not know always, and so are names or values that could break out of
    the unit's ExecStart line.
    """
    if extra_args in (None, ""):
        return []
    if not isinstance(extra_args, dict):
        return [problem("extra_args_invalid", "etcd_extra_args must be a mapping of flag name to value, "
                        "for example {experimental-initial-corrupt-check: true}.")]
    problems = []
    for key, value in extra_args.items():
        name = str(key).lstrip("-")
        text = _rendered(value)
        if not _FLAG_NAME.match(name) or _has_control(text) or " " in text:
            problems.append(problem("extra_args_invalid", "etcd_extra_args entry %r: %r is not a flag name and "
                                    "value the unit can hold (lower-case name, no spaces, backslashes or line breaks)."
                                    % (str(key), text)))
            continue
        if name in OWNED_FLAGS:
            problems.append(problem("extra_args_owned", "etcd_extra_args sets --%s, which the role sets from %s: "
                                    "remove it from etcd_extra_args and use that setting instead."
                                    % (name, OWNED_FLAGS[name])))
            continue
        try:
            known = has_flag(name, version)
        except ValueError:
            known = True
        if not known:
            problems.append(problem("extra_args_unsupported", "etcd_extra_args sets --%s, which etcd %s does not know "
                                    "(it exists from %s): etcd would not start. Remove it, or install a newer etcd."
                                    % (name, version, _dotted(FLAG_SINCE[name]))))
            continue
        if allow_insecure:
            continue
        if name in SECURITY_FLAGS:
            problems.append(problem("extra_args_insecure", "etcd_extra_args sets --%s, which would change or switch off "
                                    "TLS or certificate authentication (the role's setting: %s). Remove it from "
                                    "etcd_extra_args, or set etcd_extra_args_allow_insecure: true if you mean it "
                                    "(see docs/security.md)." % (name, SECURITY_FLAGS[name])))
        elif name in URL_FLAGS and "http://" in text.lower():
            problems.append(problem("extra_args_insecure", "etcd_extra_args sets --%s=%s, a plain-http URL: every "
                                    "client reaching it bypasses TLS and certificate authentication. Use https URLs, "
                                    "or set etcd_extra_args_allow_insecure: true if you mean it (see docs/security.md)."
                                    % (name, text)))
    return problems


def metrics_url_problems(urls):
    """``etcd_listen_metrics_urls`` must be a list of http(s) URLs (empty: no metrics listener)."""
    if urls in (None, ""):
        return []
    if not isinstance(urls, (list, tuple)):
        urls = [urls]
    bad = [url for url in urls if not isinstance(url, str) or not re.match(r"^https?://[^\s,\\]+$", url)]
    if bad:
        return [problem("metrics_urls_invalid", "etcd_listen_metrics_urls has entries that are not http(s) URLs: %s. "
                        "Use for example http://127.0.0.1:2381, or [] for no metrics listener." % (bad,))]
    return []


# --- systemd sandbox of the unit ----------------------------------------------------------------
# etcd needs to write only its data and WAL dirs, to listen on TCP and to talk to journald; it needs
# no capability (ports above 1024, files owned by its user). A directive set to None in the
# overrides is left out; any other value replaces the default or adds a directive.
SANDBOX = (
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    ("ReadWritePaths", None),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("ProtectHome", None),
    ("CapabilityBoundingSet", ""),
    ("AmbientCapabilities", ""),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictNamespaces", "yes"),
    ("LockPersonality", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("RemoveIPC", "yes"),
    ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    ("SystemCallErrorNumber", "EPERM"),
    ("UMask", "0077"),
)
_HOME_TREES = ("/home", "/root", "/run/user")


def systemd_sandbox(data_dir, wal_dir="", overrides=None):
    """The ``Directive=value`` lines of the unit's sandbox for these data and WAL dirs.

    ReadWritePaths lists the data and WAL dirs (everything else is read-only); ProtectHome is
    ``read-only`` instead of ``yes`` when one of them lies under /home, /root or /run/user, which
    ``yes`` would hide.
    """
    dirs = [path for path in (data_dir, wal_dir) if path]
    under_home = any(path == top or path.startswith(top + "/") for path in dirs for top in _HOME_TREES)
    computed = {"ReadWritePaths": " ".join(dirs), "ProtectHome": "read-only" if under_home else "yes"}
    directives = [(key, computed[key] if value is None else value) for key, value in SANDBOX]
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        if not re.match(r"^[A-Z][A-Za-z]+$", str(key)) or (value is not None and re.search(r"[\r\n\\]", str(value))):
            raise ValueError("etcd_systemd_sandbox_overrides: %r=%r is not a systemd directive and a one-line value"
                             % (key, value))
    lines = []
    for key, value in directives:
        if key in overrides:
            value = overrides.pop(key)
        if value is not None:
            lines.append("%s=%s" % (key, value))
    lines.extend("%s=%s" % (key, value) for key, value in overrides.items() if value is not None)
    return lines
