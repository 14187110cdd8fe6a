import pytest

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_deploy_checks import (
    account_problems,
    deploy_problems,
    host_problems,
    member_problems,
    path_problems,
)

PROTECTED = {"bin_dir": "/opt/kube/bin", "ca_dir": "/etc/kubernetes/ssl", "the environment dir": "/etc/etcd"}


def codes(problems):
    return [p["code"] for p in problems]


@pytest.mark.parametrize("data_dir, wal_dir, expected", [
    ("/var/lib/etcd", "", []),
    ("/data/etcd", "/data/etcd-wal", []),
    ("/var/lib", "", ["data_dir_system"]),
    ("/", "", ["data_dir_system"]),
    ("/var", "", ["data_dir_system"]),
    ("/etc", "", ["data_dir_system"]),
    ("/usr", "", ["data_dir_system"]),
    ("/opt", "", ["data_dir_system"]),
    ("/home", "", ["data_dir_system"]),
    ("/root", "", ["data_dir_system"]),
    ("/tmp", "", ["data_dir_system"]),
    ("/srv", "", ["data_dir_system"]),
    ("/boot", "", ["data_dir_system"]),
    ("/tmp/etcd", "", ["data_dir_system"]),
    ("/run/etcd", "", ["data_dir_system"]),
    ("/usr/local/etcd", "", ["data_dir_system"]),
    ("var/lib/etcd", "", ["data_dir_relative"]),
    ("./etcd", "", ["data_dir_relative"]),
    ("", "", ["data_dir_empty"]),
    ("/var/lib/etcd/", "", ["data_dir_not_normalized"]),
    ("/var//lib/etcd", "", ["data_dir_not_normalized"]),
    ("/var/lib/../lib/etcd", "", ["data_dir_not_normalized"]),
    ("//var/lib/etcd", "", ["data_dir_not_normalized"]),
    ("/var/lib/my etcd", "", ["data_dir_invalid"]),
    ("/var/lib/etcd%h", "", ["data_dir_invalid"]),
    ("/opt/kube", "", ["data_dir_overlaps"]),
    ("/opt/kube/bin/etcd", "", ["data_dir_overlaps"]),
    ("/etc/etcd", "", ["data_dir_overlaps"]),
    ("/etc/kubernetes/ssl/etcd", "", ["data_dir_overlaps"]),
    ("/var/lib/etcd", "/var/lib/etcd", ["wal_dir_is_data_dir"]),
    ("/var/lib/etcd", "/var/lib/etcd/wal", ["wal_dir_overlaps"]),
    ("/data/etcd/data", "/data/etcd", ["wal_dir_overlaps"]),
    ("/var/lib/etcd", "/var/lib", ["wal_dir_system"]),
    ("/var/lib/etcd", "wal", ["wal_dir_relative"]),
    ("/var/lib/etcd", "/opt/kube", ["wal_dir_overlaps"]),
])
def test_path_problems(data_dir, wal_dir, expected):
    assert codes(path_problems(data_dir, wal_dir, PROTECTED)) == expected


def test_path_messages_name_the_fix_and_that_nothing_changed():
    message = path_problems("/var/lib", "", PROTECTED)[0]["msg"]
    assert "ETCD_DATA_DIR=/var/lib" in message and "/var/lib/etcd" in message and "Nothing was changed" in message
    assert "Write it as /var/lib/etcd" in path_problems("/var/lib/etcd/", "", PROTECTED)[0]["msg"]


@pytest.mark.parametrize("user, group, expected", [
    ("etcd", "etcd", []),
    ("root", "etcd", ["service_user_root"]),
    ("etcd", "root", ["service_user_root"]),
    ("0", "etcd", ["service_user_root"]),
    ("Etcd User", "etcd", ["service_user_invalid"]),
    ("etcd", "docker", ["service_group_privileged"]),
    ("etcd", "sudo", ["service_group_privileged"]),
])
def test_account_problems(user, group, expected):
    assert codes(account_problems(user, group)) == expected


def test_members():
    assert member_problems(["10.0.0.1", "10.0.0.2", "10.0.0.3"]) == []
    assert codes(member_problems([])) == ["etcd_group_empty"]
    assert codes(member_problems(["etcd-1", "10.0.0.2"])) == ["member_address_not_ip"]
    assert codes(member_problems(["fd00::1"])) == ["member_address_not_ip"]
    assert codes(member_problems(["10.0.0.1", "10.0.0.2"], ["node-a", "node-a"])) == ["member_host_duplicate"]
    # the same address on different ports is two machines (NAT, Vagrant)
    assert member_problems(["10.0.0.1", "10.0.0.2"], ["127.0.0.1", "127.0.0.1"], [2222, 2200]) == []
    assert codes(member_problems(["10.0.0.1", "10.0.0.2"], [None, "10.0.0.1"])) == ["member_host_duplicate"]


