import pytest

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_flags import (
    DEFAULT_CIPHER_SUITES,
    FLAG_SINCE,
    extra_args_problems,
    has_flag,
    metrics_url_problems,
    parse_version,
    systemd_sandbox,
    tls_problems,
    unit_flags,
)

FLAGS = {"tls-min-version": "TLS1.2", "tls-max-version": "", "cipher-suites": DEFAULT_CIPHER_SUITES,
         "listen-metrics-urls": ["http://127.0.0.1:2381"]}


def codes(problems):
    return [p["code"] for p in problems]


@pytest.mark.parametrize("text, expected", [("3.5.16", (3, 5, 16)), ("v3.4.23", (3, 4, 23)), ("3.6.0-rc.1", (3, 6, 0))])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["", None, "3.5", "etcd"])
def test_parse_version_rejects(text):
    with pytest.raises(ValueError):
        parse_version(text)


@pytest.mark.parametrize("version, known", [("3.4.23", False), ("3.5.0", False), ("3.5.6", False), ("3.5.7", False),
                                            ("3.5.8", True), ("3.5.16", True), ("3.5.30", True), ("3.6.0", True)])
def test_tls_min_version_exists_from_3_5_8(version, known):
    assert has_flag("tls-min-version", version) is known
    assert has_flag("--tls-max-version", version) is known
    assert has_flag("listen-client-http-urls", version) is known


def test_flags_outside_the_table_always_exist():
    assert has_flag("snapshot-count", "3.4.0")
    assert has_flag("listen-metrics-urls", "3.4.0") and has_flag("cipher-suites", "3.4.0")
    assert set(FLAG_SINCE) >= {"tls-min-version", "tls-max-version", "listen-client-http-urls"}


@pytest.mark.parametrize("version, tls_flag", [("3.4.23", False), ("3.5.6", False), ("3.5.16", True), ("3.5.30", True)])
def test_unit_flags_per_version(version, tls_flag):
    rendered = unit_flags(FLAGS, version)
    assert ("--tls-min-version=TLS1.2" in rendered) is tls_flag
    assert "--cipher-suites=" + ",".join(DEFAULT_CIPHER_SUITES) in rendered
    assert "--listen-metrics-urls=http://127.0.0.1:2381" in rendered
    assert not any(flag.startswith("--tls-max-version") for flag in rendered)  # empty: left out


def test_unit_flags_keep_order_and_drop_empty():
    assert unit_flags({"listen-metrics-urls": [], "tls-min-version": "TLS1.2", "cipher-suites": ["A"]}, "3.5.16") == [
        "--tls-min-version=TLS1.2", "--cipher-suites=A"]


def test_no_cipher_suites_with_tls13_only():
    rendered = unit_flags(dict(FLAGS, **{"tls-min-version": "TLS1.3"}), "3.5.16")
    assert "--tls-min-version=TLS1.3" in rendered
    assert not any(flag.startswith("--cipher-suites") for flag in rendered)


def test_default_ciphers_are_ecdhe_aead_and_http2_ready():
    assert all(name.startswith("TLS_ECDHE_") and ("GCM" in name or "CHACHA20" in name) for name in DEFAULT_CIPHER_SUITES)
    assert tls_problems("3.4.23", "TLS1.2", "", DEFAULT_CIPHER_SUITES) == []


