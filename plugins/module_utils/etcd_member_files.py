# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Install a member's directories and files in one module run (module etcd_member_files).

A file whose content already matches is only brought to its owner, group and mode. Content is
written to a private temporary file in the destination's directory, given its owner and mode, then
renamed over the destination: no reader ever sees a half-written file or a key with a wide mode.
"""

from __future__ import annotations

import grp
import os
import pwd
import tempfile

DIFF_LIMIT = 64 * 1024  # larger texts are not shown in a diff


def file_args(path, spec):
    """The arguments AnsibleModule.set_fs_attributes_if_different takes, for a dir or file spec."""
    return {"path": path, "owner": spec.get("owner"), "group": spec.get("group"), "mode": spec.get("mode"),
            "secontext": [None, None, None, None], "attributes": None}


def give_tree(top, owner, group, check_mode):
    """Hand everything below ``top`` to ``owner``/``group`` (symbolic links themselves, never what they
    point to). Returns whether anything changed (or would)."""
    uid = pwd.getpwnam(owner).pw_uid if owner else -1
    gid = grp.getgrnam(group).gr_gid if group else -1
    changed = False
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            if uid not in (-1, st.st_uid) or gid not in (-1, st.st_gid):
                changed = True
                if not check_mode:
                    os.lchown(path, uid, gid)
    return changed


def ensure_dir(module, spec, check_mode):
    """Create ``spec['path']`` (or follow it when it is a link to a directory) and bring it to its owner,
    group and mode; with ``recurse`` also hand what it holds to the owner and group.
    Returns (changed, changed_below)."""
    path = spec["path"]
    changed = False
    if not os.path.isdir(path):
        if os.path.lexists(path):
            raise ValueError("%s exists and is not a directory: move it aside, then run again" % path)
        changed = True
        if check_mode:
            return True, False
        os.makedirs(path)
    # a symbolic link to the directory: the directory it points to gets the owner and mode
    real = os.path.realpath(path)
    changed = module.set_fs_attributes_if_different(file_args(real, spec), changed)
    below = bool(spec.get("recurse")) and give_tree(real, spec.get("owner"), spec.get("group"), check_mode)
    return changed, below


def read_text(path):
    """The text of ``path`` for a diff, or None when it is missing, too large or not text. The module
    reads the file it replaces with it, the action plugin the controller's new file."""
    try:
        if os.path.getsize(path) > DIFF_LIMIT:
            return None
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def write_atomically(module, staged, spec):
    """Put the content of ``staged`` at ``spec['dest']`` with its owner and mode set before the rename."""
    dest = spec["dest"]
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(dest), dir=os.path.dirname(dest))
    try:
        with os.fdopen(fd, "wb") as out, open(staged, "rb") as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        module.set_fs_attributes_if_different(file_args(tmp, spec), False)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def install_file(module, spec, check_mode):
    """Bring one file to its content (when ``staged`` holds it), owner, group and mode.

    Returns a dict: ``changed``, ``needs_content`` (the content differs and was not staged),
    ``backup_file`` and, when ``diff`` is asked and the content differs, ``before``.
    """
    dest = spec["dest"]
    if os.path.isdir(dest):
        raise ValueError("%s is a directory, not a file: move it aside, then run again" % dest)
    outcome = {"changed": False, "needs_content": False}
    if module.sha1(dest) != spec["checksum"]:
        if spec.get("diff"):
            outcome["before"] = read_text(dest) if os.path.exists(dest) else ""
        staged = spec.get("staged")
        if check_mode or not staged:
            outcome.update(changed=check_mode, needs_content=not check_mode)
            return outcome
        if module.sha1(staged) != spec["checksum"]:
            raise ValueError("the content sent for %s arrived damaged (checksum differs): run again" % dest)
        if spec.get("backup") and os.path.exists(dest):
            outcome["backup_file"] = module.backup_local(dest)
        write_atomically(module, staged, spec)
        outcome["changed"] = True
        return outcome
    outcome["changed"] = module.set_fs_attributes_if_different(file_args(dest, spec), False)
    return outcome
