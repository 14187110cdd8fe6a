# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""Every playbook refuses an inventory without hosts in its group (issue 9): before, a wrong -i
(or ansible.cfg's default inventory) made each play match no host and the run exit 0 as if done.
Runs ansible-playbook on the controller only; no host is contacted."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
PLAYBOOKS = ["02.etcd.yml", "21.addetcd.yml", "31.deletcd.yml", "94.backup.yml", "backup.yml", "95.restore.yml",
             "96.update-certs.yml", "96.recover-quorum.yml", "97.recover-quorum.yml", "prune-aside.yml", "status.yml",
             "certs.yml", "demo_seed.yml", "99.clean.yml", "maintenance.yml", "93.upgrade.yml"]


@pytest.fixture(scope="module")
def empty_inventory(tmp_path_factory):
    directory = tmp_path_factory.mktemp("empty")
    path = directory / "hosts"
    path.write_text("[etcd]\n\n[kube_master]\n\n[kube_node]\n\n[all:vars]\nbase_dir=%s\ncluster_dir=%s/c\n"
                    % (directory, directory))
    return str(path)


def run_playbook(inventory, playbook):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache/collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    extra = json.dumps({"NODE_TO_ADD": "10.9.9.9", "ETCD_TO_DEL": "10.9.9.9", "etcd_recover_from": "10.9.9.9",
                        "etcd_prune_keep": 1})
    return subprocess.run(["ansible-playbook", "-i", inventory, os.path.join(ROOT, "playbooks", playbook),
                           "-e", extra], capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_a_playbook_refuses_an_empty_etcd_group(empty_inventory, playbook):
    out = run_playbook(empty_inventory, playbook)
    assert out.returncode != 0, out.stdout[-2000:]
    data = json.loads(out.stdout[out.stdout.find("{"):])
    failed = [res for play in data["plays"] for task in play["tasks"] for res in task["hosts"].values()
              if res.get("failed")]
    assert [res.get("refusal") for res in failed] == ["etcd_group_empty"], failed
    assert "-i" in failed[0]["msg"] and empty_inventory in failed[0]["msg"]
    assert sum(stats.get("changed", 0) for stats in data["stats"].values()) == 0


def test_the_old_recovery_number_says_it_moved_and_runs_the_new_one(empty_inventory):
    """kubeasz's 96 is update-certs: quorum recovery moved to 97, and 96.recover-quorum.yml is an alias."""
    out = run_playbook(empty_inventory, "96.recover-quorum.yml")
    data = json.loads(out.stdout[out.stdout.find("{"):])
    said = [res.get("msg", "") for play in data["plays"] for task in play["tasks"] for res in task["hosts"].values()]
    assert any(msg.startswith("DEPRECATED: playbooks/96.recover-quorum.yml is now playbooks/97.recover-quorum.yml")
               for msg in said), said
    # the refusal comes from 97's own inventory check: the alias has none
    assert [res.get("refusal") for play in data["plays"] for task in play["tasks"] for res in task["hosts"].values()
            if res.get("failed")] == ["etcd_group_empty"]
