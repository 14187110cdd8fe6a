# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""Real etcd processes on loopback for the integration tests (no Docker, no systemd).

A throwaway CA, one server/peer certificate (SAN 127.0.0.1, localhost) and a client certificate
are written with ``cryptography``; members listen on free 127.0.0.1 ports inside a temp dir.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO = Path(__file__).resolve().parents[2]
VERSIONS = [v for v in os.environ.get("EZOPS_ETCD_VERSIONS", "3.5.16,3.4.23").split(",") if v]
# Tests whose etcd behaviour does not differ by version (their parsers are unit-tested on recorded
# 3.4 and 3.5 output) run on the first version only, unless EZOPS_ETCD_ALL_VERSIONS=1.
PRIMARY_VERSIONS = VERSIONS if os.environ.get("EZOPS_ETCD_ALL_VERSIONS") == "1" else VERSIONS[:1]
ETCD_CACHE = REPO / ".cache" / "etcd"


def bin_dir(version):
    path = ETCD_CACHE / version
    if not (path / "etcd").exists():
        raise RuntimeError("etcd %s is missing: run scripts/fetch-etcd.sh %s" % (version, version))
    return path


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key, path):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _cert(subject_cn, key, issuer_cert, issuer_key, ca=False, server=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def make_pki(directory):
    """Write ca.pem, etcd.pem/etcd-key.pem (server+peer+client), client.pem/client-key.pem and a
    second, unrelated other-ca.pem. Returns a dict of paths (str)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca = _cert("ezops-test-ca", ca_key, None, None, ca=True)
    other_key = _key()
    other = _cert("unrelated-ca", other_key, None, None, ca=True)
    server_key = _key()
    server = _cert("etcd", server_key, ca, ca_key, server=True)
    client_key = _key()
    client = _cert("root", client_key, ca, ca_key)
    out = {}
    for label, cert in (("ca", ca), ("other_ca", other), ("cert", server), ("client_cert", client)):
        fname = {"ca": "ca.pem", "other_ca": "other-ca.pem", "cert": "etcd.pem",
                 "client_cert": "client.pem"}[label]
        (directory / fname).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        out[label] = str(directory / fname)
    _write_key(server_key, directory / "etcd-key.pem")
    _write_key(client_key, directory / "client-key.pem")
    out["key"] = str(directory / "etcd-key.pem")
    out["client_key"] = str(directory / "client-key.pem")
    return out


def free_ports(count):
    socks, ports = [], []
    for _index in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in socks:
        sock.close()
    return ports


class Member:
    def __init__(self, name, client_port, peer_port, scheme, data_dir):
        self.name = name
        self.client_url = "%s://127.0.0.1:%d" % (scheme, client_port)
        self.peer_url = "%s://127.0.0.1:%d" % (scheme, peer_port)
        self.data_dir = Path(data_dir)
        self.proc = None
        self.log = None


class Cluster:
    """``size`` members named m1..mN; ``tls`` for https with client-cert auth on both sides."""

    def __init__(self, version, workdir, size=1, tls=False, token="ezops-test", pki=None):
        self.version = version
        self.bin = bin_dir(version)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tls = tls
        self.token = token
        self.pki = pki if pki is not None else (make_pki(self.workdir / "pki") if tls else None)
        self.members = []
        scheme = "https" if tls else "http"
        ports = free_ports(2 * size)
        for i in range(size):
            name = "m%d" % (i + 1)
            self.members.append(Member(name, ports[2 * i], ports[2 * i + 1], scheme,
                                       self.workdir / name))
        self.scheme = scheme

    # --- addressing -------------------------------------------------------------------------
    @property
    def endpoints(self):
        return [m.client_url for m in self.members]

    def initial_cluster(self, members=None):
        return ",".join("%s=%s" % (m.name, m.peer_url) for m in (members or self.members))

    def conn(self, client=True):
        """Connection options for the modules (client cert by default)."""
        opts = {"endpoints": self.endpoints, "etcdctl_path": str(self.bin / "etcdctl")}
        if (self.bin / "etcdutl").exists():
            opts["etcdutl_path"] = str(self.bin / "etcdutl")
        if self.tls:
            opts.update(cacert=self.pki["ca"],
                        cert=self.pki["client_cert" if client else "cert"],
                        key=self.pki["client_key" if client else "key"])
        else:
            opts.update(cacert=None, cert=None, key=None)
        return opts

    def etcdctl_argv(self, endpoints=None):
        argv = [str(self.bin / "etcdctl"), "--endpoints=" + ",".join(endpoints or self.endpoints)]
        if self.tls:
            argv += ["--cacert=" + self.pki["ca"], "--cert=" + self.pki["client_cert"],
                     "--key=" + self.pki["client_key"]]
        return argv

    def etcdctl(self, *args, endpoints=None, check=True, timeout=30):
        env = dict(os.environ, ETCDCTL_API="3", LANG="C")
        for var in list(env):
            if var.startswith("ETCDCTL_") and var != "ETCDCTL_API":
                del env[var]
        proc = subprocess.run(self.etcdctl_argv(endpoints) + list(args), capture_output=True,
                              text=True, env=env, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError("etcdctl %s failed: %s" % (" ".join(args), proc.stderr))
        return proc

    def etcdctl_json(self, *args, endpoints=None):
        return json.loads(self.etcdctl("-w", "json", *args, endpoints=endpoints).stdout)

    # --- lifecycle --------------------------------------------------------------------------
    def member_flags(self, member, state="new", initial_cluster=None):
        flags = ["--name=" + member.name, "--data-dir=" + str(member.data_dir),
                 "--listen-client-urls=" + member.client_url,
                 "--advertise-client-urls=" + member.client_url,
                 "--listen-peer-urls=" + member.peer_url,
                 "--initial-advertise-peer-urls=" + member.peer_url,
                 "--initial-cluster=" + (initial_cluster or self.initial_cluster()),
                 "--initial-cluster-state=" + state,
                 "--initial-cluster-token=" + self.token,
                 "--heartbeat-interval=50", "--election-timeout=500",
                 "--snapshot-count=10000", "--logger=zap", "--log-level=warn"]
        if self.tls:
            for prefix in ("", "peer-"):
                flags += ["--%scert-file=%s" % (prefix, self.pki["cert"]),
                          "--%skey-file=%s" % (prefix, self.pki["key"]),
                          "--%strusted-ca-file=%s" % (prefix, self.pki["ca"]),
                          "--%sclient-cert-auth" % prefix]
        return flags

    def start_member(self, member, state="new", initial_cluster=None, extra=()):
        member.log = open(self.workdir / ("%s.log" % member.name), "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        member.proc = subprocess.Popen(
            [str(self.bin / "etcd")] + self.member_flags(member, state, initial_cluster) + list(extra),
            stdout=member.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        return member

    def start(self, timeout=30):
        for member in self.members:
            self.start_member(member)
        self.wait_healthy(timeout=timeout)
        return self

    def add_spare(self, name):
        """A member object with fresh ports, not started and not added."""
        client, peer = free_ports(2)
        member = Member(name, client, peer, self.scheme, self.workdir / name)
        return member

    def wait_healthy(self, members=None, timeout=30):
        members = members or [m for m in self.members if m.proc is not None]
        deadline = time.time() + timeout
        last = ""
        while time.time() < deadline:
            for member in members:
                if member.proc is not None and member.proc.poll() is not None:
                    raise RuntimeError("etcd %s exited: see %s" % (member.name, member.log.name))
            proc = self.etcdctl("endpoint", "health", endpoints=[m.client_url for m in members],
                                check=False, timeout=15)
            if proc.returncode == 0:
                return
            last = proc.stderr
            time.sleep(0.3)
        raise RuntimeError("etcd cluster not healthy after %ss: %s" % (timeout, last))

    def stop_member(self, member, sig=signal.SIGKILL):
        if member.proc is None:
            return
        if member.proc.poll() is None:
            try:
                os.killpg(member.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                member.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(member.proc.pid, signal.SIGKILL)
                member.proc.wait(timeout=10)
        member.proc = None
        if member.log:
            member.log.close()

    def stop(self):
        for member in self.members:
            self.stop_member(member)

    # --- observation, independent of the modules ----------------------------------------------
    def member_list(self, endpoints=None):
        data = self.etcdctl_json("member", "list", endpoints=endpoints)
        return sorted(({"id": "%x" % m["ID"], "name": m.get("name", ""),
                        "peer_urls": sorted(m.get("peerURLs", [])),
                        "is_learner": bool(m.get("isLearner", False))}
                       for m in data.get("members", [])), key=lambda m: m["id"])

    def put(self, key, value):
        self.etcdctl("put", key, value)

    def get(self, key):
        data = self.etcdctl_json("get", key)
        return data.get("kvs", [])

    def revision(self):
        return int(self.etcdctl_json("endpoint", "status", endpoints=self.endpoints[:1])[0]
                   ["Status"]["header"]["revision"])


def version_tuple(version):
    return tuple(int(x) for x in version.split(".")[:3])


def tree_state(path):
    """Every file under ``path`` with its size and mtime, to prove a refusal touched nothing."""
    path = Path(path)
    if not path.exists():
        return None
    out = {}
    for item in sorted(path.rglob("*")):
        stat = item.stat()
        out[str(item.relative_to(path))] = (item.is_dir(), 0 if item.is_dir() else stat.st_size,
                                            stat.st_mtime_ns)
    return out
