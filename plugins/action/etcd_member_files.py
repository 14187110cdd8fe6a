# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The etcd_member_files action: checksum on the controller, send only what differs.

The first module run gets each file's SHA-1 and installs nothing it has not got; it answers which
contents differ. Only those are sent (into the connection's temporary directory) and a second run
installs them. A run with nothing to change costs one module run for all directories and files.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.hashing import checksum, checksum_s

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_member_files import read_text

MODULE = "ezops.etcd.etcd_member_files"


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _VALID_ARGS = frozenset(("dirs", "files"))

    def _sources(self, files):
        """Each file spec without its content, with its checksum; and where its content comes from."""
        specs, sources = [], []
        for spec in files:
            if not isinstance(spec, dict) or not spec.get("dest"):
                raise AnsibleActionFail("etcd_member_files: every item of files needs a dest, not %r" % (spec,))
            if ("src" in spec) == ("content" in spec):
                raise AnsibleActionFail("etcd_member_files: %s needs exactly one of src and content" % spec["dest"])
            if "src" in spec:
                try:
                    path = self._find_needle("files", spec["src"])
                except AnsibleError:
                    path = None
                digest = checksum(path) if path else None
                if digest is None and spec.get("optional"):
                    continue
                if digest is None:
                    raise AnsibleActionFail("etcd_member_files: %s (for %s) is not a readable file on the controller. "
                                            "Nothing was changed on this host." % (spec["src"], spec["dest"]))
                sources.append(("path", path))
            else:
                digest = checksum_s(spec["content"])
                sources.append(("text", spec["content"]))
            specs.append(dict({k: v for k, v in spec.items() if k not in ("src", "content", "optional")}, checksum=digest))
        return specs, sources

    def _diff(self, specs, sources, befores):
        index = {spec["dest"]: n for n, spec in enumerate(specs)}
        diffs = []
        for entry in befores:
            kind, value = sources[index[entry["dest"]]]
            after = value if kind == "text" else read_text(value)
            if entry["before"] is not None and after is not None:
                diffs.append({"before_header": entry["dest"], "after_header": entry["dest"],
                              "before": entry["before"], "after": after})
        return diffs

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dirs = self._task.args.get("dirs") or []
        specs, sources = self._sources(self._task.args.get("files") or [])
        try:
            first = self._execute_module(MODULE, module_args={"dirs": dirs, "files": specs}, task_vars=task_vars)
            result.update(first)
            result.pop("diff_before", None)
            if first.get("failed"):
                return result
            if self._task.diff:
                result["diff"] = self._diff(specs, sources, first.get("diff_before", []))
            wanted = set(first.get("needs_content", []))
            if not wanted:
                return result
            tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
            staged_specs, remote_paths = [], []
            for number, (spec, (kind, value)) in enumerate(zip(specs, sources)):
                if spec["dest"] not in wanted:
                    continue
                remote = self._connection._shell.join_path(tmpdir, "content%d" % number)
                if kind == "path":
                    self._transfer_file(value, remote)
                else:
                    self._transfer_data(remote, value)
                remote_paths.append(remote)
                staged_specs.append(dict(spec, staged=remote))
            self._fixup_perms2([tmpdir] + remote_paths, execute=False)
            second = self._execute_module(MODULE, module_args={"files": staged_specs}, task_vars=task_vars)
            if second.get("failed"):
                result.update(failed=True, msg=to_text(second.get("msg")))
            result["files"].update(second.get("files", {}))
            result["changed"] = bool(first.get("changed") or second.get("changed"))
            result["needs_content"] = second.get("needs_content", [])
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
