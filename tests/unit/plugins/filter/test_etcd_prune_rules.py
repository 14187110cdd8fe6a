"""Pruning moved-aside directories is explicit: a keep count is required, only <live dir>.<14 digits>
siblings are candidates, the newest stay, and the live directories are never in the plan."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.filter import etcd_prune_rules as rules

DATA = "/var/lib/etcd"
WAL = "/data/etcd-wal"
FOUND = [
    "/var/lib/etcd",                      # the live dir itself
    "/var/lib/etcd.20240101000000",
    "/var/lib/etcd.20250101000000",
    "/var/lib/etcd.20260101000000",
    "/var/lib/etcd.2026",                 # not 14 digits
    "/var/lib/etcd.20260101000000.old",   # not exactly the pattern
    "/var/lib/etcd.failed-20260101000000",
    "/var/lib/etcd.restoring-20260101000000",
    "/var/lib/etcd-other.20200101000000",  # another directory's sibling
    "/var/lib/kubelet.20200101000000",
    "/data/etcd-wal.20230101000000",
    "/data/etcd-wal.20260101000000",
    "/data/etcd.20200101000000",          # the data dir's name, but not beside it
]


@pytest.mark.parametrize("keep, code", [
    (None, "prune_keep_missing"), ("", "prune_keep_missing"), ("  ", "prune_keep_missing"),
    (-1, "prune_keep_invalid"), ("-2", "prune_keep_invalid"), ("abc", "prune_keep_invalid"),
    ("1.5", "prune_keep_invalid"), (True, "prune_keep_invalid"), ([3], "prune_keep_invalid"),
])
def test_nonsense_keep_is_refused(keep, code):
    refusal = rules.refusal(keep, [DATA, ""])
    assert refusal["code"] == code
    assert "-e etcd_prune_keep=" in refusal["msg"] and "--check" in refusal["msg"]
    assert refusal["msg"].endswith("Nothing was changed on any host.")


@pytest.mark.parametrize("keep", [0, 3, "0", "3", " 2 "])
def test_a_whole_number_is_accepted(keep):
    assert rules.refusal(keep, [DATA, WAL]) == {}


@pytest.mark.parametrize("data_dir", ["", "var/lib/etcd", "/", "/var/../etc"])
def test_a_data_dir_that_is_not_an_absolute_path_is_refused(data_dir):
    assert rules.refusal(3, [data_dir, ""])["code"] == "prune_dir_invalid"


def test_a_lock_refuses_a_real_prune_but_not_a_listing():
    refusal = rules.refusal(3, [DATA, ""], lock_exists=True, lock_path="/c/.ezops-etcd.lock")
    assert refusal["code"] == "prune_locked" and "rm /c/.ezops-etcd.lock" in refusal["msg"]
    assert rules.refusal(3, [DATA, ""], lock_exists=True, lock_path="/c/.ezops-etcd.lock", check_mode=True) == {}


def test_the_newest_stay_per_directory_and_nothing_else_is_touched():
    plan = rules.plan(FOUND, [DATA, WAL], 1)
    assert plan["groups"] == [
        {"dir": DATA, "keep": ["/var/lib/etcd.20260101000000"],
         "remove": ["/var/lib/etcd.20250101000000", "/var/lib/etcd.20240101000000"]},
        {"dir": WAL, "keep": ["/data/etcd-wal.20260101000000"], "remove": ["/data/etcd-wal.20230101000000"]},
    ]
    assert plan["remove"] == ["/var/lib/etcd.20250101000000", "/var/lib/etcd.20240101000000",
                              "/data/etcd-wal.20230101000000"]


def test_keep_zero_removes_every_moved_aside_directory_but_never_a_live_one():
    plan = rules.plan(FOUND, [DATA + "/", WAL], "0")
    assert DATA not in plan["remove"] and WAL not in plan["remove"]
    assert len(plan["remove"]) == 5 and plan["keep"] == []


def test_keep_more_than_there_is_removes_nothing():
    assert rules.plan(FOUND, [DATA, ""], 10)["remove"] == []


def test_a_wal_dir_inside_the_data_dirs_parent_is_kept_apart():
    found = ["/var/lib/etcd.20240101000000", "/var/lib/etcd-wal.20240101000000", "/var/lib/etcd-wal.20250101000000"]
    plan = rules.plan(found, ["/var/lib/etcd", "/var/lib/etcd-wal"], 1)
    assert plan["remove"] == ["/var/lib/etcd-wal.20240101000000"]


def test_the_plan_refuses_a_bad_keep_too():
    with pytest.raises(AnsibleFilterError):
        rules.plan(FOUND, [DATA], -1)


def test_asides_inside_a_mount_point_count_with_the_siblings_by_stamp():
    found = ["/var/lib/etcd.20240101000000", "/var/lib/etcd/.ezops-aside-20250101000000",
             "/var/lib/etcd/.ezops-aside-20260101000000", "/var/lib/etcd/.ezops-other-20200101000000",
             "/var/lib/etcd/member.20200101000000"]
    plan = rules.plan(found, ["/var/lib/etcd"], 1)
    assert plan["keep"] == ["/var/lib/etcd/.ezops-aside-20260101000000"]
    assert plan["remove"] == ["/var/lib/etcd/.ezops-aside-20250101000000", "/var/lib/etcd.20240101000000"]
