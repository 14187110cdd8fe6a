"""The etcd unit as roles/etcd/templates/etcd.service.j2 renders it, with Ansible's templar, the role's
defaults and vars and the collection's filters, for the etcd versions the collection supports."""

import os
import re
import sys

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
ROLE = os.path.join(ROOT, "roles", "etcd")
VERSIONS = ["3.4.23", "3.5.6", "3.5.16", "3.5.30"]


@pytest.fixture(scope="module")
def render():
    # Ansible's collection loader must own ansible_collections.* while the templar resolves
    # ezops.etcd.* filters; the modules the other tests imported are put back afterwards.
    saved = {name: module for name, module in sys.modules.items() if name.startswith("ansible_collections")}
    for name in saved:
        del sys.modules[name]
    _AnsibleCollectionFinder(paths=[COLLECTIONS])._install()
    loader = DataLoader()
    base = dict(loader.load_from_file(os.path.join(ROLE, "defaults", "main.yml"), trusted_as_template=True))
    base.update(loader.load_from_file(os.path.join(ROLE, "vars", "main.yml"), trusted_as_template=True))
    base.update(inventory_hostname="10.0.0.1", groups={"etcd": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]},
                ansible_managed="Ansible managed", __etcd_has_etcdutl=True)
    with open(os.path.join(ROLE, "templates", "etcd.service.j2")) as handle:
        source = handle.read()

    def _render(version, **overrides):
        variables = dict(base, __etcd_version=version, **overrides)
        return Templar(loader=loader, variables=variables).template(trust_as_template(source))

    yield _render
    _AnsibleCollectionFinder._remove()
    for name in [name for name in sys.modules if name.startswith("ansible_collections")]:
        del sys.modules[name]
    sys.modules.update(saved)


def exec_flags(unit):
    """The flags of ExecStart, one per continued line."""
    block = unit.split("ExecStart=", 1)[1].split("\nRestart=", 1)[0]
    return [line.strip().rstrip("\\").strip() for line in block.splitlines()[1:]]


def directives(unit):
    return [line for line in unit.splitlines() if re.match(r"^[A-Z][A-Za-z]+=", line)]


@pytest.mark.parametrize("version", VERSIONS)
def test_tls_min_version_only_from_3_5_8(render, version):
    flags = exec_flags(render(version))
    assert ("--tls-min-version=TLS1.2" in flags) is (version in ("3.5.16", "3.5.30"))
    assert not any(flag.startswith(("--tls-max-version", "--listen-client-http-urls")) for flag in flags)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_version_gets_auth_ciphers_and_a_loopback_metrics_listener(render, version):
    flags = exec_flags(render(version))
    for flag in ("--client-cert-auth", "--peer-client-cert-auth", "--trusted-ca-file=/etc/kubernetes/ssl/ca.pem",
                 "--peer-trusted-ca-file=/etc/kubernetes/ssl/ca.pem", "--cert-file=/etc/kubernetes/ssl/etcd.pem",
                 "--listen-metrics-urls=http://127.0.0.1:2381",
                 "--listen-client-urls=https://10.0.0.1:2379,https://127.0.0.1:2379"):
        assert flag in flags
    suites = [flag for flag in flags if flag.startswith("--cipher-suites=")]
    assert len(suites) == 1 and "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in suites[0] and "CBC" not in suites[0]
    assert not any("http://" in flag for flag in flags if not flag.startswith("--listen-metrics-urls="))


def test_tls13_only_leaves_out_cipher_suites(render):
    flags = exec_flags(render("3.5.16", etcd_tls_min_version="TLS1.3", etcd_tls_max_version="TLS1.3"))
    assert "--tls-min-version=TLS1.3" in flags and "--tls-max-version=TLS1.3" in flags
    assert not any(flag.startswith("--cipher-suites") for flag in flags)


def test_metrics_listener_can_be_switched_off(render):
    assert not any("listen-metrics-urls" in flag for flag in exec_flags(render("3.5.16", etcd_listen_metrics_urls=[])))


def test_every_exec_line_continues_and_the_last_flag_ends_it(render):
    unit = render("3.5.6", etcd_extra_args={"--experimental-initial-corrupt-check": True}, etcd_wal_dir="/var/lib/etcd-wal")
    block = unit.split("ExecStart=", 1)[1].split("\nRestart=", 1)[0].splitlines()
    assert all(line.endswith(" \\") for line in block[:-1]) and not block[-1].endswith("\\")
    assert "--experimental-initial-corrupt-check=True" in exec_flags(unit)
    assert "--wal-dir=/var/lib/etcd-wal" in exec_flags(unit)


def test_sandbox_directives(render):
    unit = render("3.5.16", etcd_wal_dir="/var/lib/etcd-wal")
    lines = directives(unit)
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/etcd /var/lib/etcd-wal",
                 "PrivateTmp=yes", "ProtectHome=yes", "CapabilityBoundingSet=", "AmbientCapabilities=",
                 "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectControlGroups=yes",
                 "RestrictSUIDSGID=yes", "LockPersonality=yes", "RestrictRealtime=yes", "RestrictNamespaces=yes",
                 "SystemCallArchitectures=native", "ProtectClock=yes", "ProtectHostname=yes", "ProtectKernelLogs=yes",
                 "User=etcd", "Type=notify", "Restart=always", "LimitNOFILE=65536"):
        assert line in lines, line
    service = unit.split("[Service]", 1)[1].split("[Install]", 1)[0]
    assert "NoNewPrivileges=yes" in service


def test_sandbox_can_be_switched_off_or_changed(render):
    assert "ProtectSystem=strict" not in directives(render("3.5.16", etcd_systemd_sandbox=False))
    lines = directives(render("3.5.16", etcd_systemd_sandbox_overrides={"PrivateDevices": None}))
    assert "ProtectSystem=strict" in lines and not any(line.startswith("PrivateDevices=") for line in lines)
