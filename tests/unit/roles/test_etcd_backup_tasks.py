"""What the etcd_backup role may remove and how it names what is not yet a snapshot, read from its task
and vars files (issue 8, faults: a full backup directory, a member killed in the middle of a backup).

Everything a run writes on the controller before the snapshot is complete is hidden
(.snapshot_<stamp>.db.partial*): retention only lists snapshot_*.db(.age) and a restore refuses hidden
names, so a partial file can never be taken for a snapshot. snapshot.db is a hard link to the newest
snapshot and is only replaced by a rename."""

import fnmatch
import glob
import os

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

from task_files import walk

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
ROLE = os.path.join(ROOT, "roles/etcd_backup")

# (file, path, loop) of every removal the role may do.
ALLOWED_REMOVALS = {
    ("save.yml", "{{ item }}", "{{ query('ansible.builtin.fileglob', etcd_backup_dir ~ '/.snapshot_*.partial*') }}"),
    ("save.yml", "{{ item }}", "{{ __etcd_backup_partials }}"),
    ("attempt.yml", "{{ __etcd_backup_partial }}", None),
    ("save.yml", "{{ etcd_backup_dir }}/{{ __etcd_backup_name }}.{{ item }}", ("sha256", "json")),
    ("attempt.yml", "{{ item }}", "{{ __etcd_backup_try_stale.files | default([]) | map(attribute='path') | list }}"),
    ("attempt.yml", "{{ __etcd_backup_run_dir }}", None),
    ("encrypt.yml", "{{ __etcd_backup_partial }}.check", None),
}


def load(name):
    with open(os.path.join(ROLE, "tasks", name)) as handle:
        return yaml.safe_load(handle)


def role_tasks():
    for path in sorted(glob.glob(os.path.join(ROLE, "tasks", "*.yml"))):
        for task in walk(load(os.path.basename(path))):
            yield os.path.basename(path), task


def test_every_removal_is_of_this_runs_files_or_of_expired_snapshots():
    seen = set()
    for name, task in role_tasks():
        args = task.get("ansible.builtin.file")
        if not (isinstance(args, dict) and args.get("state") == "absent"):
            continue
        seen.add((name, args["path"], str(task.get("loop"))))
        if name == "retention.yml":
            assert "__etcd_backup_expired" in task["loop"] and "__etcd_backup_protected" in str(task["vars"])
            continue
        loop = task.get("loop")
        key = (name, args["path"], tuple(loop) if isinstance(loop, list) else loop)
        assert key in ALLOWED_REMOVALS, "%s: %s removes %s (loop %s)" % (name, task["name"], key[1], key[2])
    assert len(seen) == len(ALLOWED_REMOVALS) + 1
    for name, task in role_tasks():
        command = task.get("ansible.builtin.command") or {}
        argv = command.get("argv") if isinstance(command, dict) else None
        assert not (isinstance(argv, list) and argv[0] in ("rm", "rmdir")), "%s: %s" % (name, task["name"])


def test_a_snapshots_sidecars_are_removed_only_when_this_run_wrote_them_and_did_not_name_it():
    always = [t for t in load("save.yml")[0]["always"] if "not kept" in t["name"]][0]
    assert "__etcd_backup_sidecars is defined" in always["when"]
    assert any("__etcd_backup_named is not defined" in cond for cond in always["when"])


def test_a_try_on_a_member_is_included_without_run_once_and_shares_its_facts_with_run_once():
    # With run_once, a rescued failure drops the other hosts from the play and ansible-playbook
    # exits 2 although the backup succeeded (ansible-core 2.19).
    include = [t for t in walk(load("save.yml")) if t.get("ansible.builtin.include_tasks") == "attempt.yml"][0]
    assert include["args"]["apply"] == {"run_once": False}
    attempt = load("attempt.yml")
    for task in walk(attempt):
        if "ansible.builtin.set_fact" in task and task["name"].startswith(("Keep", "Record")):
            assert task.get("run_once") is True, task["name"]
        if task.get("delegate_to") == "{{ __etcd_backup_try.host }}":
            assert task.get("ignore_unreachable") is True, task["name"]
            assert "timeout" in task or task.get("failed_when") is False, task["name"]
    assert [t for t in attempt if "block" in t][0]["rescue"]


def test_the_snapshot_is_asked_of_its_own_member_first_then_of_the_others():
    save = [t for t in walk(load("attempt.yml")) if "ezops.etcd.etcd_snapshot" in t][0]
    endpoints = save["ezops.etcd.etcd_snapshot"]["endpoints"]
    assert endpoints.strip().startswith("{{ [__etcd_backup_try.endpoint]")
    assert "reject('equalto', __etcd_backup_try.endpoint)" in endpoints
    assert save["ezops.etcd.etcd_snapshot"]["command_timeout"] == "{{ etcd_backup_save_timeout | int }}"
    assert "timeout" in save


