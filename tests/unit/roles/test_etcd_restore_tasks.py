"""What the etcd_restore role may remove, read from its task files: only what the run itself created
(its staging subdirectory, its private decrypted copy, its own lock), never a moved-aside
directory, never the configured staging directory (issue 8, defects 2, 4 and 8). Every refusal
goes through ezops.etcd.refuse, and every run cleans up in an always: section."""

import glob
import os
import warnings

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

from task_files import walk

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
ROLE = os.path.join(ROOT, "roles/etcd_restore")
PLAYBOOK = os.path.join(ROOT, "playbooks/95.restore.yml")

# (path, loop) of every removal the role may do, as written in its task files.
ALLOWED_REMOVALS = {
    ("{{ __etcd_restore_finish_run_dir }}", None),
    ("{{ __etcd_restore_finish_run_dir }}", "{{ __etcd_restore_members }}"),
    ("{{ __etcd_restore_left }}", None),
    ("{{ __etcd_restore_tmp.path }}", None),
}
# The loop that removes the decrypted copy and this run's lock on the controller.
CONTROLLER_LOOP_NAMES = ("__etcd_restore_first.__etcd_restore_tmp.path", "__etcd_restore_lock",
                         "__etcd_restore_first.__etcd_restore_run_id")


def role_tasks():
    out = []
    for path in sorted(glob.glob(os.path.join(ROLE, "tasks", "*.yml"))):
        with open(path) as handle:
            for task in walk(yaml.safe_load(handle)):
                out.append((os.path.basename(path), task))
    return out


def removals():
    for name, task in role_tasks():
        args = task.get("ansible.builtin.file") or task.get("file")
        if isinstance(args, dict) and args.get("state") == "absent":
            yield name, task, args


def test_every_removal_is_of_something_the_run_created():
    seen = 0
    for name, task, args in removals():
        seen += 1
        loop = task.get("loop")
        if args["path"] == "{{ item }}" and name == "finish.yml" and "lock" in task["name"]:
            assert all(word in loop for word in CONTROLLER_LOOP_NAMES), loop
            # the lock only when it holds this run's id
            assert "is search(__etcd_restore_first.__etcd_restore_run_id" in loop
            continue
        assert (args["path"], loop) in ALLOWED_REMOVALS, "%s: %s removes %s (loop %s)" % (name, task["name"], args["path"], loop)
    assert seen >= 5


def test_nothing_removes_a_moved_aside_directory_or_the_configured_staging_directory():
    text = "".join(open(path).read() for path in glob.glob(os.path.join(ROLE, "tasks", "*.yml")))
    assert "[0-9]{14}" not in text
    for name, task, args in removals():
        assert "etcd_restore_stage_dir" not in str(args["path"]) + str(task.get("loop"))
        assert "etcd_restore_data_dir" not in str(args["path"]) + str(task.get("loop"))
    for name, task in role_tasks():
        command = task.get("ansible.builtin.command") or task.get("ansible.builtin.shell") or {}
        argv = command.get("argv") if isinstance(command, dict) else None
        assert not (argv and argv[0] in ("rm", "rmdir")), "%s: %s" % (name, task["name"])
        assert "rm -" not in str(command.get("cmd", "") if isinstance(command, dict) else command)


def test_the_keep_aside_knob_is_gone():
    with open(os.path.join(ROLE, "defaults/main.yml")) as handle:
        assert "etcd_restore_keep_aside" not in yaml.safe_load(handle)


def test_every_check_before_anything_stops_refuses_with_a_code():
    refusals = 0
    for name, task in role_tasks():
        if name not in ("preflight.yml", "stage.yml"):
            continue
        for module in ("ansible.builtin.assert", "ansible.builtin.fail", "assert", "fail"):
            assert module not in task, "%s: %s fails without a refusal code" % (name, task["name"])
        if "ezops.etcd.refuse" in task:
            refusals += 1
            assert task["ezops.etcd.refuse"]["code"], task["name"]
    assert refusals >= 4


def test_every_play_that_takes_or_holds_the_lock_cleans_up_in_always():
    with open(PLAYBOOK) as handle:
        plays = yaml.safe_load(handle)
    # from the play that takes the lock to the one before the last (which starts Kubernetes again)
    names = [play["name"] for play in plays]
    holding = list(plays[names.index("Pre-flight and staging"):-1])
    assert len(holding) >= 3, names
    for play in holding:
        blocks = [task for task in play["tasks"] if "block" in task]
        assert blocks, play["name"]
        finish = [task for task in blocks[0]["always"]
                  if task.get("ansible.builtin.include_role", {}).get("tasks_from") == "finish.yml"]
        assert finish, "%s does not clean up in always:" % play["name"]
    restore = [play for play in plays if play["name"] == "Restore etcd"][0]
    rescue = restore["tasks"][0]["rescue"]
    assert rescue[0]["ansible.builtin.include_role"]["tasks_from"] == "rollback.yml"


@pytest.fixture(scope="module")
def render():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # another test may have configured the collection loader already
        init_plugin_loader()
    with open(os.path.join(ROLE, "vars/main.yml")) as handle:
        role_vars = yaml.safe_load(handle)
    role_vars = dict((k, trust_as_template(v) if isinstance(v, str) else v) for k, v in role_vars.items())

    def _render(expr, **extra):
        variables = dict(role_vars, etcd_restore_group="etcd", groups={"etcd": ["10.0.0.2", "10.0.0.1"]})
        variables.update(extra)
        return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expr))
    return _render


@pytest.mark.parametrize("stage_dir", ["/tmp", "/tmp/", "/var/tmp", "/var/tmp/ezops-etcd-restore//"])
def test_the_run_removes_its_own_subdirectory_never_the_configured_one(render, stage_dir):
    sha = "ab" * 32
    hostvars = {"10.0.0.1": {"__etcd_restore_sha256": sha}, "10.0.0.2": {}}
    removed = render("{{ __etcd_restore_finish_run_dir }}", etcd_restore_stage_dir=stage_dir, hostvars=hostvars)
    assert removed == stage_dir.rstrip("/") + "/ezops-restore-" + sha[:16]
    staged = render("{{ __etcd_restore_staged }}", etcd_restore_stage_dir=stage_dir, __etcd_restore_sha256=sha)
    assert os.path.dirname(staged) == removed


def test_before_the_snapshot_is_known_nothing_is_removed_on_the_members(render):
    hostvars = {"10.0.0.1": {}, "10.0.0.2": {}}
    assert render("{{ __etcd_restore_finish_run_dir }}", etcd_restore_stage_dir="/tmp", hostvars=hostvars) == ""
