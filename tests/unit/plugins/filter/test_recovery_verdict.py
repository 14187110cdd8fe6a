"""The recovery_verdict filter adapts Ansible results (slurp, find, skipped tasks) to etcd_quorum."""

import base64
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.filter.recovery_verdict import FilterModule, recovery_verdict

A, B = "10.0.0.1", "10.0.0.2"
URLS = {A: "https://10.0.0.1:2379", B: "https://10.0.0.2:2379"}
FORCED_STAMP = json.dumps({"stamp": "20240102030405", "phase": "forced", "survivor": A, "member_id": "a1"})
LEADS = {"endpoints": [{"endpoint": URLS[A], "id": "a1", "leader": "a1", "is_learner": False, "raft_index": 9}],
         "failed_reasons": {URLS[B]: "cannot connect to 10.0.0.2:2379 ([Errno 111] Connection refused)"},
         "members": [], "errors": []}
ALONE = {"endpoints": [{"endpoint": URLS[A], "id": "a1", "leader": None, "is_learner": False, "raft_index": 9}],
         "failed_reasons": {URLS[B]: "cannot connect to 10.0.0.2:2379 ([Errno 111] Connection refused)"},
         "members": [], "errors": []}


def slurp(text):
    return {"content": base64.b64encode(text.encode()).decode(), "encoding": "base64", "failed": False}


def test_registered_filter():
    assert FilterModule().filters()["recovery_verdict"] is recovery_verdict


def test_slurp_results_are_decoded():
    verdict = recovery_verdict({A: LEADS, B: LEADS}, URLS, A, stamps={A: slurp(FORCED_STAMP), B: {"failed": True}})
    assert verdict["decision"] == "resume"


def test_a_missing_stamp_file_is_no_stamp():
    verdict = recovery_verdict({A: LEADS}, URLS, A, stamps={A: {"failed": True, "msg": "file not found"}})
    assert verdict["code"] == "recover_quorum_alive"


def test_find_results_give_the_wal_count():
    verdict = recovery_verdict({A: ALONE}, URLS, A, wal_files={A: {"matched": 0}, B: {"matched": 2}},
                               wal_path="/var/lib/etcd/member/wal")
    assert verdict["code"] == "recover_survivor_no_data"
    assert "no WAL files in /var/lib/etcd/member/wal" in verdict["message"]
    assert "(10.0.0.2)" in verdict["message"]
    assert recovery_verdict({A: ALONE}, URLS, A, wal_files={A: {"matched": 1}})["decision"] == "lost"


def test_bad_input_is_a_filter_error():
    with pytest.raises(AnsibleFilterError):
        recovery_verdict([], URLS, A)
    with pytest.raises(AnsibleFilterError):
        recovery_verdict({A: ALONE}, URLS, "10.9.9.9")


@pytest.mark.parametrize("stdout, running", [("MainPID=4242\n", True), ("MainPID=0\n", False), ("", False)])
def test_systemctl_show_gives_whether_etcd_runs(stdout, running):
    silent = {"endpoints": [], "failed_reasons": {}, "members": [], "errors": ["no endpoint accepts connections"],
              "error_kind": "unreachable"}
    verdict = recovery_verdict({A: silent, B: silent}, URLS, A, running={A: {"stdout": stdout, "rc": 0}, B: False})
    assert verdict["decision"] == ("undecided" if running else "lost")
