# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""A wrong CA makes every module fail with a TLS error that names the fix, and change nothing."""
from __future__ import annotations

import os

import pytest

from etcd_lab import PRIMARY_VERSIONS


@pytest.fixture(params=PRIMARY_VERSIONS, scope="module")
def version(request):
    """This module runs on the first version of EZOPS_ETCD_VERSIONS only (see conftest)."""
    return request.param


@pytest.mark.parametrize("module, args", [
    ("etcd_member", {"name": "m2", "state": "absent"}),
    ("etcd_member", {"name": "m9", "peer_urls": ["https://127.0.0.1:9"]}),
    ("etcd_maintenance", {"action": "compact"}),
    ("etcd_snapshot", {"state": "saved"}),
])
def test_wrong_ca_fails_clearly_and_changes_nothing(tls3_shared, run_module, tmp_path, module,
                                                    args):
    cluster = tls3_shared
    backups = tmp_path / "backups"
    backups.mkdir()
    if module == "etcd_snapshot":
        args = dict(args, path=str(backups / "snap.db"))
    before = cluster.member_list()
    revision = cluster.revision()
    conn = dict(cluster.conn(), cacert=cluster.pki["other_ca"])
    result = run_module(module, dict(conn, **args))
    assert result["failed"] is True
    assert result["error_kind"] == "tls_rejected"
    assert "not trusted by cacert " + cluster.pki["other_ca"] in result["msg"]
    assert "Fix: point cacert at the CA" in result["msg"]
    assert cluster.member_list() == before
    assert cluster.revision() == revision
    assert cluster.etcdctl("get", "k", "--rev=1", check=False).returncode == 0  # not compacted
    assert os.listdir(str(backups)) == []
