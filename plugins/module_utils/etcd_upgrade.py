# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Which etcd version changes playbooks/93.upgrade.yml may make (etcd's upgrade policy).

etcd supports patch upgrades within a minor version and minor upgrades one minor at a time, from a
patch level recent enough (the guide names a minimum 3.5 patch before 3.6). A downgrade of a
running cluster is not an upgrade: the data of a newer minor cannot be read by an older one.
"""

from __future__ import annotations

import re

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_version import dotted, parse

# From etcd's "Upgrade etcd from v3.5 to v3.6": every 3.5 member on 3.5.26 or later first.
MIN_BEFORE_MINOR = {"3.6": "3.5.26"}

_BINARY_VERSION = re.compile(r"^etcd Version:\s*v?(\d+\.\d+\.\d+)\s*$", re.MULTILINE)


def binary_version(output):
    """The version `etcd --version` printed ('etcd Version: 3.5.16' ...), or None."""
    match = _BINARY_VERSION.search(output or "")
    return match.group(1) if match else None


def upgrade_problems(running, target, min_before_minor=None):
    """Refusals of an upgrade of the members to ``target``.

    ``running``: {member: the version its etcd reports, or None when it did not answer}.
    -> [{"code": ..., "msg": ...}], [] when every member may go to ``target``.
    """
    floors = dict(MIN_BEFORE_MINOR if min_before_minor is None else min_before_minor)
    wanted = parse(target)
    if wanted is None:
        return [{"code": "upgrade_bad_version",
                 "msg": "The new etcd binary's version is not known (%r): put the etcd, etcdctl (and etcdutl) of "
                        "the release to install in base_dir/bin on the controller." % (target,)}]
    down = sorted(m for m, v in running.items() if parse(v) is None)
    if down:
        return [{"code": "upgrade_member_down",
                 "msg": "%s did not answer with a version: a rolling upgrade needs every member up, since each one "
                        "restarts in turn. Bring it back (playbooks/status.yml shows why), then run this again."
                        % ", ".join(down)}]
    problems = []
    versions = dict((m, parse(v)) for m, v in running.items())
    newer = sorted(m for m, v in versions.items() if v > wanted)
    if newer:
        problems.append({"code": "upgrade_downgrade",
                         "msg": "%s run %s, newer than %s: that is a downgrade, which etcd does not support on a running "
                                "cluster (restore a backup into the older version instead). Put the release to "
                                "install in base_dir/bin." % (", ".join(newer), ", ".join(sorted(set(
                                    dotted(versions[m]) for m in newer))), target)})
    for member, version in sorted(versions.items()):
        if version[0] != wanted[0] or wanted[1] > version[1] + 1:
            problems.append({"code": "upgrade_skips_minor",
                             "msg": "%s runs %s: going to %s skips a minor version, which etcd does not support. "
                                    "Upgrade to %d.%d first (its newest patch release)."
                                    % (member, dotted(version), target, version[0], version[1] + 1)})
        elif wanted[1] == version[1] + 1:
            floor = parse(floors.get("%d.%d" % wanted[:2]))
            if floor and version < floor:
                problems.append({"code": "upgrade_patch_too_low",
                                 "msg": "%s runs %s: etcd's upgrade guide asks for %s or later before %d.%d. "
                                        "Upgrade to %s (or the newest %d.%d release) first."
                                        % (member, dotted(version), dotted(floor), wanted[0], wanted[1], dotted(floor),
                                           version[0], version[1])})
    return problems


def deploy_version_problems(running, target, min_before_minor=None):
    """Refusals of a deploy (02.etcd.yml) that would install ``target`` on members running ``running``.

    Unlike the upgrade, members that do not answer are not checked (a deploy also starts them), and a
    patch downgrade within a minor is allowed (that is how a member is put back after a failed
    upgrade). A minor downgrade, a skipped minor and a minor upgrade from too low a patch are refused.
    """
    up = dict((m, v) for m, v in running.items() if parse(v))
    wanted = parse(target)
    if not up or wanted is None:
        return []
    problems = [p for p in upgrade_problems(up, target, min_before_minor) if p["code"] != "upgrade_downgrade"]
    newer = sorted(m for m, v in up.items() if parse(v)[:2] > wanted[:2])
    if newer:
        problems.insert(0, {
            "code": "deploy_downgrade",
            "msg": "%s run %s, a newer minor release than the %s in base_dir/bin: installing it would stop each member "
                   "for good (an older minor cannot read a newer cluster's data). Nothing was changed. Put the release "
                   "the members run (or a newer one) in base_dir/bin; to go back a minor release, restore a backup "
                   "into the older release (docs/upgrade.md)."
                   % (", ".join(newer), ", ".join(sorted(set(up[m] for m in newer))), target)})
    return problems
