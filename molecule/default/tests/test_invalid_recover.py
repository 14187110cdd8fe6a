"""97.recover-quorum.yml refuses, before anything changes, every recovery it cannot prove necessary.

The lab is a healthy 3-member cluster: every recovery asked of it must be refused with a code, and
leave members and controller exactly as they were (invalid_input.lab_state). A leftover recovery
stamp must not spare the proof. The partition case (one member cut off, recovery asked from it)
lives in the faults scenario.
"""

import json
import subprocess

import pytest

from invalid_input import PREFIX, SUBNET, assert_refused, lab_state, run, write_inventory

PLAYBOOK = "97.recover-quorum.yml"
MEMBERS = ["%s.%d" % (SUBNET, 10 + i) for i in (1, 2, 3)]
CONTAINERS = dict((member, "%s-%d" % (PREFIX, i)) for i, member in enumerate(MEMBERS, 1))
STAMP = "/etc/etcd/recover-quorum.stamp"
ETCDCTL = ["/opt/kube/bin/etcdctl", "--endpoints=" + ",".join("https://%s:2379" % m for m in MEMBERS),
           "--cacert=/etc/kubernetes/ssl/ca.pem", "--cert=/etc/kubernetes/ssl/etcd.pem",
           "--key=/etc/kubernetes/ssl/etcd-key.pem", "-w", "json"]


def member_ids_and_leader():
    """-> ({member: member ID in hex}, the leader's member) as the cluster reports them now."""
    out = subprocess.run(["docker", "exec", CONTAINERS[MEMBERS[0]]] + ETCDCTL + ["endpoint", "status"],
                         capture_output=True, text=True, check=True).stdout
    ids, leader = {}, None
    for item in json.loads(out):
        member = item["Endpoint"].split("//")[1].rsplit(":", 1)[0]
        ids[member] = "%x" % int(item["Status"]["header"]["member_id"])
        if int(item["Status"]["leader"]) == int(item["Status"]["header"]["member_id"]):
            leader = member
    assert leader in MEMBERS and len(ids) == 3, out
    return ids, leader


def write_stamp(member, content):
    subprocess.run(["docker", "exec", "-i", CONTAINERS[member], "sh", "-c", "cat > %s" % STAMP],
                   input=content, text=True, check=True)


def remove_stamp(member):
    subprocess.run(["docker", "exec", CONTAINERS[member], "rm", "-f", STAMP], check=True)


def test_recovery_of_a_healthy_cluster_is_refused():
    before = lab_state()
    result = run(PLAYBOOK, {"etcd_recover_from": MEMBERS[0]})
    assert_refused(result, "recover_quorum_alive", "31.deletcd.yml", before, lab_state())
    # backup_restore's last step searches for these words
    assert "it has a quorum" in result.message("recover_quorum_alive")


def test_survivor_that_is_not_a_member_is_refused():
    before = lab_state()
    result = run(PLAYBOOK, {"etcd_recover_from": "%s.99" % SUBNET})
    assert_refused(result, "recover_from_not_member", "-e etcd_recover_from=<member>", before, lab_state())


def test_missing_survivor_is_refused():
    before = lab_state()
    result = run(PLAYBOOK)
    assert_refused(result, "recover_from_not_member", "-e etcd_recover_from=<member>", before, lab_state())


def test_unknown_stop_point_is_refused():
    before = lab_state()
    result = run(PLAYBOOK, {"etcd_recover_from": MEMBERS[0], "etcd_recover_stop_after": "halfway"})
    assert_refused(result, "recover_stop_after_unknown", "etcd_recover_stop_after=survivor", before, lab_state())


@pytest.mark.parametrize("case", ["plain stamp of earlier versions", "phase started on the leader",
                                  "phase forced on a follower", "phase forced on the leader, another member ID"])
def test_a_leftover_stamp_does_not_spare_the_proof(case):
    ids, leader = member_ids_and_leader()
    follower = [m for m in MEMBERS if m != leader][0]
    survivor, content = {
        "plain stamp of earlier versions": (follower, "20240102030405\n"),
        "phase started on the leader": (leader, json.dumps({"stamp": "20240102030405", "phase": "started",
                                                            "survivor": leader, "member_id": ids[leader]})),
        "phase forced on a follower": (follower, json.dumps({"stamp": "20240102030405", "phase": "forced",
                                                             "survivor": follower, "member_id": ids[follower]})),
        "phase forced on the leader, another member ID": (leader, json.dumps(
            {"stamp": "20240102030405", "phase": "forced", "survivor": leader, "member_id": "1"})),
    }[case]
    write_stamp(survivor, content)
    try:
        before = lab_state()
        result = run(PLAYBOOK, {"etcd_recover_from": survivor})
        assert_refused(result, "recover_quorum_alive", "21.addetcd.yml", before, lab_state())
    finally:
        remove_stamp(survivor)


def test_client_port_is_inherited_and_a_wrong_one_decides_nothing(tmp_path):
    """etcd_client_port (the etcd role's) reaches the recovery: with a port etcd does not listen on,
    nobody answers anywhere, which must not pass for a lost quorum while etcd runs on every member."""
    inventory = write_inventory(tmp_path / "hosts", extra_vars={"etcd_client_port": "12379"})
    before = lab_state()
    result = run(PLAYBOOK, {"etcd_recover_from": MEMBERS[0]}, inventory=inventory)
    assert_refused(result, "recover_undecided", "--listen-client-urls", before, lab_state())
    assert ":12379" in result.message("recover_undecided")


def test_tls_files_that_cannot_be_used_decide_nothing(tmp_path):
    """A CA name whose file exists nowhere: every member fails to ask (a configuration error) and the
    controller is no vantage point. Before this fix, such a run saw "no leader" and tore the cluster
    down: do not run this test against an older etcd_recover role."""
    inventory = write_inventory(tmp_path / "hosts", extra_vars={"etcd_pki_ca_name": "no-such-ca"})
    before = lab_state()
    result = run(PLAYBOOK, {"etcd_recover_from": MEMBERS[0]}, inventory=inventory)
    assert_refused(result, "recover_undecided", "ca_dir", before, lab_state())
