# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What a deploy refuses before it changes anything: members, data and WAL paths, the service
account, extra flags and TLS settings (controller side), and what the hosts hold at those paths
(host side, from read-only facts).

The install chowns the data and WAL dirs recursively and points the unit at them, so a wrong path
(``ETCD_DATA_DIR=/var/lib``) or a foreign account must be refused before the first task that
changes a host. Pure functions: a problem is ``{"code": ..., "msg": ...}``; the first problem's
code is the refusal's code.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_aside import is_aside_name
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_common import fault_tolerance, quorum
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_flags import (
    extra_args_problems,
    metrics_url_problems,
    problem,
    tls_problems,
)

# Directories that are never a dedicated etcd directory themselves.
SYSTEM_DIRS = frozenset((
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt",
    "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib",
    "/usr/local", "/usr/local/bin", "/usr/sbin", "/usr/share", "/var", "/var/backups", "/var/cache",
    "/var/lib", "/var/local", "/var/lock", "/var/log", "/var/mail", "/var/opt", "/var/run", "/var/spool",
    "/var/tmp", "/etc/kubernetes", "/etc/systemd", "/etc/systemd/system",
))
# Trees that belong to the OS or are emptied at boot: no etcd data anywhere under them.
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin",
                "/sys", "/tmp", "/usr", "/var/lock", "/var/run", "/var/tmp")
# What an etcd data dir and a dedicated WAL dir may hold (lost+found: a dedicated file system).
DATA_DIR_ENTRIES = frozenset(("member", "lost+found"))
WAL_DIR_SUFFIXES = (".wal", ".tmp")
NOLOGIN_SHELLS = frozenset(("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/nologin"))
PRIVILEGED_GROUPS = frozenset(("root", "wheel", "sudo", "adm", "admin", "shadow", "disk", "docker", "systemd-journal"))
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/@+=:-]*$")
_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")

_FIX_DATA_DIR = "Set ETCD_DATA_DIR to a dedicated directory such as /var/lib/etcd"
_NOTHING = "Nothing was changed on any host."


def normalized(path):
    """The canonical form of an absolute path: no //, ., .. or trailing slash."""
    norm = posixpath.normpath(path)
    return "/" + norm.lstrip("/")


