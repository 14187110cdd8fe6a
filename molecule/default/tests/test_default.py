"""What a deployed member must look like: running, healthy, TLS-only, tight permissions, all flags."""

import datetime
import json
import os
import ssl
import urllib.error
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.join(os.path.dirname(__file__), "../../.."))
SSL_DIR = os.path.join(PROJECT, ".cache/lab%s/kubeasz/clusters/lab/ssl" % os.environ.get("LAB_ID", "0"))
ETCDCTL = "set -a; . /etc/etcd/etcdctl.env; set +a; /opt/kube/bin/etcdctl "
UNIT = "/etc/systemd/system/etcd.service"
REQUIRED_FLAGS = [
    "--client-cert-auth",
    "--peer-client-cert-auth",
    "--tls-min-version=TLS1.2",
    "--cert-file=/etc/kubernetes/ssl/etcd.pem",
    "--key-file=/etc/kubernetes/ssl/etcd-key.pem",
    "--trusted-ca-file=/etc/kubernetes/ssl/ca.pem",
    "--peer-cert-file=/etc/kubernetes/ssl/etcd.pem",
    "--peer-key-file=/etc/kubernetes/ssl/etcd-key.pem",
    "--peer-trusted-ca-file=/etc/kubernetes/ssl/ca.pem",
    "--initial-cluster-token=etcd-cluster-0",
    "--auto-compaction-mode=periodic",
    "--auto-compaction-retention=1",
    "--max-request-bytes=10485760",
    "--quota-backend-bytes=8589934592",
    "--data-dir=/var/lib/etcd",
]
UNIT_SETTINGS = ["Type=notify", "Restart=always", "RestartSec=15", "LimitNOFILE=65536", "OOMScoreAdjust=-999", "User=etcd"]


def address(host):
    return host.backend.get_hostname()


def https_get(url, cafile, cert=None, key=None):
    context = ssl.create_default_context(cafile=cafile)
    if cert:
        context.load_cert_chain(cert, key)
    with urllib.request.urlopen(url, context=context, timeout=5) as answer:
        return answer.read().decode()


@pytest.fixture(scope="module")
def foreign_client(tmp_path_factory):
    """A client certificate signed by a CA that etcd does not trust."""
    directory = tmp_path_factory.mktemp("foreign")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "foreign-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd-client")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "client.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "client-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(directory / "client.pem"), str(directory / "client-key.pem")


def test_etcd_is_running_and_enabled(host):
    service = host.service("etcd")
    assert service.is_running
    assert service.is_enabled


def test_member_is_healthy_over_tls(host):
    health = json.loads(host.check_output(ETCDCTL + "endpoint health -w json"))
    assert [entry["health"] for entry in health] == [True]


def test_cluster_has_three_started_voting_members(host):
    members = json.loads(host.check_output(ETCDCTL + "member list -w json"))["members"]
    assert len(members) == 3
    assert all(member.get("name") for member in members), "a member was added but never started"
    assert not any(member.get("isLearner") for member in members)
    assert "etcd-%s" % address(host) in [member["name"] for member in members]


def test_etcdctl_in_a_login_shell_works_without_flags_and_with_the_docs_flags(host):
    """/etc/profile.d/etcdctl.sh: flagless etcdctl, and kubeasz's documented command line, which
    etcdctl refused while the profile exported ETCDCTL_* ("conflicting environment variable")."""
    flagless = host.run("bash -lc 'etcdctl endpoint health -w json'")
    assert flagless.rc == 0, flagless.stderr
    assert [entry["health"] for entry in json.loads(flagless.stdout)] == [True]
    documented = host.run(
        "bash -lc 'ETCDCTL_API=3 etcdctl --endpoints=https://%s:2379 --cacert=/etc/kubernetes/ssl/ca.pem "
        "--cert=/etc/kubernetes/ssl/etcd.pem --key=/etc/kubernetes/ssl/etcd-key.pem endpoint health -w json'"
        % address(host))
    assert documented.rc == 0, documented.stderr
    assert [entry["health"] for entry in json.loads(documented.stdout)] == [True]


