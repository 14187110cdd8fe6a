"""While a restore or a prune holds cluster_dir/.ezops-etcd.lock, a deploy, a backup and a member
removal refuse before anything changes (issue 8, defect 6: a backup timer or a deploy must not run
into a restore), naming who holds the lock and how to clear a dead run's lock."""

import json
import os

import pytest

from invalid_input import CLUSTER_DIR, SUBNET, assert_refused, lab_state, run

LOCK = os.path.join(CLUSTER_DIR, ".ezops-etcd.lock")
HOLDER = {"operation": "restore", "snapshot": "snapshot.db", "run_id": "20261203120000-42", "user": "alice",
          "controller": "ops-1", "started": "2026-12-03T12:00:00Z"}


@pytest.fixture
def lock_held():
    assert not os.path.exists(LOCK), "the lab already has a lock: %s" % LOCK
    with open(LOCK, "w") as handle:
        json.dump(HOLDER, handle)
    try:
        yield
    finally:
        os.remove(LOCK)


@pytest.mark.parametrize("playbook, extra_vars, code", [
    ("02.etcd.yml", None, "deploy_locked"),
    ("94.backup.yml", None, "backup_locked"),
    ("31.deletcd.yml", {"ETCD_TO_DEL": "%s.13" % SUBNET}, "remove_locked"),
], ids=["deploy", "backup", "remove"])
def test_a_held_lock_is_refused_by_runs_that_do_not_take_it(lock_held, playbook, extra_vars, code):
    before = lab_state()
    result = run(playbook, extra_vars)
    assert_refused(result, code, "rm %s" % LOCK, before, lab_state())
    message = result.message(code)
    assert "alice" in message and "20261203120000-42" in message, message
    with open(LOCK) as handle:
        assert json.load(handle) == HOLDER, "the refused run touched the lock"
