#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_member_state
short_description: Read, in one run on a member, what a deploy decides on - service state, data, accounts, files
version_added: 0.2.0
description:
  - Read-only. Reports whether the etcd unit is loaded, enabled at boot and active and since when, whether
    systemd needs a daemon reload, whether the WAL directory holds WAL files (etcd counts such a member as
    initialized), the latest change time of the member's files (unit, binary, CA, certificate, key), and the settings in its
    bootstrap environment file.
  - For the checks before a deploy changes anything, also the service account (O(user)), what the data and
    WAL directories hold (O(dirs)) and the text of files such as the installed unit (O(read)).
  - A member needs a restart when it has been running since before RV(files_changed_at). Comparing times
    instead of a run's "changed" results also finishes a restart that an interrupted run left undone.
author:
  - ezops.etcd developers (@ezops)
attributes:
  check_mode:
    support: full
    description: Reads only, in check mode too.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
options:
  service:
    description: The systemd unit.
    type: str
    default: etcd.service
  wal_dir:
    description:
      - The WAL directory (C(<data dir>/member/wal) unless the WAL has a directory of its own). Without it
        RV(has_data) is V(false).
    type: path
  user:
    description: An account whose passwd entry is reported in RV(passwd).
    type: str
  dirs:
    description: Directories whose existence and entries are reported in RV(dirs). Symbolic links are followed.
    type: list
    elements: path
    default: []
  read:
    description: Text files whose contents are reported in RV(texts); missing ones are left out.
    type: list
    elements: path
    default: []
  files:
    description: Files whose latest change time is reported; missing ones are left out.
    type: list
    elements: path
    default: []
  env_file:
    description: An environment file (C(KEY=value) lines) to read; missing gives an empty RV(env).
    type: path
notes:
  - Runs on the member; no etcd client is needed (not in the C(etcd) action group).
"""

EXAMPLES = r"""
- name: Read what the deploy decides on
  ezops.etcd.etcd_member_state:
    wal_dir: /var/lib/etcd/member/wal
    files: [/etc/systemd/system/etcd.service, /opt/kube/bin/etcd]
    env_file: /etc/etcd/bootstrap.env
  register: member_state
"""

RETURN = r"""
loaded:
  description: Whether systemd knows the unit (its file exists); a host that never ran etcd has none.
  returned: always
  type: bool
enabled:
  description: Whether the unit starts at boot.
  returned: always
  type: bool
active:
  description: Whether the service is active.
  returned: always
  type: bool
active_since:
  description: When it last became active, in seconds since the epoch (microseconds kept); 0 when never.
  returned: always
  type: float
needs_daemon_reload:
  description: Whether systemd has not loaded the unit file as it is on disk.
  returned: always
  type: bool
has_data:
  description: Whether O(wal_dir) holds C(*.wal) files.
  returned: always
  type: bool
files_changed_at:
  description: The latest modification time of O(files), in seconds since the epoch; 0 when none exists.
  returned: always
  type: float
env:
  description: The settings of O(env_file).
  returned: always
  type: dict
passwd:
  description:
    - The passwd fields of O(user) after its name (password, uid, gid, gecos, home, shell), as
      C(ansible.builtin.getent) gives them; V(null) when the account does not exist or O(user) is not given.
  returned: always
  type: list
  elements: str
dirs:
  description: For each of O(dirs), C(exists), C(isdir) and C(entries) (the names it holds, hidden ones too).
  returned: always
  type: dict
texts:
  description: Path to contents of each existing file of O(read).
  returned: always
  type: dict
"""

import glob
import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_systemd import SHOW_ARGS, parse_env, service_state


def files_changed_at(paths):
    times = [os.stat(path).st_mtime for path in paths if os.path.exists(path)]
    return max(times) if times else 0.0


def passwd_entry(user):
    if not user:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return [entry.pw_passwd, str(entry.pw_uid), str(entry.pw_gid), entry.pw_gecos, entry.pw_dir, entry.pw_shell]


def dir_state(path):
    if not os.path.lexists(path):
        return {"exists": False, "isdir": False, "entries": []}
    isdir = os.path.isdir(path)
    return {"exists": True, "isdir": isdir, "entries": sorted(os.listdir(path)) if isdir else []}


def read_texts(paths):
    texts = {}
    for path in paths:
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                texts[path] = handle.read()
    return texts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            service=dict(type="str", default="etcd.service"),
            wal_dir=dict(type="path"),
            user=dict(type="str"),
            dirs=dict(type="list", elements="path", default=[]),
            read=dict(type="list", elements="path", default=[]),
            files=dict(type="list", elements="path", default=[]),
            env_file=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    systemctl = module.get_bin_path("systemctl", required=True)
    rc, out, err = module.run_command([systemctl, "show", module.params["service"]] + SHOW_ARGS)
    if rc != 0:
        module.fail_json(msg="systemctl show %s failed: %s" % (module.params["service"], (err or out).strip()))
    try:
        state = service_state(out)
    except ValueError as exc:
        module.fail_json(msg="systemctl show %s: %s" % (module.params["service"], exc))
    wal_dir = module.params["wal_dir"]
    state["has_data"] = bool(wal_dir and glob.glob(os.path.join(glob.escape(wal_dir), "*.wal")))
    state["files_changed_at"] = files_changed_at(module.params["files"])
    env_file = module.params["env_file"]
    state["env"] = parse_env(read_texts([env_file]).get(env_file, "")) if env_file else {}
    state["passwd"] = passwd_entry(module.params["user"])
    state["dirs"] = {path: dir_state(path) for path in module.params["dirs"]}
    state["texts"] = read_texts(module.params["read"])
    module.exit_json(changed=False, **state)


if __name__ == "__main__":
    main()
