#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_maintenance
short_description: Compact, defragment and disarm alarms of an etcd cluster
version_added: 0.1.0
description:
  - O(action=compact) compacts the key space to the current revision, or to O(revision). It does
    nothing when the key space is already compacted at that revision or later, and refuses a
    revision in the future or a cluster without a leader.
  - O(action=defrag) defragments every endpoint whose database has at least
    O(min_reclaimable_bytes) to reclaim, one at a time, followers first and the leader last
    (defragmenting blocks a member while it runs), after handing the leadership over (O(move_leader)). It refuses, unless O(force=true), when a voting
    member of the cluster does not answer or there is no leader.
  - O(action=disarm) disarms the active alarms when each is of a type listed in O(alarms) (by
    default V(NOSPACE) only); it does nothing when there is none. C(etcdctl alarm disarm) clears
    every alarm at once, so an active V(CORRUPT) alarm makes it refuse unless O(alarms) lists
    V(CORRUPT). It also refuses, unless O(force=true), when a voting member does not answer or
    there is no leader.
  - Every refusal changes nothing, and says so.
author:
  - ezops.etcd developers (@ezops)
extends_documentation_fragment:
  - ezops.etcd.connection
attributes:
  check_mode:
    support: full
    description: Reports what would be compacted, defragmented or disarmed; changes nothing.
  diff_mode:
    support: partial
    description: Compaction and alarms have a before/after; defragmentation reports sizes instead.
options:
  action:
    description: The maintenance to run.
    type: str
    choices: [compact, defrag, disarm]
    required: true
  revision:
    description: With O(action=compact), the revision to compact to; by default the current one.
    type: int
  physical:
    description: With O(action=compact), wait until the compaction is physically applied (C(--physical)).
    type: bool
    default: false
  min_reclaimable_bytes:
    description:
      - With O(action=defrag), defragment only the members whose database file exceeds the data
        in use by at least this many bytes. V(0) defragments every member every time.
    type: int
    default: 1048576
  move_leader:
    description:
      - With O(action=defrag), before the leader is defragmented, hand the leadership to the voting
        member with the highest raft index that answered (C(etcdctl move-leader)), so that writes are
        not blocked while the old leader defragments. Nothing is moved when no other voter answered.
    type: bool
    default: true
  cluster:
    description: With O(action=defrag), defragment every member (their client URLs from the member list), not only O(endpoints).
    type: bool
    default: false
  force:
    description:
      - With O(action=defrag) or O(action=disarm), go on although a member does not answer or the
        cluster has no leader (the RV(reasons) it overrode are returned). With O(action=defrag),
        the endpoints that answer are defragmented.
      - It never makes O(action=disarm) clear an alarm type missing from O(alarms).
    type: bool
    default: false
  alarms:
    description:
      - With O(action=disarm), the alarm types that may be disarmed. The module refuses when an
        active alarm is of another type, since etcd clears every alarm at once.
      - V(CORRUPT) means that members hold different data. Disarm it only after replacing the
        corrupt member, as the recovery runbook C(docs/disaster-recovery.md) describes; the module
        does not check that the members' hashes agree.
    type: list
    elements: str
    choices: [NOSPACE, CORRUPT]
    default: [NOSPACE]
notes:
  - Compact before defragmenting; defragmenting reclaims only the space compaction freed.
  - A V(NOSPACE) alarm comes back at the next write until the database is below the quota
    (C(--quota-backend-bytes)); compact and defragment first, then disarm.
  - The health gates count a member that answers its status as up, since etcd 3.5 reports every
    member unhealthy in C(endpoint health) while an alarm is active.
"""

EXAMPLES = r"""
- name: Free space after a NOSPACE alarm
  block:
    - name: Compact to the current revision
      ezops.etcd.etcd_maintenance:
        action: compact
        physical: true
    - name: Defragment every member, the leader last
      ezops.etcd.etcd_maintenance:
        action: defrag
        cluster: true
    - name: Disarm the alarm
      ezops.etcd.etcd_maintenance:
        action: disarm
"""

RETURN = r"""
action:
  description: The action that ran.
  returned: always
  type: str
revision:
  description: The revision compacted to (null when there was nothing to compact).
  returned: when O(action=compact)
  type: int
current_revision:
  description: The current revision of the key space.
  returned: when O(action=compact)
  type: int
defragmented:
  description: Endpoints defragmented (or that would be, in check mode), in order.
  returned: when O(action=defrag)
  type: list
  elements: str
skipped_endpoints:
  description: Endpoints with less than O(min_reclaimable_bytes) to reclaim.
  returned: when O(action=defrag)
  type: list
  elements: str
failed_endpoints:
  description: Endpoints that did not answer.
  returned: when O(action=defrag)
  type: list
  elements: str
endpoints:
  description: Per endpoint, the sizes before (and after) defragmentation.
  returned: when O(action=defrag)
  type: list
  elements: dict
  contains:
    endpoint: {description: The endpoint., type: str, returned: always}
    id: {description: Member ID in hex., type: str, returned: always}
    is_leader: {description: Whether it is the leader (defragmented last)., type: bool, returned: always}
    db_size_before: {description: Database file size before., type: int, returned: always}
    db_size_in_use: {description: Bytes in use before., type: int, returned: always}
    reclaimable: {description: Bytes defragmentation would reclaim., type: int, returned: always}
    defragmented: {description: Whether it was (or would be) defragmented., type: bool, returned: always}
    db_size_after: {description: Database file size after., type: int, returned: when defragmented}
    leader_moved_to:
      description: ID of the member the leadership was handed to first.
      type: str
      returned: when the leader was defragmented and O(move_leader=true)
alarms:
  description: The alarms active before O(action=disarm).
  returned: when O(action=disarm)
  type: list
  elements: dict
  sample: [{member_id: 8e9e05c52164694d, alarm: NOSPACE}]
disarmed:
  description: The alarm types disarmed (or that would be, in check mode).
  returned: when O(action=disarm)
  type: list
  elements: str
  sample: [NOSPACE]
reasons:
  description: Why the cluster was not healthy enough, which O(force=true) overrode (empty when it was).
  returned: when O(action=defrag) or O(action=disarm)
  type: list
  elements: str
alarms_left:
  description: Alarms still active after disarming.
  returned: when some alarm came back
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_client import (
    connection_argument_spec,
    run_module,
)
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_maintenance_ops import (
    MaintenanceOps,
)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        action=dict(type="str", required=True, choices=["compact", "defrag", "disarm"]),
        revision=dict(type="int"),
        physical=dict(type="bool", default=False),
        min_reclaimable_bytes=dict(type="int", default=1048576),
        cluster=dict(type="bool", default=False),
        move_leader=dict(type="bool", default=True),
        force=dict(type="bool", default=False),
        alarms=dict(type="list", elements="str", default=["NOSPACE"],
                    choices=["NOSPACE", "CORRUPT"]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, lambda client: MaintenanceOps(module, client).run())


if __name__ == "__main__":
    main()