def test_deploy_problems_in_a_fixed_order():
    settings = {"members": ["10.0.0.1"], "data_dir": "/var/lib", "wal_dir": "", "protected_dirs": PROTECTED,
                "user": "root", "group": "etcd", "version": "3.5.16", "tls_min_version": "TLS1.2",
                "extra_args": {"client-cert-auth": "false"}}
    assert codes(deploy_problems(settings)) == ["data_dir_system", "service_user_root", "extra_args_insecure"]
    good = dict(settings, data_dir="/var/lib/etcd", user="etcd", extra_args={}, cipher_suites=[],
                metrics_urls=["http://127.0.0.1:2381"])
    assert deploy_problems(good) == []


ETCD_ACCOUNT = ["x", "998", "998", "", "/var/lib/etcd", "/usr/sbin/nologin"]


def dirs(**entries):
    return {path: {"exists": True, "isdir": True, "entries": names} for path, names in entries.items()}


@pytest.mark.parametrize("state, expected", [
    ({}, []),
    ({"/var/lib/etcd": {"exists": True, "isdir": True, "entries": []}}, []),
    ({"/var/lib/etcd": {"exists": True, "isdir": True, "entries": ["member"]}}, []),
    ({"/var/lib/etcd": {"exists": True, "isdir": True, "entries": ["member", "lost+found"]}}, []),
    ({"/var/lib/etcd": {"exists": True, "isdir": True, "entries": ["member", "mysql"]}}, ["data_dir_not_dedicated"]),
    # a mount point whose earlier data ezops.etcd moved aside inside it
    ({"/var/lib/etcd": {"exists": True, "isdir": True, "entries": ["member", ".ezops-aside-20261203120000"]}}, []),
    ({"/var/lib/etcd": {"exists": True, "isdir": True, "entries": [".ezops-other"]}}, ["data_dir_not_dedicated"]),
    ({"/var/lib/etcd": {"exists": True, "isdir": False, "entries": []}}, ["data_dir_not_a_directory"]),
    ({"/var/lib/etcd": {"exists": False}}, []),
])
def test_host_data_dir(state, expected):
    assert codes(host_problems("10.0.0.1", "/var/lib/etcd", "", "etcd", ETCD_ACCOUNT, state)) == expected


def test_host_wal_dir_holds_only_wal_files():
    ok = {"/wal": {"exists": True, "isdir": True, "entries": ["0000000000000000-0000000000000000.wal", "0.tmp"]}}
    assert host_problems("h", "/var/lib/etcd", "/wal", "etcd", ETCD_ACCOUNT, ok) == []
    bad = {"/wal": {"exists": True, "isdir": True, "entries": ["docker"]}}
    assert codes(host_problems("h", "/var/lib/etcd", "/wal", "etcd", ETCD_ACCOUNT, bad)) == ["wal_dir_not_dedicated"]


def test_host_lists_at_most_five_foreign_entries():
    state = {"/var/lib/etcd": {"exists": True, "isdir": True, "entries": ["f%d" % i for i in range(8)]}}
    message = host_problems("h", "/var/lib/etcd", "", "etcd", None, state)[0]["msg"]
    assert "f4 and 3 more" in message and "f5" not in message


@pytest.mark.parametrize("passwd, expected", [
    (None, []),
    (ETCD_ACCOUNT, []),
    (["x", "998", "998", "", "/var/lib/etcd", "/bin/false"], []),
    (["x", "0", "0", "", "/var/lib/etcd", "/usr/sbin/nologin"], ["service_user_root"]),
    (["x", "1000", "1000", "Alice", "/home/etcd", "/bin/bash"], ["service_user_foreign"]),
    (["x", "999", "999", "", "/var/lib/postgresql", "/usr/sbin/nologin"], ["service_user_foreign"]),
    (["x", "999", "999", "", "/var/lib/etcd", "/bin/sh"], ["service_user_foreign"]),
])
def test_host_account(passwd, expected):
    assert codes(host_problems("h", "/var/lib/etcd", "", "etcd", passwd, {})) == expected