@pytest.mark.parametrize("version, tls_min, tls_max, suites, expected", [
    ("3.5.6", "TLS1.3", "", [], ["tls_version_unsupported"]),
    ("3.5.16", "TLS1.3", "", [], []),
    ("3.5.6", "TLS1.2", "TLS1.3", [], ["tls_version_unsupported"]),
    ("3.5.16", "TLS1.3", "TLS1.2", [], ["tls_version_invalid"]),
    ("3.5.16", "SSL3", "", [], ["tls_version_invalid"]),
    ("garbage", "TLS1.2", "", [], ["etcd_version_unknown"]),
    ("3.4.23", "TLS1.2", "", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"],
     ["cipher_suites_unsupported"]),
    ("3.5.16", "TLS1.2", "", ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"], ["cipher_suites_invalid"]),
    ("3.5.16", "TLS1.2", "", ["ecdhe-rsa-aes128-gcm-sha256"], ["cipher_suites_invalid", "cipher_suites_invalid"]),
])
def test_tls_problems(version, tls_min, tls_max, suites, expected):
    assert codes(tls_problems(version, tls_min, tls_max, suites)) == expected


@pytest.mark.parametrize("args, expected", [
    ({"client-cert-auth": "false"}, ["extra_args_insecure"]),
    ({"--peer-client-cert-auth": False}, ["extra_args_insecure"]),
    ({"trusted-ca-file": "/tmp/other.pem"}, ["extra_args_insecure"]),
    ({"cert-file": "/tmp/c.pem"}, ["extra_args_insecure"]),
    ({"auto-tls": True}, ["extra_args_insecure"]),
    ({"listen-client-urls": "https://10.0.0.1:2379,http://0.0.0.0:2379"}, ["extra_args_insecure"]),
    ({"listen-client-urls": "https://10.0.0.1:2379,https://127.0.0.1:2379"}, []),
    ({"data-dir": "/var/lib"}, ["extra_args_owned"]),
    ({"name": "x"}, ["extra_args_owned"]),
    ({"initial-cluster-state": "new"}, ["extra_args_owned"]),
    ({"experimental-initial-corrupt-check": True, "no-such-flag": "1"}, []),
    ({"snapshot-count": "1\nExecStartPre=/bin/sh -c id"}, ["extra_args_invalid"]),
    ({"Bad Name": "1"}, ["extra_args_invalid"]),
    ({"log-level": "a b"}, ["extra_args_invalid"]),
])
def test_extra_args_problems(args, expected):
    assert codes(extra_args_problems(args, "3.5.16")) == expected


def test_extra_args_opt_out_allows_security_flags_but_not_owned_or_unknown_ones():
    assert extra_args_problems({"client-cert-auth": "false", "listen-client-urls": "http://0.0.0.0:2379"},
                               "3.5.16", allow_insecure=True) == []
    assert codes(extra_args_problems({"wal-dir": "/x"}, "3.5.16", allow_insecure=True)) == ["extra_args_owned"]
    assert codes(extra_args_problems({"tls-min-version": "TLS1.2"}, "3.5.6", allow_insecure=True)) == [
        "extra_args_unsupported"]


def test_extra_args_must_be_a_mapping():
    assert codes(extra_args_problems(["client-cert-auth=false"], "3.5.16")) == ["extra_args_invalid"]
    assert extra_args_problems({}, "3.5.16") == [] and extra_args_problems(None, "3.5.16") == []


@pytest.mark.parametrize("urls, expected", [(["http://127.0.0.1:2381"], []), ([], []), (["127.0.0.1:2381"], ["metrics_urls_invalid"]),
                                            (["http://127.0.0.1:2381 x"], ["metrics_urls_invalid"])])
def test_metrics_urls(urls, expected):
    assert codes(metrics_url_problems(urls)) == expected


def test_sandbox_has_the_hardening_directives_and_only_the_data_dirs_writable():
    lines = systemd_sandbox("/var/lib/etcd", "/var/lib/etcd-wal")
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/etcd /var/lib/etcd-wal",
                 "PrivateTmp=yes", "ProtectHome=yes", "CapabilityBoundingSet=", "AmbientCapabilities=",
                 "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectControlGroups=yes",
                 "RestrictSUIDSGID=yes", "LockPersonality=yes", "RestrictRealtime=yes", "RestrictNamespaces=yes",
                 "SystemCallArchitectures=native", "ProtectClock=yes", "ProtectHostname=yes", "ProtectKernelLogs=yes"):
        assert line in lines
    assert len({line.split("=", 1)[0] for line in lines}) == len(lines)


def test_sandbox_keeps_a_data_dir_under_home_reachable():
    assert "ProtectHome=read-only" in systemd_sandbox("/home/etcd/data")
    assert "ReadWritePaths=/home/etcd/data" in systemd_sandbox("/home/etcd/data")


def test_sandbox_overrides_replace_remove_and_add():
    lines = systemd_sandbox("/var/lib/etcd", "", {"PrivateDevices": None, "ProtectClock": "no", "MemoryMax": "8G"})
    assert not any(line.startswith("PrivateDevices=") for line in lines)
    assert "ProtectClock=no" in lines and lines[-1] == "MemoryMax=8G"


@pytest.mark.parametrize("overrides", [{"X\nExecStart": "1"}, {"ProtectClock": "yes\nExecStartPre=/bin/sh"}])
def test_sandbox_overrides_cannot_inject_lines(overrides):
    with pytest.raises(ValueError):
        systemd_sandbox("/var/lib/etcd", "", overrides)
