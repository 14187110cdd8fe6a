# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""ezops.etcd.etcd_move_aside end to end in-process: check mode, apply, re-apply, refusals."""
from __future__ import annotations

import os

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_aside as ea
from ansible_collections.ezops.etcd.plugins.modules import etcd_move_aside
from etcd_fakes import run_main

STAMP = "20261122183000"


def data_dir(path):
    (path / "member" / "snap").mkdir(parents=True)
    (path / "member" / "snap" / "db").write_bytes(b"d" * 20000)
    return path


def run(check=False, diff=False, **args):
    return run_main(etcd_move_aside.main, args, check_mode=check, diff=diff)


def test_check_mode_apply_reapply_and_check_again(tmp_path, monkeypatch):
    monkeypatch.setattr(ea, "read_mount_points", lambda *a: set())
    data = data_dir(tmp_path / "etcd")
    result, failed = run(check=True, diff=True, path=[str(data)], stamp=STAMP)
    assert not failed and result["changed"] and result["moved"] == []
    assert result["diff"]["after"][str(data)]["aside"] == str(data) + "." + STAMP
    assert (data / "member").exists()
    result, failed = run(path=[str(data)], stamp=STAMP)
    assert not failed and result["changed"]
    assert result["moved"][0] == {"from": str(data), "to": str(data) + "." + STAMP, "how": "renamed"}
    assert os.listdir(str(data)) == []
    result, failed = run(path=[str(data)], stamp=STAMP)
    assert not failed and not result["changed"] and result["dirs"][0]["reason"].startswith("already moved")
    result, failed = run(check=True, path=[str(data)], stamp=STAMP)
    assert not failed and not result["changed"]


def test_check_only_plans_without_changing_and_reports_a_mount_point(tmp_path, monkeypatch):
    data = data_dir(tmp_path / "etcd")
    monkeypatch.setattr(ea, "read_mount_points", lambda *a: {str(data)})
    result, failed = run(path=[str(data)], stamp=STAMP, check_only=True)
    assert not failed and not result["changed"]
    one = result["dirs"][0]
    assert one["mount_point"] and one["action"] == "contents"
    assert one["target"] == str(data / (".ezops-aside-" + STAMP))
    assert sorted(os.listdir(str(data))) == ["member"]


def test_a_mount_point_moves_its_contents(tmp_path, monkeypatch):
    data = data_dir(tmp_path / "etcd")
    monkeypatch.setattr(ea, "read_mount_points", lambda *a: {str(data)})
    result, failed = run(path=[str(data)], stamp=STAMP)
    assert not failed and result["changed"]
    assert os.listdir(str(data)) == [".ezops-aside-" + STAMP]
    result, failed = run(path=[str(data)], stamp=STAMP)
    assert not failed and not result["changed"]


def test_a_problem_fails_with_its_refusal_code_and_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(ea, "read_mount_points", lambda *a: set())
    monkeypatch.setattr(ea, "free_bytes", lambda path: 4096)
    data = data_dir(tmp_path / "etcd")
    result, failed = run(path=[str(data)], stamp=STAMP, method="copy", check_only=True)
    assert failed and result["refusal"] == "aside_no_space"
    assert "4.0 KiB" in result["msg"] and str(tmp_path) in result["msg"]
    assert result["dirs"][0]["free_bytes"] == 4096 and result["dirs"][0]["need_bytes"] > 64 * ea.MIB
    result, failed = run(path=[str(data)], stamp=STAMP, method="copy")
    assert failed and result["refusal"] == "aside_no_space"
    assert sorted(os.listdir(str(tmp_path))) == ["etcd"]


def test_a_bad_stamp_is_refused(tmp_path):
    result, failed = run(path=[str(tmp_path)], stamp="2026")
    assert failed and result["refusal"] == "aside_stamp_invalid"


def test_a_stamp_is_required_to_move(tmp_path):
    result, failed = run(path=[str(tmp_path)])
    assert failed and "stamp" in result["msg"]


def test_method_none_reports_free_and_needed_space(tmp_path, monkeypatch):
    monkeypatch.setattr(ea, "read_mount_points", lambda *a: set())
    monkeypatch.setattr(ea, "free_bytes", lambda path: 3 * ea.MIB)
    result, failed = run(path=[str(tmp_path)], method="none", reserve_bytes=ea.MIB, space_margin_mb=1)
    assert not failed and not result["changed"] and result["problems"] == []
    assert result["dirs"][0]["need_bytes"] == ea.need_bytes(ea.MIB, 1)
    result, failed = run(path=[str(tmp_path)], method="none", reserve_bytes=4 * ea.MIB, space_margin_mb=0)
    assert failed and result["refusal"] == "aside_no_space"
    assert result["dirs"][0]["free_bytes"] == 3 * ea.MIB