def test_snapshot_db_is_replaced_by_a_new_link_and_its_sidecars_by_a_rename():
    tasks = list(walk(load("save.yml")))
    link = [t for t in tasks if "Point snapshot.db" in t["name"]][0]["ansible.builtin.file"]
    assert link["state"] == "hard" and link["force"] is True
    moved = [t for t in tasks if "snapshot.db in place" in t["name"]][0]["ansible.builtin.command"]["argv"]
    assert moved[:3] == ["mv", "--force", "--no-target-directory"]
    written = [t for t in tasks if t.get("ansible.builtin.copy")]
    dests = [item["dest"] for t in written for item in t["loop"]]
    assert "{{ __etcd_backup_latest }}.sha256" not in dests and "{{ __etcd_backup_latest }}.json" not in dests
    names = [t["name"] for t in tasks]
    # every file that takes space is written before the snapshot gets its name
    assert names.index([n for n in names if n.startswith("Write the checksum")][0]) < names.index("Give the snapshot its name")
    tries = [t["name"] for t in walk(load("attempt.yml"))]
    assert tries.index("Measure the free space of the backup directory") < tries.index(
        "Copy the snapshot to the controller from {{ __etcd_backup_try.host }}")
    fetch = [t for t in walk(load("attempt.yml")) if "ansible.builtin.fetch" in t][0]
    assert "not (__etcd_backup_no_room | default(false) | bool)" in fetch["when"]


def trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trusted(v) for v in value]
    if isinstance(value, dict):
        return dict((k, trusted(v)) for k, v in value.items())
    return value


@pytest.fixture(scope="module")
def render():
    init_plugin_loader()
    with open(os.path.join(ROLE, "vars/main.yml")) as handle:
        role_vars = yaml.safe_load(handle)
    with open(os.path.join(ROLE, "defaults/main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    merged = dict(defaults, **role_vars)
    merged = dict((k, trusted(v)) for k, v in merged.items())

    def _render(expr, **extra):
        variables = dict(merged, etcd_backup_dir="/srv/backup", __etcd_backup_minute="202611221830",
                         __etcd_backup_second="07")
        variables.update(extra)
        return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expr))
    return _render


def test_partial_names_are_hidden_and_never_match_what_retention_or_restore_read(render):
    partials = render("{{ __etcd_backup_partials }}")
    assert len(partials) == 5 and len(set(partials)) == 5
    for path in partials:
        base = os.path.basename(path)
        assert os.path.dirname(path) == "/srv/backup"
        assert base.startswith(".snapshot_20261122183007.db.partial")
        assert fnmatch.fnmatch(base, ".snapshot_*.partial*")          # the next run's clean-up finds it
        for pattern in ("snapshot_*.db", "snapshot_*.db.age", "snapshot.db", "snapshot.db.age"):
            assert not fnmatch.fnmatch(base, pattern), (base, pattern)


@pytest.mark.parametrize("tmp_dir", ["/var/tmp/ezops-etcd-backup", "/var/tmp/ezops-etcd-backup//"])
def test_the_member_file_is_in_this_runs_own_subdirectory(render, tmp_dir):
    run_dir = render("{{ __etcd_backup_run_dir }}", etcd_backup_member_tmp_dir=tmp_dir)
    assert run_dir == "/var/tmp/ezops-etcd-backup/run-20261122183007"
    assert render("{{ __etcd_backup_member_file }}", etcd_backup_member_tmp_dir=tmp_dir) == run_dir + "/snapshot.db"


@pytest.mark.parametrize("encrypt,identity,copies", [(False, "", 1), (True, "", 2), (True, "/root/id", 3), (False, "/root/id", 1)])
def test_the_space_asked_for_counts_every_full_size_copy(render, encrypt, identity, copies):
    got = render("{{ __etcd_backup_copies | int }}", etcd_backup_encrypt=encrypt, etcd_backup_age_identity_file=identity)
    assert int(got) == copies


def test_the_no_space_message_names_the_directory_and_both_sizes(render):
    space = {"dirs": [{"free_bytes": 12288, "free_text": "12.0 KiB", "need_bytes": 16803054, "need_text": "16 MiB"}]}
    msg = render("{{ __etcd_backup_no_space_msg }}", __etcd_backup_space=space, __etcd_backup_space_after={"skipped": True},
                 __etcd_backup_saved={"snapshot": {"size": 24608}}, etcd_backup_encrypt=False)
    for text in ("/srv/backup", "12.0 KiB", "12288 bytes", "16 MiB", "16803054 bytes", "24608 bytes",
                 "snapshot.db and the earlier snapshots are unchanged"):
        assert text in msg, (text, msg)


def test_the_source_of_a_snapshot_is_the_member_whose_endpoint_served_it(render):
    candidates = [{"host": "10.0.0.1", "endpoint": "https://10.0.0.1:2379"},
                  {"host": "10.0.0.2", "endpoint": "https://10.0.0.2:2379"}]
    got = render("{{ __etcd_backup_endpoint_hosts }}", __etcd_backup_candidates=candidates)
    assert got == {"https://10.0.0.1:2379": "10.0.0.1", "https://10.0.0.2:2379": "10.0.0.2"}
