"""The lifecycle playbooks run on the lab from the installed collection (built tarball, installed with
ansible-galaxy into a fresh path, called by collection name from outside the checkout): a converge
that changes nothing, and the status and certificate reports."""

import json
import os
import subprocess
import sys

import pytest

import invalid_input as lab

sys.path.insert(0, os.path.join(lab.PROJECT, "tests/lab"))
import installed_collection  # noqa: E402


@pytest.fixture(scope="module", name="installed")
def fixture_installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("installed")
    return base, installed_collection.install(base)


def play(installed, name):
    base, env = installed
    completed = subprocess.run(["ansible-playbook", "-i", lab.HOSTS, "ezops.etcd." + name], capture_output=True, text=True,
                               env=env, cwd=str(base), timeout=900, check=False)
    result = lab.Run(completed)
    assert result.rc == 0, result.tail()
    assert lab.PROJECT + "/roles" not in json.dumps(result.data), "a role resolved from the checkout"
    return result


def test_a_converge_from_the_installed_collection_changes_nothing(installed):
    assert play(installed, "deploy").changed == 0


def test_status_and_certs_from_the_installed_collection_report_a_healthy_cluster(installed):
    status = play(installed, "status")
    shown = [r["msg"] for name, _h, r in status.results if name == "Show the status"]
    assert shown and all(("%s.%d" % (lab.SUBNET, 10 + i)) in shown[0] for i in range(1, 4)), shown
    assert shown[0].rstrip().endswith("No problem found."), shown[0]
    certs = play(installed, "certs")
    shown = [r["msg"] for name, _h, r in certs.results if name == "Show the certificates"]
    assert shown and "Problems:" not in shown[0], shown
