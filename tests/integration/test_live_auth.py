# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""etcd auth against a real etcd: the credentials travel as ETCDCTL_USER/ETCDCTL_PASSWORD only
(issue 8, defect 8), which etcdctl must honour without a --user flag, and no password comes back."""
from __future__ import annotations

import json

import pytest

from etcd_lab import VERSIONS

PASSWORD = "Pa55:w0rd-x9"   # a ':' inside, as etcdctl splits user at the first one


@pytest.fixture(params=VERSIONS, scope="module")
def version(request):
    """Every version: how etcdctl reads ETCDCTL_USER/ETCDCTL_PASSWORD differs between 3.4 and 3.5."""
    return request.param


@pytest.fixture
def with_auth(single):
    single.etcdctl("user", "add", "root:" + PASSWORD)
    single.etcdctl("user", "grant-role", "root", "root")
    single.etcdctl("auth", "enable")
    return single


def test_auth_through_the_environment_only(with_auth, run_module):
    conn = with_auth.conn()
    for creds, env in (({"user": "root", "password": PASSWORD}, None),
                       ({"user": "root:" + PASSWORD}, None),
                       ({}, {"ETCDCTL_USER": "root", "ETCDCTL_PASSWORD": PASSWORD})):
        result = run_module("etcd_info", dict(conn, **creds), env=env)
        assert not result.get("failed"), result.get("msg")
        assert result["healthy"] is True and len(result["members"]) == 1
        assert PASSWORD not in json.dumps(result)
        assert PASSWORD.split(":")[1] not in json.dumps(result)
    # a mutating module too: compaction needs the root role
    with_auth_put = with_auth.etcdctl("--user=root:" + PASSWORD, "put", "k", "v", check=False)
    assert with_auth_put.returncode == 0, with_auth_put.stderr
    result = run_module("etcd_maintenance", dict(conn, action="compact", user="root",
                                                 password=PASSWORD))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and PASSWORD not in json.dumps(result)


def test_wrong_or_missing_credentials_fail_clearly_without_the_password(with_auth, run_module):
    conn = with_auth.conn()
    result = run_module("etcd_info", dict(conn, user="root", password="not-" + PASSWORD))
    assert result["failed"] is True and result["error_kind"] == "permission_denied"
    assert PASSWORD not in json.dumps(result)
    result = run_module("etcd_info", dict(conn, user="root"))
    assert result["failed"] is True and result["error_kind"] == "config"
    assert "set password" in result["msg"]
