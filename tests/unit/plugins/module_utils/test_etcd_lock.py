# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

import json

import pytest

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_lock
from ansible_collections.ezops.etcd.plugins.filter.etcd_lock import FilterModule

LOCK = "/etc/kubeasz/clusters/k8s/.ezops-etcd.lock"


def test_no_lock_file_is_no_refusal():
    assert etcd_lock.held_lock_refusal(None, LOCK, "backup_locked") == {}
    assert FilterModule().filters()["etcd_lock_refusal"](None, LOCK, "deploy_locked") == {}


def test_a_held_lock_names_its_holder_and_how_to_clear_it():
    text = json.dumps({"operation": "restore", "snapshot": "snapshot.db", "user": "alice", "controller": "ops-1",
                       "run_id": "r-7", "members": ["10.0.0.1", "10.0.0.2"]})
    refusal = etcd_lock.held_lock_refusal(text, LOCK, "backup_locked", "the backup")
    assert refusal["code"] == "backup_locked"
    for words in ("restore of snapshot.db", "on members 10.0.0.1, 10.0.0.2", "by alice", "on ops-1", "(run r-7)",
                  "run the backup again", "rm %s" % LOCK, "runs on ops-1 (pgrep -af ansible-playbook)"):
        assert words in refusal["msg"], (words, refusal["msg"])


@pytest.mark.parametrize("text", ["", "   ", "{not json", "[1, 2]"])
def test_an_empty_or_unreadable_lock_is_held_too(text):
    refusal = etcd_lock.held_lock_refusal(text, LOCK, "deploy_locked")
    assert refusal["code"] == "deploy_locked" and "unreadable lock" in refusal["msg"]
    assert etcd_lock.lock_state(text, {"operation": "restore"}, exists=True) == "held"


def test_a_killed_run_of_the_same_operation_takes_its_lock_over():
    identity = {"operation": "restore", "snapshot_sha256": "ab"}
    assert etcd_lock.lock_state(json.dumps(dict(identity, run_id="r-1")), identity, exists=True) == "ours"
    assert etcd_lock.lock_state(json.dumps({"operation": "restore", "snapshot_sha256": "cd"}), identity) == "held"
    assert etcd_lock.lock_state(None, identity) == "free"
