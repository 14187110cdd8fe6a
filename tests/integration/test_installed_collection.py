# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""The collection as users get it: the tarball that `ansible-galaxy collection build` makes, installed
with `ansible-galaxy collection install` into a fresh path, and each lifecycle playbook called by its
collection name (`ansible-playbook ezops.etcd.deploy`) from a directory that is not the checkout.

With an inventory whose [etcd] group is empty every playbook refuses before contacting a host, so a
refusal here proves that the playbook, its imported playbooks, the roles and the refuse action all
resolved from the installed copy. The lab run of installed playbooks is in the default scenario."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../lab"))
import installed_collection  # noqa: E402  (tests/lab: shared with the default scenario)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
NAMED = ["deploy", "add_member", "remove_member", "backup", "restore", "update_certs", "recover", "upgrade", "maintenance",
         "status", "certs", "clean", "prune_aside", "rotate_ca"]


@pytest.fixture(scope="module", name="installed")
def fixture_installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("installed")
    env = installed_collection.install(base)
    inventory = base / "hosts"
    inventory.write_text("[etcd]\n\n[kube_master]\n\n[kube_node]\n\n[all:vars]\nbase_dir=%s\ncluster_dir=%s/c\n" % (base, base))
    return {"env": env, "collections": env["ANSIBLE_COLLECTIONS_PATH"], "cwd": str(base), "inventory": str(inventory)}


def test_the_installed_copy_holds_every_named_playbook_and_no_test(installed):
    root = os.path.join(installed["collections"], "ansible_collections/ezops/etcd")
    assert os.path.isfile(os.path.join(root, "MANIFEST.json"))
    for name in NAMED:
        assert os.path.isfile(os.path.join(root, "playbooks", name + ".yml")), name
    assert not os.path.exists(os.path.join(root, "tests")) and not os.path.exists(os.path.join(root, "molecule"))


@pytest.mark.parametrize("name", NAMED)
def test_a_named_playbook_runs_from_the_installed_collection(installed, name):
    env = installed["env"]
    extra = json.dumps({"NODE_TO_ADD": "10.9.9.9", "ETCD_TO_DEL": "10.9.9.9", "etcd_recover_from": "10.9.9.9",
                        "etcd_prune_keep": 1})
    out = subprocess.run(["ansible-playbook", "-i", installed["inventory"], "ezops.etcd." + name, "-e", extra],
                         capture_output=True, text=True, env=env, cwd=installed["cwd"], timeout=300, check=False)
    assert out.returncode != 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert out.stdout.find("{") >= 0, out.stderr[-2000:]
    data = json.loads(out.stdout[out.stdout.find("{"):])
    refusals = [res.get("refusal") for play in data["plays"] for task in play["tasks"] for res in task["hosts"].values()
                if res.get("failed")]
    assert refusals == ["etcd_group_empty"], out.stdout[-2000:]
    assert ROOT not in out.stdout + out.stderr, "something resolved from the checkout"
