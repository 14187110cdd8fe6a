#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_member_files
short_description: Install a member's directories and files - binaries, certificates, environment, unit - in one run
version_added: 0.2.0
description:
  - Creates directories and brings them to their owner, group and mode, then installs files from the
    controller (O(files[].src)) or given text (O(files[].content), for example a rendered template).
  - One module run on the member checks everything. Only the files whose content differs are sent, then
    a second run installs them. A re-run with nothing to do costs one module run, where one
    M(ansible.builtin.copy) or M(ansible.builtin.template) task per file costs two.
  - A file's new content is written to a private temporary file next to it, given its owner and mode,
    then renamed over it. A reader never sees a half-written file, and a new key is never readable by others.
  - With O(files[].backup), the file it replaces is kept as C(<dest>.<pid>.<time>~). Nothing is deleted.
  - The modification time of a file changes only when its content does, so a member that has been running
    since before its files changed needs a restart (M(ezops.etcd.etcd_member_state) reports that time).
author:
  - ezops.etcd developers (@ezops)
attributes:
  check_mode:
    support: full
    description: Reports what would change; nothing is sent or written.
  diff_mode:
    support: partial
    description: Shows the text of changed files, except those marked O(files[].secret) or larger than 64 KiB.
  action:
    support: full
    description: An action plugin reads O(files[].src) on the controller and sends the files that differ.
options:
  dirs:
    description: Directories to create (with missing parents) and bring to their owner, group and mode, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory.
        type: path
        required: true
      owner:
        description: Its owner (a name).
        type: str
      group:
        description: Its group (a name).
        type: str
      mode:
        description: Its mode, in octal (V("0755")).
        type: raw
      recurse:
        description:
          - Also hand everything below it to O(dirs[].owner) and O(dirs[].group) (symbolic links themselves,
            never what they point to). Modes below are left alone.
        type: bool
        default: false
  files:
    description: Files to install, after the directories.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Where the file goes on the member.
        type: path
        required: true
      src:
        description: A file on the controller. Exactly one of O(files[].src) and O(files[].content).
        type: path
      content:
        description: The file's text. Exactly one of O(files[].src) and O(files[].content).
        type: str
      optional:
        description:
          - Leave the file out when O(files[].src) does not exist on the controller (etcd 3.4 ships no C(etcdutl)).
            Without it, a missing source fails the task before anything changes.
        type: bool
        default: false
      owner:
        description: Its owner (a name).
        type: str
      group:
        description: Its group (a name).
        type: str
      mode:
        description: Its mode, in octal (V("0644")).
        type: raw
      backup:
        description: Keep the file it replaces as C(<dest>.<pid>.<time>~).
        type: bool
        default: false
      secret:
        description: Never show its content in a diff (a private key).
        type: bool
        default: false
      checksum:
        description: Set by the action plugin; the SHA-1 of the content.
        type: str
      staged:
        description: Set by the action plugin; where the sent content waits on the member.
        type: path
notes:
  - Runs on the member; no etcd client is needed (not in the C(etcd) action group).
seealso:
  - module: ezops.etcd.etcd_member_state
"""

EXAMPLES = r"""
- name: Install the binaries, the certificate and the unit
  ezops.etcd.etcd_member_files:
    dirs:
      - {path: /opt/kube/bin, owner: root, group: root, mode: "0755"}
      - {path: /var/lib/etcd, owner: etcd, group: etcd, mode: "0700", recurse: true}
    files:
      - {src: /etc/kubeasz/bin/etcd, dest: /opt/kube/bin/etcd, owner: root, group: root, mode: "0755"}
      - {src: /etc/kubeasz/clusters/k8s/ssl/etcd-10.0.0.1-key.pem, dest: /etc/kubernetes/ssl/etcd-key.pem,
         owner: etcd, group: etcd, mode: "0600", backup: true, secret: true}
      - dest: /etc/systemd/system/etcd.service
        content: "{{ lookup('ansible.builtin.template', 'etcd.service.j2') }}"
        owner: root
        group: root
        mode: "0644"
  register: installed
"""

RETURN = r"""
files:
  description: For each O(files[].dest), C(changed) and, when the replaced file was kept, C(backup_file).
  returned: always
  type: dict
dirs:
  description: For each O(dirs[].path), C(changed) and C(changed_below) (what O(dirs[].recurse) handed over).
  returned: always
  type: dict
needs_content:
  description: The files whose content differs and was not sent yet (the action plugin sends them).
  returned: always
  type: list
  elements: str
diff_before:
  description:
    - In diff mode, C(dest) and C(before) (its text) for each changed file that is neither secret nor larger
      than 64 KiB. The action plugin turns them into the task's diff.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_member_files import ensure_dir, install_file

ACCESS = dict(owner=dict(type="str"), group=dict(type="str"), mode=dict(type="raw"))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dirs=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True), recurse=dict(type="bool", default=False), **ACCESS)),
            files=dict(type="list", elements="dict", default=[], options=dict(
                dest=dict(type="path", required=True), src=dict(type="path"), content=dict(type="str", no_log=True),
                backup=dict(type="bool", default=False), secret=dict(type="bool", default=False),
                optional=dict(type="bool", default=False),
                checksum=dict(type="str"), staged=dict(type="path"), **ACCESS)),
        ),
        supports_check_mode=True,
    )
    result = {"changed": False, "dirs": {}, "files": {}, "needs_content": [], "diff_before": []}
    try:
        for spec in module.params["dirs"]:
            changed, below = ensure_dir(module, spec, module.check_mode)
            # a directory listed twice (the data dir as its own WAL dir) reports what either pass did
            seen = result["dirs"].get(spec["path"], {"changed": False, "changed_below": False})
            result["dirs"][spec["path"]] = {"changed": seen["changed"] or changed,
                                            "changed_below": seen["changed_below"] or below}
            result["changed"] |= changed or below
        for spec in module.params["files"]:
            if not spec["checksum"]:
                module.fail_json(msg="etcd_member_files: %s has no checksum; run the module through its action "
                                     "plugin (ezops.etcd.etcd_member_files), which sets it" % spec["dest"])
            spec = dict(spec, diff=module._diff and not spec["secret"])
            outcome = install_file(module, spec, module.check_mode)
            if outcome.pop("needs_content"):
                result["needs_content"].append(spec["dest"])
            if "before" in outcome:
                result["diff_before"].append({"dest": spec["dest"], "before": outcome.pop("before")})
            result["files"][spec["dest"]] = outcome
            result["changed"] |= outcome["changed"]
    except (OSError, KeyError, ValueError) as exc:
        module.fail_json(msg="etcd_member_files: %s. Files already installed in this run stay in place; "
                             "run again once it is fixed." % exc, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
