# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""No password reaches argv, a returned cmd, msg, stdout, stderr or any other result value, on
success or on failure, in every module (issue 8, defect 8)."""
from __future__ import annotations

import json

import pytest

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_client
from ansible_collections.ezops.etcd.plugins.modules import (
    etcd_info,
    etcd_maintenance,
    etcd_member,
    etcd_snapshot,
)
from etcd_fakes import FakeModule, ModuleExit, run_main

SECRET = "Pa55-w0rd:with-colon"
CREDENTIALS = [
    pytest.param({"user": "root:" + SECRET}, id="user-name-colon-password"),
    pytest.param({"user": "root", "password": SECRET}, id="user-and-password"),
]


def calls_for(module, tmp_path):
    return {
        etcd_info: {"cluster": True},
        etcd_member: {"name": "m4", "peer_urls": ["https://10.0.0.4:2380"]},
        etcd_maintenance: {"action": "compact"},
        etcd_snapshot: {"state": "saved", "path": str(tmp_path / "snap.db")},
    }[module]


def assert_no_secret(fake, result):
    assert SECRET not in json.dumps(result, default=str)
    for argv in fake.calls:
        assert not [a for a in argv if SECRET in a or a.startswith(("--user", "--password"))]


@pytest.mark.parametrize("credentials", CREDENTIALS)
@pytest.mark.parametrize("module", [etcd_info, etcd_member, etcd_maintenance, etcd_snapshot],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_success_passes_the_password_in_the_environment_only(fake_etcd, module_for, tmp_path,
                                                             module, credentials):
    fake_etcd.auth = ("root", SECRET)   # the fake refuses commands without these credentials
    args = dict(module_for().params, **credentials)
    args.update(calls_for(module, tmp_path))
    result, failed = run_main(module.main, args)
    assert not failed, result["msg"]
    assert_no_secret(fake_etcd, result)
    online = [env for argv, env in zip(fake_etcd.calls, fake_etcd.envs)
              if any(a.startswith("--endpoints=") for a in argv)]
    assert online and all(env["ETCDCTL_USER"] == "root" and env["ETCDCTL_PASSWORD"] == SECRET
                          for env in online)
    offline = [env for argv, env in zip(fake_etcd.calls, fake_etcd.envs)
               if not any(a.startswith("--endpoints=") for a in argv)]
    assert all("ETCDCTL_PASSWORD" not in env for env in offline)   # version, snapshot status


@pytest.mark.parametrize("credentials", CREDENTIALS)
@pytest.mark.parametrize("failure", [
    pytest.param({"member list": (1, SECRET, "Error: etcdserver: permission denied (%s)\n" % SECRET)},
                 id="stderr-and-stdout-echo-it"),
    pytest.param({"member list": (1, "", '{"level":"warn","msg":"auth","password":"%s"}\n'
                                  "Error: context deadline exceeded\n" % SECRET)},
                 id="client-log-echoes-it"),
])
def test_failures_never_return_the_password(fake_etcd, module_for, credentials, failure):
    fake_etcd.fail = dict(failure)
    args = dict(module_for().params, name="m4", peer_urls=["https://10.0.0.4:2380"], **credentials)
    result, failed = run_main(etcd_member.main, args)
    assert failed and result["cmd"][0].endswith("etcdctl")
    assert_no_secret(fake_etcd, result)
    assert "********" in json.dumps(result)


@pytest.mark.parametrize("credentials", CREDENTIALS)
def test_a_wrong_password_is_a_permission_error_without_the_password(
        fake_etcd, module_for, credentials):
    fake_etcd.auth = ("root", "another")
    result, failed = run_main(etcd_info.main, dict(module_for().params, **credentials))
    assert failed and result["error_kind"] == "permission_denied"
    assert_no_secret(fake_etcd, result)


def test_a_config_error_does_not_quote_the_password(fake_etcd, module_for):
    result, failed = run_main(etcd_info.main, dict(module_for().params, user="root:" + SECRET,
                                                   password="different"))
    assert failed and result["error_kind"] == "config"
    assert SECRET not in json.dumps(result) and "different" not in json.dumps(result)
    assert not fake_etcd.calls


def test_run_module_registers_the_passwords_with_ansibles_masking():
    """Ansible masks no_log values in what it prints and logs, invocation included."""
    class Module(FakeModule):
        no_log_values = set()

        def exit_json(self, **result):
            raise ModuleExit(result, False)

        def fail_json(self, **result):
            raise ModuleExit(result, True)

    module = Module({"user": "root:" + SECRET, "endpoints": ["https://10.0.0.1:2379"]})
    with pytest.raises(ModuleExit) as info:
        etcd_client.run_module(module, lambda client: {"echo": "x%sx" % SECRET})
    assert SECRET in module.no_log_values and "root:" + SECRET in module.no_log_values
    assert info.value.result == {"echo": "x********x"}
