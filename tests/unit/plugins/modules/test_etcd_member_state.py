# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""ezops.etcd.etcd_member_state and module_utils/etcd_systemd: what a deploy decides on, read in one run."""
from __future__ import annotations

import os
from unittest import mock

import pytest
from ansible.module_utils import basic

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_systemd
from ansible_collections.ezops.etcd.plugins.modules import etcd_member_state
from etcd_fakes import run_main

EPOCH = 1795443719  # 2026-11-23 14:21:59 UTC
ACTIVE = ("LoadState=loaded\nUnitFileState=enabled\nActiveState=active\nNeedDaemonReload=no\n"
          "ActiveEnterTimestamp=Mon 2026-11-23 14:21:59.700000 UTC\n")


def run(show=ACTIVE, rc=0, check=False, **args):
    calls = []

    def run_command(self, argv, **kwargs):
        calls.append(argv)
        return rc, show, "Failed to connect to bus" if rc else ""

    with mock.patch.object(basic.AnsibleModule, "run_command", run_command), \
            mock.patch.object(basic.AnsibleModule, "get_bin_path", lambda self, name, **kw: "/bin/" + name):
        result, failed = run_main(etcd_member_state.main, args, check_mode=check)
    return result, failed, calls


def test_an_active_member_with_data_and_files_changed_before_its_start(tmp_path):
    wal = tmp_path / "member" / "wal"
    wal.mkdir(parents=True)
    (wal / "0000000000000000-0000000000000000.wal").write_bytes(b"w")
    unit, key = tmp_path / "etcd.service", tmp_path / "etcd-key.pem"
    unit.write_text("[Unit]\n")
    key.write_text("k")
    os.utime(str(unit), (EPOCH - 10, EPOCH - 10))
    os.utime(str(key), (EPOCH + 0.5, EPOCH + 0.5))
    env = tmp_path / "bootstrap.env"
    env.write_text("# managed\nETCD_INITIAL_CLUSTER=etcd-a=https://a:2380\nETCD_INITIAL_CLUSTER_STATE=new\n")
    result, failed, calls = run(check=True, wal_dir=str(wal), files=[str(unit), str(key), str(tmp_path / "gone")],
                                env_file=str(env))
    assert not failed and not result["changed"]
    assert calls == [["/bin/systemctl", "show", "etcd.service"] + etcd_systemd.SHOW_ARGS]
    assert result["active"] and not result["needs_daemon_reload"] and result["has_data"]
    assert result["loaded"] and result["enabled"]
    assert result["active_since"] == pytest.approx(EPOCH + 0.7)
    # changed half a second before the start: no restart (whole seconds would say otherwise)
    assert result["files_changed_at"] == pytest.approx(EPOCH + 0.5)
    assert result["files_changed_at"] < result["active_since"]
    assert result["env"]["ETCD_INITIAL_CLUSTER_STATE"] == "new"


def test_a_new_host_has_nothing(tmp_path):
    show = "LoadState=not-found\nUnitFileState=\nActiveState=inactive\nNeedDaemonReload=no\nActiveEnterTimestamp=\n"
    result, failed, dummy = run(show=show, wal_dir=str(tmp_path / "none"), files=[str(tmp_path / "x")],
                                env_file=str(tmp_path / "absent.env"))
    assert not failed
    assert result == dict(result, loaded=False, enabled=False, active=False, has_data=False, active_since=0.0,
                          files_changed_at=0.0, env={})


def test_a_stopped_member_left_disabled_is_loaded_but_not_enabled():
    show = ACTIVE.replace("UnitFileState=enabled", "UnitFileState=disabled").replace("=active", "=inactive")
    result, failed, dummy = run(show=show)
    assert not failed and result["loaded"] and not result["enabled"] and not result["active"]


def test_a_wal_dir_without_wal_files_is_no_data_and_a_reload_is_reported(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    show = ACTIVE.replace("NeedDaemonReload=no", "NeedDaemonReload=yes")
    result, failed, dummy = run(show=show, wal_dir=str(tmp_path))
    assert not failed and not result["has_data"] and result["needs_daemon_reload"]


@pytest.mark.parametrize("show, rc, message", [
    ("", 1, "Failed to connect to bus"),
    ("ActiveState=active\nActiveEnterTimestamp=Mon 2026-11-23 14:21:59 CET\n", 0, "--timestamp=us+utc"),
])
def test_failures_name_the_cause(tmp_path, show, rc, message):
    result, failed, dummy = run(show=show, rc=rc, wal_dir=str(tmp_path))
    assert failed and message in result["msg"]


def test_parse_env_skips_comments_and_strips_quotes():
    assert etcd_systemd.parse_env("# x\n\nA=1\nB = \"two words\"\nC='3'\nnot a setting\n") == {
        "A": "1", "B": "two words", "C": "3"}


def test_preflight_facts_account_dirs_and_texts(tmp_path):
    data = tmp_path / "etcd"
    (data / "member").mkdir(parents=True)
    (data / ".hidden").write_text("x")
    not_a_dir = tmp_path / "wal"
    not_a_dir.write_text("x")
    linked = tmp_path / "linked"
    linked.symlink_to(data)
    unit = tmp_path / "etcd.service"
    unit.write_text("[Service]\nExecStart=/opt/kube/bin/etcd\n")
    root = etcd_member_state.pwd.getpwuid(0).pw_name
    result, failed, dummy = run(user=root, dirs=[str(data), str(not_a_dir), str(linked), str(tmp_path / "none")],
                                read=[str(unit), str(tmp_path / "absent")])
    assert not failed and not result["has_data"]
    assert result["passwd"][1] == "0" and len(result["passwd"]) == 6
    assert result["dirs"] == {
        str(data): {"exists": True, "isdir": True, "entries": [".hidden", "member"]},
        str(not_a_dir): {"exists": True, "isdir": False, "entries": []},
        str(linked): {"exists": True, "isdir": True, "entries": [".hidden", "member"]},
        str(tmp_path / "none"): {"exists": False, "isdir": False, "entries": []},
    }
    assert result["texts"] == {str(unit): "[Service]\nExecStart=/opt/kube/bin/etcd\n"}
    result, failed, dummy = run(user="no-such-account-ezops")
    assert not failed and result["passwd"] is None