def _inside(path, parent):
    """Whether ``path`` is ``parent`` or below it (both normalized)."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def path_problems(data_dir, wal_dir="", protected=None):
    """What is wrong with the data and WAL dirs.

    ``protected``: label -> path of directories the role also manages (bin dir, ca dir, /etc/etcd):
    a data or WAL dir may not be one of them, above them or below them.
    """
    problems = []
    paths = [("data_dir", "ETCD_DATA_DIR", data_dir, _FIX_DATA_DIR)]
    if wal_dir:
        paths.append(("wal_dir", "ETCD_WAL_DIR", wal_dir,
                      "Set ETCD_WAL_DIR to a dedicated directory such as /var/lib/etcd-wal, or to \"\" for none"))
    checked = {}
    for field, label, path, fix in paths:
        if not isinstance(path, str) or not path.strip():
            problems.append(problem("%s_empty" % field, "%s is empty. %s. %s" % (label, fix, _NOTHING)))
            continue
        if not path.startswith("/"):
            problems.append(problem("%s_relative" % field, "%s=%s is not an absolute path (it would be resolved "
                                    "against the working directory of each task). %s. %s" % (label, path, fix, _NOTHING)))
            continue
        if not _SAFE_PATH.match(path):
            problems.append(problem("%s_invalid" % field, "%s=%r has characters that a systemd unit would read as "
                                    "separators or specifiers (spaces, %%, quotes, backslashes...). %s. %s"
                                    % (label, path, fix, _NOTHING)))
            continue
        norm = normalized(path)
        if norm != path:
            problems.append(problem("%s_not_normalized" % field, "%s=%s is not written in its plain form. Write it as "
                                    "%s. %s" % (label, path, norm, _NOTHING)))
            continue
        if path in SYSTEM_DIRS:
            problems.append(problem("%s_system" % field, "%s=%s is a system directory: the install would hand it and "
                                    "everything in it to the etcd user. %s. %s" % (label, path, fix, _NOTHING)))
            continue
        tree = [top for top in SYSTEM_TREES if _inside(path, top)]
        if tree:
            problems.append(problem("%s_system" % field, "%s=%s is under %s, which belongs to the OS or is emptied at "
                                    "boot. %s. %s" % (label, path, tree[0], fix, _NOTHING)))
            continue
        overlaps = [("%s (%s)" % (name, other)) for name, other in sorted((protected or {}).items())
                    if other and other.startswith("/")
                    and (_inside(normalized(other), path) or _inside(path, normalized(other)))]
        if overlaps:
            problems.append(problem("%s_overlaps" % field, "%s=%s contains or lies inside %s, which the role manages "
                                    "separately. %s. %s" % (label, path, ", ".join(overlaps), fix, _NOTHING)))
            continue
        checked[field] = path
    if "data_dir" in checked and "wal_dir" in checked:
        data, wal = checked["data_dir"], checked["wal_dir"]
        if data == wal:
            problems.append(problem("wal_dir_is_data_dir", "ETCD_WAL_DIR is the data dir (%s). Set ETCD_WAL_DIR to a "
                                    "directory of its own (for example %s-wal), or to \"\" for none. %s"
                                    % (data, data, _NOTHING)))
        elif _inside(wal, data) or _inside(data, wal):
            problems.append(problem("wal_dir_overlaps", "ETCD_WAL_DIR=%s and ETCD_DATA_DIR=%s lie one inside the other. "
                                    "Give the WAL a directory of its own beside the data dir (for example %s-wal). %s"
                                    % (wal, data, data, _NOTHING)))
    return problems


def account_problems(user, group):
    """The service account etcd runs as: a plain, unprivileged system account name."""
    problems = []
    if user in ("root", "0") or group in ("root", "0"):
        problems.append(problem("service_user_root", "etcd_user=%s, etcd_group_name=%s: etcd must not run as root or "
                                "with the root group. Leave etcd_user and etcd_group_name at etcd. %s"
                                % (user, group, _NOTHING)))
        return problems
    if not isinstance(user, str) or not _ACCOUNT.match(user):
        problems.append(problem("service_user_invalid", "etcd_user=%r is not a valid system account name. Use a plain "
                                "lower-case name such as etcd. %s" % (user, _NOTHING)))
    if not isinstance(group, str) or not _ACCOUNT.match(group):
        problems.append(problem("service_user_invalid", "etcd_group_name=%r is not a valid group name. Use a plain "
                                "lower-case name such as etcd. %s" % (group, _NOTHING)))
    elif group in PRIVILEGED_GROUPS:
        problems.append(problem("service_group_privileged", "etcd_group_name=%s is a privileged group: its members "
                                "would read the member's key and data. Use a group of its own such as etcd. %s"
                                % (group, _NOTHING)))
    return problems


def member_problems(names, addresses=None, ports=None):
    """The [etcd] group: not empty, every member listed by its IPv4 address, no machine twice.

    ``addresses``/``ports``: each member's ansible_host/ansible_port (None when unset), in order.
    """
    if not names:
        return [problem("etcd_group_empty", "The inventory has no hosts in [etcd]. List the etcd hosts' addresses "
                        "under [etcd] (kubeasz format: one IP per line) and run again.")]
    problems = []
    addresses = list(addresses or [None] * len(names))
    ports = list(ports or [None] * len(names))
    for name in names:
        try:
            ipaddress.IPv4Address(str(name))
        except ValueError:
            problems.append(problem("member_address_not_ip", "[etcd] lists %s, which is not an IPv4 address: the peer "
                                    "and client URLs and the certificate are made from it (kubeasz format). List the "
                                    "member by its IPv4 address, with ansible_host=%s if you connect to it by name. %s"
                                    % (name, name, _NOTHING)))
    seen = {}
    for name, address, port in zip(names, addresses, ports):
        target = (str(address or name), str(port or ""))
        if target in seen:
            problems.append(problem("member_host_duplicate", "[etcd] lists %s and %s, which both connect to %s: two "
                                    "members on one machine would overwrite each other's files. List each machine "
                                    "once. %s" % (seen[target], name, ":".join(part for part in target if part), _NOTHING)))
        else:
            seen[target] = name
    return problems


def member_count_warning(group, count):
    """A warning for an even number of members (they tolerate no more failures than one member fewer
    and add write latency), or "" for an odd one."""
    if count <= 0 or count % 2:
        return ""
    return ("WARNING: [%s] has %d members. An even count tolerates no more failures than one member fewer "
            "(%d members need %d for a quorum and tolerate %d down, like %d) and adds write latency: use 3 or 5."
            % (group, count, count, quorum(count), fault_tolerance(count), count - 1))


def deploy_problems(settings):
    """Every controller-side problem of a deploy, in a fixed order (members, paths, account, flags).

    ``settings`` keys: members, member_addresses, member_ports, data_dir, wal_dir, protected_dirs,
    user, group, extra_args, extra_args_allow_insecure, version, tls_min_version, tls_max_version,
    cipher_suites, metrics_urls.
    """
    problems = member_problems(settings.get("members") or [], settings.get("member_addresses"),
                               settings.get("member_ports"))
    problems += path_problems(settings.get("data_dir"), settings.get("wal_dir") or "", settings.get("protected_dirs"))
    problems += account_problems(settings.get("user"), settings.get("group"))
    problems += tls_problems(settings.get("version"), settings.get("tls_min_version"),
                             settings.get("tls_max_version") or "", settings.get("cipher_suites"))
    problems += metrics_url_problems(settings.get("metrics_urls"))
    problems += extra_args_problems(settings.get("extra_args"), settings.get("version"),
                                    bool(settings.get("extra_args_allow_insecure")))
    return problems


def host_problems(host, data_dir, wal_dir, user, passwd, dirs):
    """What a host holds that a deploy must not take over.

    passwd: the getent passwd fields of ``user`` ([password, uid, gid, gecos, home, shell]) or None.
    dirs: path -> {"exists": bool, "isdir": bool, "entries": [names]} for the data and WAL dirs.
    """
    problems = []
    for path, label, wal in ((data_dir, "ETCD_DATA_DIR", False), (wal_dir, "ETCD_WAL_DIR", True)):
        if not path:
            continue
        state = (dirs or {}).get(path) or {}
        if not state.get("exists"):
            continue
        field = "wal_dir" if wal else "data_dir"
        if not state.get("isdir"):
            problems.append(problem("%s_not_a_directory" % field, "%s: %s=%s exists and is not a directory. Move it "
                                    "aside, or set %s to another path. %s" % (host, label, path, label, _NOTHING)))
            continue
        # what ezops.etcd moved aside inside a mount point is etcd's own data
        entries = sorted(name for name in state.get("entries") or [] if not is_aside_name(name))
        if wal:
            foreign = [name for name in entries if name != "lost+found" and not name.endswith(WAL_DIR_SUFFIXES)]
        else:
            foreign = [name for name in entries if name not in DATA_DIR_ENTRIES]
        if foreign:
            shown = ", ".join(foreign[:5]) + (" and %d more" % (len(foreign) - 5) if len(foreign) > 5 else "")
            problems.append(problem("%s_not_dedicated" % field, "%s: %s=%s holds %s, which is not etcd's (etcd keeps "
                                    "%s): the directory belongs to something else and the install would hand it to "
                                    "the etcd user. Set %s to a dedicated directory (empty or etcd's own). %s"
                                    % (host, label, path, shown, "*.wal files" if wal else "only member/", label,
                                       _NOTHING)))
    if passwd:
        fields = (list(passwd) + [""] * 6)[:6]
        uid, home, shell = fields[1], fields[4], fields[5]
        if str(uid) == "0":
            problems.append(problem("service_user_root", "%s: the account %s has uid 0 (root). Set etcd_user to an "
                                    "account of its own such as etcd. %s" % (host, user, _NOTHING)))
        else:
            reasons = []
            if shell not in NOLOGIN_SHELLS:
                reasons.append("a login shell (%s)" % (shell or "/bin/sh"))
            if normalized(home or "/") != normalized(data_dir or "/"):
                reasons.append("its home at %s, not at %s" % (home, data_dir))
            if reasons:
                problems.append(problem("service_user_foreign", "%s: the account %s already exists with %s: it is "
                                        "someone else's account, and etcd would run as it and own its data. Set "
                                        "etcd_user (and etcd_group_name) to an account of its own; if %s is etcd's own "
                                        "account, give it the shell /usr/sbin/nologin and the home %s (usermod -s "
                                        "/usr/sbin/nologin -d %s %s). %s"
                                        % (host, user, " and ".join(reasons), user, data_dir, data_dir, user, _NOTHING)))
    return problems


# The comment every unit this collection writes carries (roles/etcd/templates/etcd.service.j2), and
# the line that says so in the units of releases before it.
UNIT_MARKER = "ezops.etcd: written by roles/etcd"
EARLIER_UNIT_MARKER = "# Bootstrap settings (ETCD_INITIAL_CLUSTER*) live in"


def foreign_changes(host, unit_text, data_rehomed, dirs, user):
    """What another tool changed on a member since this collection last deployed it -> [note].

    ``unit_text`` is the unit as installed before this run (None when there was none);
    ``data_rehomed`` whether handing ``dirs`` recursively to ``user`` changed anything. A note says
    what happened, that this run repaired it, and what to use next time."""
    notes = []
    if unit_text is not None and UNIT_MARKER not in unit_text and EARLIER_UNIT_MARKER not in unit_text:
        notes.append(
            "%s: the etcd unit was not written by ezops.etcd: kubeasz's 02.etcd.yml, and ezctl add-etcd and ezctl "
            "del-etcd (which run it with -t restart_etcd), write kubeasz's unit on every member, running etcd as root. "
            "This run wrote this collection's unit back and restarts the members one at a time, the leader last. "
            "Use playbooks/21.addetcd.yml and playbooks/31.deletcd.yml instead of ezctl add-etcd and del-etcd." % host)
    if data_rehomed:
        notes.append(
            "%s: files in %s were not owned by %s: written as root, by ezctl restore or by etcd run from kubeasz's "
            "unit. etcd runs as %s and cannot read them (a member restored by ezctl restore stays down), so this "
            "run handed them to %s. Use playbooks/95.restore.yml instead of ezctl restore."
            % (host, " and ".join(dirs), user, user, user))
    return notes