def test_client_with_the_cluster_certificate_is_served(host):
    answer = https_get("https://%s:2379/health" % address(host), SSL_DIR + "/ca.pem",
                       SSL_DIR + "/etcd-client.pem", SSL_DIR + "/etcd-client-key.pem")
    assert json.loads(answer)["health"] == "true"


def test_client_without_certificate_is_refused(host):
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        https_get("https://%s:2379/health" % address(host), SSL_DIR + "/ca.pem")


def test_client_with_certificate_of_another_ca_is_refused(host, foreign_client):
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        https_get("https://%s:2379/health" % address(host), SSL_DIR + "/ca.pem", *foreign_client)


def test_no_port_serves_plain_http(host):
    listening = host.check_output("ss -Hltn | awk '{print $4}'").split()
    assert any(sock.endswith(":2379") for sock in listening)
    for sock in listening:
        addr, port = sock.rsplit(":", 1)
        addr = {"*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(addr, addr)
        answer = host.run("curl -s -m 3 http://%s:%s/version" % (addr, port))
        assert "etcdserver" not in answer.stdout, "plain http served on %s" % sock


@pytest.mark.parametrize(
    "path, mode, owner",
    [
        ("/etc/kubernetes/ssl/etcd-key.pem", 0o600, "etcd"),
        ("/etc/kubernetes/ssl/etcd.pem", 0o644, "root"),
        ("/etc/kubernetes/ssl/ca.pem", 0o644, "root"),
        ("/var/lib/etcd", 0o700, "etcd"),
        (UNIT, 0o644, "root"),
    ],
)
def test_permissions_are_tight(host, path, mode, owner):
    node = host.file(path)
    assert node.exists
    assert node.mode == mode, "%s has mode %o, expected %o" % (path, node.mode, mode)
    assert node.user == owner


def test_controller_private_keys_are_private(host):
    keys = [name for name in os.listdir(SSL_DIR) if name.endswith("-key.pem")]
    assert "ca-key.pem" in keys and "etcd-%s-key.pem" % address(host) in keys
    for name in keys:
        assert os.stat(os.path.join(SSL_DIR, name)).st_mode & 0o777 == 0o600, name


def test_unit_has_every_flag(host):
    unit = host.file(UNIT).content_string
    running = host.check_output("cat /proc/$(pgrep -x etcd)/cmdline | tr '\\0' ' '").split()
    unit_flags = unit.split()
    for flag in REQUIRED_FLAGS:  # whole flags, value included
        assert flag in unit_flags, "unit lacks %s" % flag
        assert flag in running, "running etcd lacks %s" % flag
    # the role's default, or side_effect.yml's rolling change (a later deploy in the tests puts it back)
    counts = [flag for flag in unit_flags if flag.startswith("--snapshot-count=")]
    assert counts in (["--snapshot-count=50000"], ["--snapshot-count=60000"]), counts
    assert counts[0] in running, "running etcd has not the unit's %s: %s" % (counts[0], running)
    for setting in UNIT_SETTINGS:
        assert setting in unit.splitlines(), "unit lacks %s" % setting
    assert "--name=etcd-%s" % address(host) in unit
    # The only plain-http listener is the metrics-only one on loopback (no keys, no client cert needed).
    plain = [line for line in unit.splitlines() if "http://" in line and "Documentation=" not in line]
    assert plain == ["  --listen-metrics-urls=http://127.0.0.1:2381 \\"], plain


def test_member_certificate_is_its_own(host):
    pem = host.file("/etc/kubernetes/ssl/etcd.pem").content_string.encode()
    names = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    assert address(host) in ips and "127.0.0.1" in ips
    assert "localhost" in names.get_values_for_type(x509.DNSName)
