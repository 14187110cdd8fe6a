# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""Every role entry point that a playbook or role includes is validated: ansible-core looks the
argument spec up by the literal tasks_from value ("add.yml", not "add"), so a spec named otherwise
is silently never checked. And every spec names a task file that exists."""
from __future__ import annotations

import glob
import os

import yaml

from task_files import walk

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
INCLUDES = ("ansible.builtin.include_role", "ansible.builtin.import_role")


def yaml_files():
    for pattern in ("playbooks/*.yml", "playbooks/tasks/*.yml", "roles/*/tasks/*.yml"):
        yield from sorted(glob.glob(os.path.join(ROOT, pattern)))


def tasks_of(document):
    """The tasks of a task file, or of every play of a playbook."""
    if not isinstance(document, list):
        return
    for item in document:
        if isinstance(item, dict) and ("hosts" in item or "import_playbook" in item):
            for key in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                yield from walk(item.get(key))
        elif isinstance(item, dict):
            yield from walk([item])


def role_includes():
    """(file, role, tasks_from) of every include_role and import_role with tasks_from."""
    found = []
    for path in yaml_files():
        with open(path) as handle:
            document = yaml.safe_load(handle)
        for task in tasks_of(document):
            for key in INCLUDES:
                args = task.get(key)
                if isinstance(args, dict) and "tasks_from" in args:
                    found.append((os.path.relpath(path, ROOT), args["name"].split(".")[-1], args["tasks_from"]))
    return found


def specs(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]


def test_every_included_entry_point_has_a_spec_under_its_literal_name():
    includes = role_includes()
    assert len(includes) > 20, includes  # the walk finds the playbooks' includes
    missing = [(path, role, entry) for path, role, entry in includes if entry not in specs(role)]
    assert missing == []


def test_every_spec_names_an_existing_task_file():
    for spec_file in glob.glob(os.path.join(ROOT, "roles/*/meta/argument_specs.yml")):
        role = spec_file.split(os.sep)[-3]
        for entry in specs(role):
            name = entry if entry.endswith(".yml") else entry + ".yml"
            assert os.path.isfile(os.path.join(ROOT, "roles", role, "tasks", name)), (role, entry)
