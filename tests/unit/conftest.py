# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""Fixtures: a FakeEtcd behind EtcdClient._run_command (the one seam) and FakeModule factories."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from etcd_fakes import FakeEtcd, FakeModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.ezops.etcd.plugins.module_utils import etcd_client  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def fake_etcd(monkeypatch, tmp_path):
    """A FakeEtcd wired behind EtcdClient._run_command, with binaries in tmp_path/bin."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("etcdctl", "etcdutl"):
        (bindir / name).write_text("#!/bin/sh\nexit 99\n")
        (bindir / name).chmod(0o755)
    fake = FakeEtcd()
    fake.bindir = bindir
    monkeypatch.setattr(etcd_client.EtcdClient, "_run_command",
                        lambda self, argv, env: fake(argv, env))
    monkeypatch.setattr(etcd_client.EtcdClient, "_http_get",
                        lambda self, endpoint, path: fake.http_get(endpoint, path))
    monkeypatch.setattr(etcd_client.EtcdClient, "_peer_certificate",
                        lambda self, endpoint: fake.peer_certificate(endpoint))
    monkeypatch.setattr(etcd_client.EtcdClient, "probe",
                        lambda self, ep: (ep, "unreachable", "refused") if ep in fake.down
                        else (ep, None, "answers"))
    monkeypatch.setattr(etcd_client, "DEFAULT_BIN_DIRS", (str(tmp_path / "no-bin"),))
    return fake


@pytest.fixture
def module_for(fake_etcd):
    """FakeModule factory whose endpoints are the fake members and binaries the fake ones."""
    def factory(check_mode=False, **params):
        base = {"endpoints": [m["clientURLs"][0] for m in fake_etcd.members if "clientURLs" in m],
                "etcdctl_path": str(fake_etcd.bindir / "etcdctl"),
                "etcdutl_path": str(fake_etcd.bindir / "etcdutl")}
        base.update(params)
        return FakeModule(base, check_mode=check_mode)
    return factory
