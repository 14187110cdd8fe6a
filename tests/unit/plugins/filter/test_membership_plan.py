import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.filter.membership_plan import (
    membership_add_plan,
    membership_remove_plan,
    quorum,
)


def member(n, started=True, learner=False):
    ip = "10.0.0.%d" % n
    return {"id": "%016x" % n, "name": "etcd-%s" % ip if started else "", "peer_urls": ["https://%s:2380" % ip],
            "client_urls": ["https://%s:2379" % ip] if started else [], "is_learner": learner, "started": started}


def info(members, healthy, leader=1, alarms=None):
    return {"members": members, "leader": "%016x" % leader if leader else None, "alarms": alarms or [],
            "failed_endpoints": [],
            "health": [{"endpoint": "https://10.0.0.%d:2379" % n, "health": n in healthy} for n in range(1, 30)]}


def peer(n):
    return "https://10.0.0.%d:2380" % n


def name(n):
    return "etcd-10.0.0.%d" % n


@pytest.mark.parametrize("voters, expected", [(0, 0), (1, 1), (2, 2), (3, 2), (4, 3), (5, 3)])
def test_quorum(voters, expected):
    assert quorum(voters) == expected


def test_add_to_healthy_cluster():
    plan = membership_add_plan(info([member(1), member(2), member(3)], {1, 2, 3}), peer(4), name(4))
    assert plan["action"] == "add" and plan["voters_after"] == 4 and plan["quorum_after"] == 3


def test_add_of_a_started_voter_is_a_noop():
    plan = membership_add_plan(info([member(1), member(2), member(4)], {1, 2, 4}), peer(4), name(4))
    assert plan["action"] == "none"


def test_add_resumes_an_unstarted_or_started_learner():
    for new in (member(4, started=False, learner=True), member(4, learner=True), member(4, started=False)):
        plan = membership_add_plan(info([member(1), member(2), new], {1, 2}), peer(4), name(4))
        assert plan["action"] == "add", plan


def test_no_substring_match():
    """10.0.0.2 is not 10.0.0.21."""
    plan = membership_add_plan(info([member(1), member(21)], {1, 21}), peer(2), name(2))
    assert plan["action"] == "add" and plan["member"] is None
    plan = membership_remove_plan(info([member(1), member(21), member(3)], {1, 21, 3}), peer(2), name(2))
    assert plan["action"] == "none"


@pytest.mark.parametrize("members, healthy, needle", [
    ([member(1), member(2), member(3)], {1, 2}, "must be healthy"),
    ([member(1), member(2), member(5, started=False)], {1, 2}, "never started"),
    ([member(1), member(2), member(5, learner=True)], {1, 2, 5}, "one learner at a time"),
    ([], set(), "no existing member answers"),
])
def test_add_refusals(members, healthy, needle):
    plan = membership_add_plan(info(members, healthy), peer(4), name(4))
    assert plan["action"] == "refuse"
    assert any(needle in reason for reason in plan["reasons"]), plan["reasons"]


def test_add_refuses_stale_data_on_the_new_host():
    plan = membership_add_plan(info([member(1), member(2), member(3)], {1, 2, 3}), peer(4), name(4), True)
    assert plan["action"] == "refuse" and "data" in plan["reasons"][0]


def test_add_refuses_a_name_with_other_peer_urls():
    other = dict(member(9), name=name(4))
    plan = membership_add_plan(info([member(1), other], {1, 9}), peer(4), name(4))
    assert plan["action"] == "refuse"


def test_remove_the_leader():
    plan = membership_remove_plan(info([member(1), member(2), member(3)], {1, 2, 3}, leader=2), peer(2), name(2))
    assert plan["action"] == "remove" and plan["is_leader"]
    assert (plan["voters"], plan["quorum"], plan["voters_after"], plan["quorum_after"]) == (3, 2, 2, 2)


def test_remove_a_dead_member():
    plan = membership_remove_plan(info([member(1), member(2), member(3)], {1, 3}), peer(2), name(2))
    assert plan["action"] == "remove" and "does not answer" in plan["summary"]


def test_remove_refuses_without_quorum():
    plan = membership_remove_plan(info([member(1), member(2), member(3)], set(), leader=None), peer(1), name(1))
    assert plan["action"] == "refuse"
    assert "has 3 voting members and needs 2" in plan["reasons"][0]


def test_remove_refuses_when_the_rest_would_lose_quorum():
    plan = membership_remove_plan(info([member(1), member(2), member(3), member(4)], {1, 2, 3}), peer(1), name(1))
    assert plan["action"] == "refuse"
    assert any("after the removal 3 voting members would need 2" in r or "not healthy" in r for r in plan["reasons"])


def test_remove_refuses_another_unhealthy_member_unless_allowed():
    members = [member(n) for n in range(1, 6)]
    refused = membership_remove_plan(info(members, {1, 2, 3, 4}), peer(1), name(1))
    assert refused["action"] == "refuse" and "etcd_membership_allow_other_unhealthy" in refused["reasons"][0]
    allowed = membership_remove_plan(info(members, {1, 2, 3, 4}), peer(1), name(1), True)
    assert allowed["action"] == "remove"


def test_remove_refuses_the_last_member():
    plan = membership_remove_plan(info([member(1)], {1}), peer(1), name(1))
    assert plan["action"] == "refuse" and "last member" in plan["reasons"][0]


def test_remove_of_a_non_member_is_a_noop():
    plan = membership_remove_plan(info([member(1), member(3)], {1, 3}), peer(2), name(2))
    assert plan["action"] == "none"


def test_not_etcd_info_is_an_error():
    with pytest.raises(AnsibleFilterError):
        membership_add_plan({"members": None}, peer(1), name(1))


def test_remove_refusal_explains_a_lost_quorum_from_the_inventory():
    lost = {"members": [], "failed_endpoints": ["https://10.0.0.1:2379"], "health": [], "leader": None}
    answering = [{"endpoint": "https://10.0.0.3:2379", "leader": None}]
    plan = membership_remove_plan(lost, peer(1), name(1), False, ["10.0.0.2", "10.0.0.3", "10.0.0.1"], answering)
    assert plan["action"] == "refuse"
    assert "3 voting members, which need 2" in plan["reasons"][0]
    assert "only 1 answers (https://10.0.0.3:2379) and none of them has a leader" in plan["reasons"][0]
