# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""Fixtures: real etcd processes on 127.0.0.1 and a runner of ezops.etcd modules through Ansible.

    EZOPS_ETCD_VERSIONS=3.5.16,3.4.23 pytest tests/integration     (the default)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import etcd_lab  # noqa: E402  pylint: disable=wrong-import-position

REPO = etcd_lab.REPO
VERSIONS = etcd_lab.VERSIONS
ANSIBLE = str(Path(sys.executable).parent / "ansible")
PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def pytest_collection_modifyitems(items):
    for version in VERSIONS:
        etcd_lab.bin_dir(version)  # fail loudly, never skip, when a binary is missing


@pytest.fixture(params=VERSIONS, scope="module")
def version(request):
    return request.param


class ModuleRunner:
    """Run ezops.etcd modules through Ansible on localhost and return their result dicts."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.calls = []

    def _env(self, env):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
        full_env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".cache" / "collections"),
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(self.tmp_path / "ansible-tmp"),
            "ANSIBLE_HOME": str(self.tmp_path / "ansible-home"),
        })
        full_env.update(env or {})
        return full_env

    def _run(self, cmd, env, label):
        started = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self._env(env),
                              cwd=str(REPO), timeout=600, check=False)
        try:
            tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
            results = [task["hosts"]["localhost"] for task in tasks]
        except (ValueError, KeyError, IndexError):
            raise AssertionError("ansible printed no result (rc %s):\n%s\n%s"
                                 % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
        self.calls.append((label, round(time.time() - started, 2)))
        return results

    def __call__(self, module, args, check=False, diff=True, env=None):
        """One ad hoc run: ``ansible localhost -m ezops.etcd.<module> -a <json>``."""
        cmd = [ANSIBLE, "localhost", "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=" + sys.executable,
               "-m", "ezops.etcd." + module, "-a", json.dumps(args)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        return self._run(cmd, env, "%s%s" % (module, " (check)" if check else ""))[0]

    def four_ways(self, module, args, expect_first=True, env=None):
        """One playbook: check mode, apply, re-apply, re-apply in check mode. Asserts changed,
        changed, unchanged, unchanged (all unchanged with expect_first=False)."""
        tasks = [{"name": name, "ezops.etcd." + module: args, "check_mode": check, "diff": True,
                  "ignore_errors": True}
                 for name, check in (("check mode", True), ("apply", False),
                                     ("re-apply", False), ("re-apply in check mode", True))]
        playbook = self.tmp_path / ("four-ways-%d.json" % len(self.calls))
        playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                         "tasks": tasks}]))
        cmd = [PLAYBOOK, "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)]
        results = self._run(cmd, env, module + " four ways")
        assert len(results) == 4, results
        for result in results:
            assert not result.get("failed"), result.get("msg")
        got = [r["changed"] for r in results]
        want = [expect_first, expect_first, False, False]
        assert got == want, "changed flags %s, expected %s: %s" % (got, want, results)
        return results


@pytest.fixture
def run_module(tmp_path):
    return ModuleRunner(tmp_path)


def _cluster(version, directory, size, tls, request, extra=()):
    cluster = etcd_lab.Cluster(version, directory, size=size, tls=tls)
    request.addfinalizer(cluster.stop)
    for member in cluster.members:
        cluster.start_member(member, extra=extra)
    cluster.wait_healthy()
    return cluster


@pytest.fixture
def single(version, tmp_path, request):
    """One plain-http member."""
    return _cluster(version, tmp_path / "etcd", 1, False, request)


@pytest.fixture
def single_small_quota(version, tmp_path, request):
    """One plain-http member with a 1 MiB quota, to raise NOSPACE."""
    return _cluster(version, tmp_path / "etcd", 1, False, request,
                    extra=["--quota-backend-bytes=1048576"])


@pytest.fixture
def tls3(version, tmp_path, request):
    """Three members with TLS and client-certificate auth on client and peer URLs."""
    return _cluster(version, tmp_path / "etcd", 3, True, request)


@pytest.fixture(scope="module")
def tls3_shared(version, tmp_path_factory, request):
    """Three TLS members shared by the tests of one module that do not change the cluster."""
    return _cluster(version, tmp_path_factory.mktemp("etcd"), 3, True, request)


@pytest.fixture(autouse=True)
def _report_calls(run_module, request):
    yield
    if os.environ.get("EZOPS_REPORT_CALLS"):
        sys.stderr.write("\n%s: %s\n" % (request.node.name, run_module.calls))
