# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""ezops.etcd.etcd_member_files and module_utils/etcd_member_files: a member's dirs and files in one run."""
from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat

from ansible_collections.ezops.etcd.plugins.modules import etcd_member_files
from etcd_fakes import path_states, run_main

NOBODY = pwd.getpwnam("nobody")
NOGROUP = grp.getgrgid(NOBODY.pw_gid).gr_name


def sha1(data):
    return hashlib.sha1(data).hexdigest()


def staged(tmp_path, data, name="content0"):
    path = tmp_path / "staging" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return str(path)


def run(check=False, diff=False, **args):
    return run_main(etcd_member_files.main, args, check_mode=check, diff=diff)


def spec(dest, data, **extra):
    return dict({"dest": str(dest), "checksum": sha1(data), "owner": "root", "group": "root", "mode": "0644"}, **extra)


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_a_new_member_gets_its_dirs_then_its_files_once_their_content_is_sent(tmp_path):
    etc, key = tmp_path / "etc", tmp_path / "etc" / "etcd-key.pem"
    data_dir = tmp_path / "var" / "lib" / "etcd"
    dirs = [{"path": str(etc), "owner": "root", "group": "root", "mode": "0755"},
            {"path": str(data_dir), "owner": "nobody", "group": NOGROUP, "mode": "0700", "recurse": True}]
    key_spec = spec(key, b"KEY", owner="nobody", group=NOGROUP, mode="0600", backup=True, secret=True)
    # first run: the dirs are made, the file's content is asked for, nothing is written without it
    result, failed = run(dirs=dirs, files=[key_spec])
    assert not failed and result["changed"]
    assert result["needs_content"] == [str(key)] and not key.exists()
    assert mode_of(etc) == 0o755 and mode_of(data_dir) == 0o700
    assert os.stat(str(data_dir)).st_uid == NOBODY.pw_uid
    assert result["dirs"][str(data_dir)] == {"changed": True, "changed_below": False}
    # second run with the content staged: written with its owner and mode, no temporary file left
    result, failed = run(files=[dict(key_spec, staged=staged(tmp_path, b"KEY"))])
    assert not failed and result["changed"] and result["needs_content"] == []
    assert key.read_bytes() == b"KEY" and mode_of(key) == 0o600 and os.stat(str(key)).st_uid == NOBODY.pw_uid
    assert "backup_file" not in result["files"][str(key)]  # nothing was replaced
    assert sorted(os.listdir(str(etc))) == ["etcd-key.pem"]
    # a re-run changes nothing and leaves the modification time alone (it decides restarts)
    before = path_states(tmp_path)
    result, failed = run(dirs=dirs, files=[key_spec])
    assert not failed and not result["changed"] and result["needs_content"] == []
    assert path_states(tmp_path) == before


def test_a_changed_content_is_replaced_atomically_and_the_old_file_kept(tmp_path):
    cert = tmp_path / "etcd.pem"
    cert.write_bytes(b"OLD")
    new = spec(cert, b"NEW", backup=True)
    result, failed = run(files=[dict(new, staged=staged(tmp_path, b"NEW"))])
    assert not failed and result["changed"]
    backup = result["files"][str(cert)]["backup_file"]
    assert cert.read_bytes() == b"NEW" and open(backup, "rb").read() == b"OLD"
    assert backup.startswith(str(cert) + ".") and backup.endswith("~")


def test_only_the_mode_drifted_the_content_and_its_time_stay(tmp_path):
    unit = tmp_path / "etcd.service"
    unit.write_bytes(b"[Unit]\n")
    unit.chmod(0o666)
    os.utime(str(unit), (1000, 1000))
    result, failed = run(files=[spec(unit, b"[Unit]\n")])
    assert not failed and result["changed"] and result["needs_content"] == []
    assert mode_of(unit) == 0o644 and os.stat(str(unit)).st_mtime == 1000


def test_check_mode_reports_every_change_and_writes_nothing(tmp_path):
    unit, new_dir = tmp_path / "etcd.service", tmp_path / "bin"
    unit.write_bytes(b"[Unit]\nold\n")
    unit.chmod(0o600)
    before = path_states(tmp_path)
    result, failed = run(check=True, diff=True, dirs=[{"path": str(new_dir), "mode": "0755"}],
                         files=[spec(unit, b"[Unit]\nnew\n")])
    assert not failed and result["changed"] and result["needs_content"] == []
    assert result["files"][str(unit)]["changed"] and result["dirs"][str(new_dir)]["changed"]
    assert result["diff_before"] == [{"dest": str(unit), "before": "[Unit]\nold\n"}]
    assert path_states(tmp_path) == before and not new_dir.exists()


