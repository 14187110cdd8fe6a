# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""kubeasz keeps ETCD_DATA_DIR in cluster_dir/config.yml, not in the inventory (issue 9): the
playbooks read it as `ezctl` does (-e @config.yml), below variables given with -e. Shown with
02.etcd.yml's refusal of a system directory, which comes before anything on any host changes;
the one member is this machine over a local connection. etcd_user=root is always given too: the
same controller-side refusal then stops the run even if config.yml were not read, so a broken
build can never install etcd on the machine that runs the tests."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from etcd_lab import bin_dir

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


@pytest.fixture
def kubeasz(tmp_path):
    base = tmp_path / "kubeasz"
    (base / "bin").mkdir(parents=True)
    for name in ("etcd", "etcdctl", "etcdutl"):
        os.symlink(str(bin_dir("3.5.16") / name), str(base / "bin" / name))
    cluster = base / "clusters" / "k8s"
    cluster.mkdir(parents=True)
    (cluster / "hosts").write_text(
        "[etcd]\n127.0.0.1 ansible_connection=local\n\n[kube_master]\n\n[kube_node]\n\n[all:vars]\n"
        "ansible_python_interpreter=%s\nbase_dir=\"%s\"\ncluster_dir=\"{{ base_dir }}/clusters/k8s\"\n"
        % (os.path.realpath(os.sys.executable), base))
    (cluster / "config.yml").write_text('# kubeasz\nETCD_DATA_DIR: "/var/lib"\nETCD_WAL_DIR: ""\n')
    return cluster


def play(cluster, *args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache/collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    out = subprocess.run(["ansible-playbook", "-i", str(cluster / "hosts"), os.path.join(ROOT, "playbooks/02.etcd.yml"),
                          "-e", "etcd_user=root"] + list(args), capture_output=True, text=True, env=env, timeout=300, check=False)
    assert out.returncode != 0, out.stdout[-3000:]
    data = json.loads(out.stdout[out.stdout.find("{"):])
    failed = [res for p in data["plays"] for t in p["tasks"] for res in t["hosts"].values() if res.get("failed")]
    assert sum(stats.get("changed", 0) for stats in data["stats"].values()) == 0
    return failed


def test_the_data_dir_of_config_yml_is_the_one_checked(kubeasz):
    failed = play(kubeasz)
    assert [res.get("refusal") for res in failed] == ["data_dir_system"], failed
    assert failed[0]["msg"].startswith("ETCD_DATA_DIR=/var/lib is a system directory"), failed[0]["msg"]
    assert "etcd_user" in failed[0]["msg"]  # the safety net refused too


def test_extra_vars_still_win_over_config_yml(kubeasz):
    failed = play(kubeasz, "-e", "ETCD_DATA_DIR=/")
    assert [res.get("refusal") for res in failed] == ["data_dir_system"], failed
    assert failed[0]["msg"].startswith("ETCD_DATA_DIR=/ is a system directory"), failed[0]["msg"]
