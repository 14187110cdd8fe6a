"""etcd's upgrade policy as playbooks/93.upgrade.yml applies it."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.filter.etcd_upgrade_problems import FilterModule, etcd_upgrade_problems
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_upgrade import (
    binary_version,
    deploy_version_problems,
    upgrade_problems,
)

A, B, C = "10.0.0.1", "10.0.0.2", "10.0.0.3"


def codes(running, target, floors=None):
    return [p["code"] for p in upgrade_problems(running, target, floors)]


@pytest.mark.parametrize("running, target, expected", [
    ({A: "3.5.16", B: "3.5.16"}, "3.5.30", []),                       # patch upgrade
    ({A: "3.4.23", B: "3.4.23"}, "3.5.16", []),                       # one minor
    ({A: "3.5.30", B: "3.5.16"}, "3.5.30", []),                       # a run cut off half way, resumed
    ({A: "3.5.30", B: "3.5.30"}, "3.5.30", []),                       # nothing left to do
    ({A: "3.5.30", B: "3.5.16"}, "3.5.16", ["upgrade_downgrade"]),
    ({A: "3.5.16"}, "3.4.23", ["upgrade_downgrade"]),
    ({A: "3.4.23"}, "3.6.5", ["upgrade_skips_minor"]),
    ({A: "3.5.16"}, "4.0.0", ["upgrade_skips_minor"]),
    ({A: "3.5.16"}, "3.6.5", ["upgrade_patch_too_low"]),
    ({A: "3.5.26"}, "3.6.5", []),
    ({A: "3.5.16", B: None}, "3.5.30", ["upgrade_member_down"]),
    ({A: "3.5.16"}, "garbage", ["upgrade_bad_version"]),
])
def test_policy(running, target, expected):
    assert codes(running, target) == expected


def test_the_floor_is_a_setting_and_the_message_names_it():
    assert codes({A: "3.5.16"}, "3.6.5", {}) == []
    problem = upgrade_problems({A: "3.5.16"}, "3.6.5", {"3.6": "3.5.32"})[0]
    assert "3.5.32 or later" in problem["msg"] and A in problem["msg"]


def test_messages_name_the_members_and_the_way_out():
    down = upgrade_problems({A: "3.5.16", B: None, C: None}, "3.5.30")[0]["msg"]
    assert down.startswith("%s, %s did not answer" % (B, C)) and "playbooks/status.yml" in down
    skip = upgrade_problems({A: "3.4.23"}, "3.6.5")[0]["msg"]
    assert "Upgrade to 3.5 first" in skip
    downgrade = upgrade_problems({A: "3.5.30"}, "3.5.16")[0]["msg"]
    assert "%s run 3.5.30, newer than 3.5.16" % A in downgrade


def test_the_version_is_read_from_the_binary():
    out = "etcd Version: 3.5.30\nGit SHA: Not provided\nGo Version: go1.24\nGo OS/Arch: linux/amd64\n"
    assert binary_version(out) == "3.5.30" and binary_version("nonsense") is None


def view(*pairs):
    return {"endpoints": [{"endpoint": "https://%s:2379" % host, "version": version} for host, version in pairs]}


def test_the_filter_merges_every_members_view():
    views = {A: view((A, "3.5.16"), (B, "3.5.16")), B: {"failed": True, "msg": "TLS"}, C: view((C, "3.5.30"))}
    binary = {"stdout": "etcd Version: 3.5.16\nGit SHA: x\n"}
    problems = etcd_upgrade_problems(views, binary)
    assert [p["code"] for p in problems] == ["upgrade_downgrade"] and C in problems[0]["msg"]
    assert etcd_upgrade_problems({A: view((A, "3.5.16"))}, {"stdout": "etcd Version: 3.5.30\n"}) == []
    missing = etcd_upgrade_problems({A: view((A, "3.5.16")), B: {"unreachable": True}}, "etcd Version: 3.5.30")
    assert [p["code"] for p in missing] == ["upgrade_member_down"]
    assert FilterModule().filters()["etcd_upgrade_problems"] is etcd_upgrade_problems


def test_the_binary_version_filter():
    from ansible_collections.ezops.etcd.plugins.filter.etcd_upgrade_problems import etcd_binary_version
    assert etcd_binary_version({"stdout": "etcd Version: 3.5.30\nGit SHA: x\n"}) == "3.5.30"
    assert etcd_binary_version({"rc": 2, "stdout": "", "stderr": "no such file"}) == ""


@pytest.mark.parametrize("running, target, codes", [
    ({"a": "3.5.30", "b": "3.5.30"}, "3.5.30", []),                      # a converge
    ({"a": "3.5.30", "b": "3.5.16"}, "3.5.16", []),                      # a failed upgrade put back (patch down)
    ({"a": "3.5.16", "b": None}, "3.5.30", []),                          # a member down is the deploy's to start
    ({}, "3.4.23", []),                                                  # a new cluster
    ({"a": "3.5.16", "b": "3.5.16"}, "3.4.23", ["deploy_downgrade"]),   # a minor downgrade
    ({"a": "3.4.23"}, "3.6.5", ["upgrade_skips_minor"]),
    ({"a": "3.5.16"}, "3.6.5", ["upgrade_patch_too_low"]),
    ({"a": "3.5.16", "b": "3.4.23"}, "3.4.23", ["deploy_downgrade"]),   # half-upgraded, then the old minor again
])
def test_deploy_version_problems(running, target, codes):
    assert [p["code"] for p in deploy_version_problems(running, target)] == codes


def test_deploy_version_problems_name_the_members_and_the_way_back():
    problem = deploy_version_problems({"10.0.0.1": "3.5.16", "10.0.0.2": "3.5.16"}, "3.4.23")[0]
    assert "10.0.0.1, 10.0.0.2 run 3.5.16" in problem["msg"] and "restore a backup" in problem["msg"]
    assert deploy_version_problems({"a": "3.5.16"}, "not a version") == []  # the deploy's own check names that


def test_deploy_version_filter_reads_an_etcd_info_result():
    deploy = FilterModule().filters()["etcd_deploy_version_problems"]
    info = {"endpoints": [{"endpoint": "https://10.0.0.1:2379", "version": "3.5.16"}]}
    assert [p["code"] for p in deploy(info, {"stdout": "etcd Version: 3.4.23\nGit SHA: x\n"})] == ["deploy_downgrade"]
    assert deploy(info, {"stdout": "etcd Version: 3.5.30\n"}) == []
    # etcd_info failed (no etcdctl on a new host yet): nothing to compare
    assert deploy({"failed": True, "msg": "etcdctl was found neither in /opt/kube/bin nor in PATH"},
                  {"stdout": "etcd Version: 3.4.23\n"}) == []
    with pytest.raises(AnsibleFilterError):
        deploy("3.5.16", "etcd Version: 3.4.23")
