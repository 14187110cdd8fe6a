# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""The etcd_member_files action plugin run by ansible-playbook on the controller (local connection):
only differing files are sent, a re-run changes nothing, check mode writes nothing, a diff never shows
a secret, and a missing source is refused before any directory is made (or, when optional, left out)."""
from __future__ import annotations

import json
import os
import stat
import subprocess

import yaml
from etcd_lab import tree_state

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def play(tmp_path, files, dirs=(), check=False, diff=False):
    book = tmp_path / "play.yml"
    book.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "connection": "local",
        "tasks": [{"name": "install", "ezops.etcd.etcd_member_files": {"dirs": list(dirs), "files": files},
                   "register": "installed"}]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache/collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    argv = ["ansible-playbook", "-i", "localhost,", str(book), "-e", "ansible_python_interpreter=" + os.sys.executable]
    argv += ["--check"] * check + ["--diff"] * diff
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    data = json.loads(out.stdout[out.stdout.find("{"):])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"], out.stdout


def test_files_are_sent_once_then_a_rerun_changes_nothing(tmp_path):
    source = tmp_path / "controller"
    source.mkdir()
    (source / "etcd").write_bytes(b"\x7fELF binary")
    (source / "etcd-key.pem").write_text("-----BEGIN PRIVATE KEY-----\nSECRETKEYTEXT\n")
    member = tmp_path / "member"
    dirs = [{"path": str(member / "bin"), "mode": "0755"}, {"path": str(member / "ssl"), "mode": "0755"}]
    files = [{"src": str(source / "etcd"), "dest": str(member / "bin" / "etcd"), "mode": "0755"},
             {"src": str(source / "etcd-key.pem"), "dest": str(member / "ssl" / "etcd-key.pem"), "mode": "0600",
              "backup": True, "secret": True},
             {"content": "[Unit]\nDescription=etcd\n", "dest": str(member / "etcd.service"), "mode": "0644"}]
    # check mode on a bare host: everything would change, nothing is made
    result, dummy = play(tmp_path, files, dirs, check=True)
    assert result["changed"] and not result.get("failed") and not member.exists()
    result, dummy = play(tmp_path, files, dirs)
    assert result["changed"] and not result.get("failed"), result
    assert (member / "bin" / "etcd").read_bytes() == b"\x7fELF binary"
    assert stat.S_IMODE(os.stat(str(member / "ssl" / "etcd-key.pem")).st_mode) == 0o600
    assert (member / "etcd.service").read_text() == "[Unit]\nDescription=etcd\n"
    assert all(entry["changed"] for entry in result["files"].values())
    before = tree_state(member)
    result, dummy = play(tmp_path, files, dirs)
    assert not result["changed"] and result["needs_content"] == [], result
    assert tree_state(member) == before
    # a new key and unit: the diff shows the unit, never the key; the old key is kept
    (source / "etcd-key.pem").write_text("-----BEGIN PRIVATE KEY-----\nNEWSECRETTEXT\n")
    files[2]["content"] = "[Unit]\nDescription=etcd member\n"
    result, out = play(tmp_path, files, dirs, check=True, diff=True)
    assert result["changed"] and tree_state(member) == before
    assert [d["before_header"] for d in result["diff"]] == [str(member / "etcd.service")]
    assert "Description=etcd member" in result["diff"][0]["after"]
    assert "SECRETKEYTEXT" not in out and "NEWSECRETTEXT" not in out
    result, out = play(tmp_path, files, dirs, diff=True)
    assert result["changed"] and "SECRETKEYTEXT" not in out and "NEWSECRETTEXT" not in out
    backup = result["files"][str(member / "ssl" / "etcd-key.pem")]["backup_file"]
    assert "SECRETKEYTEXT" in open(backup).read()
    assert "NEWSECRETTEXT" in (member / "ssl" / "etcd-key.pem").read_text()
    assert (member / "bin" / "etcd").stat().st_mtime_ns == before["bin/etcd"][2]


def test_a_missing_source_is_refused_before_anything_is_made(tmp_path):
    member = tmp_path / "member"
    files = [{"src": str(tmp_path / "no-such-file"), "dest": str(member / "etcd")},
             {"content": "x", "dest": str(member / "x")}]
    result, dummy = play(tmp_path, files, [{"path": str(member)}])
    assert result.get("failed") and "no-such-file" in result["msg"] and "not a readable file" in result["msg"]
    assert not member.exists()
    result, dummy = play(tmp_path, [{"dest": str(member / "y")}], [{"path": str(member)}])
    assert result.get("failed") and "exactly one of src and content" in result["msg"] and not member.exists()
    # an optional file (etcdutl, which etcd 3.4 does not ship) is left out when its source is missing
    files[0]["optional"] = True
    result, dummy = play(tmp_path, files, [{"path": str(member)}])
    assert not result.get("failed") and list(result["files"]) == [str(member / "x")], result
    assert sorted(os.listdir(str(member))) == ["x"]
