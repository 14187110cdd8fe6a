"""The end state of the membership scenario: three started, healthy voting members whose bootstrap
settings list exactly the three of them, kube-apiserver pointed at them, and the hosts removed along
the way stopped, disabled and with their data moved aside (not deleted)."""

import json
import os

import testinfra

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.join(os.path.dirname(__file__), "../../.."))
LAB_ID = os.environ.get("LAB_ID", "0")
INVENTORY = os.path.join(PROJECT, ".cache/lab%s/hosts" % LAB_ID)
ETCDCTL = "set -a; . /etc/etcd/etcdctl.env; set +a; /opt/kube/bin/etcdctl "


def group(name):
    hosts, current = [], None
    with open(INVENTORY) as source:
        for line in source:
            line = line.strip()
            if line.startswith("["):
                current = line.strip("[]")
            elif line and not line.startswith("#") and current == name:
                hosts.append(line.split()[0])
    return hosts


def members_of(host):
    out = host.check_output(ETCDCTL + "member list -w json")
    return json.loads(out)["members"]


def test_three_started_voting_members(host):
    members = members_of(host)
    assert len(members) == 3
    assert sorted(m["peerURLs"][0] for m in members) == sorted("https://%s:2380" % ip for ip in group("etcd"))
    assert all(m.get("name") and not m.get("isLearner", False) for m in members)


def test_healthy_and_enabled(host):
    assert host.service("etcd").is_running
    assert host.service("etcd").is_enabled
    assert host.run(ETCDCTL + "endpoint health").rc == 0


def test_bootstrap_settings_list_the_members(host):
    content = host.file("/etc/etcd/bootstrap.env").content_string
    wanted = ",".join("etcd-%s=https://%s:2380" % (ip, ip) for ip in sorted(group("etcd")))
    assert "ETCD_INITIAL_CLUSTER=%s\n" % wanted in content


def test_apiserver_points_at_the_members():
    (apiserver,) = group("kube_master")
    node = testinfra.get_host("ansible://%s?ansible_inventory=%s" % (apiserver, INVENTORY))
    unit = node.file("/etc/systemd/system/kube-apiserver.service").content_string
    wanted = ",".join("https://%s:2379" % ip for ip in group("etcd"))
    assert "--etcd-servers=%s " % wanted in unit
    assert node.service("kube-apiserver").is_running
    assert ("--etcd-servers=%s" % wanted) in node.check_output("systemctl show kube-apiserver -p ExecStart --value")


def test_removed_hosts_are_retired():
    """Every spare was a member once (added, then removed); the one whose container was stopped is gone."""
    checked = 0
    for ip in group("spare"):
        node = testinfra.get_host("ansible://%s?ansible_inventory=%s" % (ip, INVENTORY))
        try:
            alive = node.run("true").rc == 0
        except Exception:  # the dead member's container, stopped on purpose, cannot be reached
            alive = False
        if not alive:
            continue
        assert not node.service("etcd").is_running
        assert not node.service("etcd").is_enabled
        assert not node.file("/var/lib/etcd/member").exists
        assert node.run("ls -d /var/lib/etcd.2*").rc == 0, "data dir not moved aside on %s" % ip
        checked += 1
    assert checked >= 1