def test_a_secret_file_never_shows_its_content_in_a_diff(tmp_path):
    key = tmp_path / "etcd-key.pem"
    key.write_bytes(b"PRIVATE")
    result, failed = run(check=True, diff=True, files=[spec(key, b"OTHER", secret=True, mode="0600")])
    assert not failed and result["changed"] and result["diff_before"] == []
    assert "PRIVATE" not in repr(result)


def test_recurse_hands_the_data_to_the_owner_without_following_links(tmp_path):
    data_dir, outside = tmp_path / "etcd", tmp_path / "outside"
    (data_dir / "member" / "wal").mkdir(parents=True)
    (data_dir / "member" / "wal" / "0.wal").write_bytes(b"w")
    outside.write_bytes(b"x")
    (data_dir / "link").symlink_to(outside)
    dirs = [{"path": str(data_dir), "owner": "nobody", "group": NOGROUP, "mode": "0700", "recurse": True}]
    result, failed = run(check=True, dirs=dirs)
    assert not failed and result["dirs"][str(data_dir)]["changed_below"]
    assert os.stat(str(data_dir / "member" / "wal" / "0.wal")).st_uid == 0  # check mode: untouched
    # listed twice (install.yml lists the data dir again when the WAL has no dir of its own): the
    # second pass changes nothing and must not hide what the first did
    result, failed = run(dirs=dirs + dirs)
    assert not failed and result["dirs"][str(data_dir)] == {"changed": True, "changed_below": True}
    for path in (data_dir / "member", data_dir / "member" / "wal" / "0.wal"):
        assert os.stat(str(path)).st_uid == NOBODY.pw_uid
    assert os.lstat(str(data_dir / "link")).st_uid == NOBODY.pw_uid
    assert os.stat(str(outside)).st_uid == 0  # what the link points to stays
    result, failed = run(dirs=dirs)
    assert not failed and not result["changed"]


def test_a_data_dir_that_is_a_link_hands_over_the_directory_it_points_to(tmp_path):
    target, link = tmp_path / "disk" / "etcd", tmp_path / "etcd"
    (target / "member").mkdir(parents=True)
    target.chmod(0o755)
    link.symlink_to(target)
    dirs = [{"path": str(link), "owner": "nobody", "group": NOGROUP, "mode": "0700", "recurse": True}]
    result, failed = run(dirs=dirs)
    assert not failed and result["dirs"][str(link)] == {"changed": True, "changed_below": True}
    assert mode_of(target) == 0o700 and os.stat(str(target)).st_uid == NOBODY.pw_uid
    assert os.stat(str(target / "member")).st_uid == NOBODY.pw_uid
    assert os.lstat(str(link)).st_uid == 0 and os.path.islink(str(link))
    result, failed = run(dirs=dirs)
    assert not failed and not result["changed"]


def test_refusals_name_the_path_and_change_nothing(tmp_path):
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "a-file").write_bytes(b"f")
    (tmp_path / "etcd.pem").write_bytes(b"OLD")
    before = path_states(tmp_path)
    cases = [
        ({"files": [spec(tmp_path / "a-dir", b"x", staged=staged(tmp_path, b"x"))]}, "a-dir is a directory"),
        ({"dirs": [{"path": str(tmp_path / "a-file")}]}, "a-file exists and is not a directory"),
        ({"files": [spec(tmp_path / "etcd.pem", b"NEW", staged=staged(tmp_path, b"DAMAGED", "damaged"))]}, "arrived damaged"),
        ({"files": [{"dest": str(tmp_path / "etcd.pem")}]}, "has no checksum"),
        ({"files": [spec(tmp_path / "etcd.pem", b"NEW", owner="no-such-user-x", staged=staged(tmp_path, b"NEW", "new"))]},
         "no-such-user-x"),
    ]
    for args, says in cases:
        result, failed = run(**args)
        assert failed and says in result["msg"], (args, result)
        assert {k: v for k, v in path_states(tmp_path).items() if "/staging" not in k} == before, args
