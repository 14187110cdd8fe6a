#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_member
short_description: Add, promote and remove etcd cluster members, safely and idempotently
version_added: 0.1.0
description:
  - O(state=present) adds a member by O(name) and O(peer_urls) (as a learner by default), does
    nothing when a member with those peer URLs exists, and updates the peer URLs of the member
    called O(name) when they differ.
  - An update has the health gate of a removal. It refuses, unless O(force=true), when the cluster
    has no leader, when another voting member does not answer or reports unhealthy, or when the
    voting members the others can still reach would fall short of the quorum (a voter counts as
    unreachable until it listens on its new URLs, unless it keeps all its old ones).
  - O(name) must be non-empty without spaces, commas or V(=), and every peer URL needs a scheme, a
    host and a port; bad values fail before any command runs.
  - O(state=promoted) promotes a learner to a voting member once it has caught up with the leader,
    waiting up to O(wait_timeout) seconds.
  - O(state=absent) removes a member found by O(id), O(peer_urls) or O(name). It refuses when the
    cluster is unhealthy or when the removal would leave fewer healthy voting members than the
    quorum of the smaller cluster, unless O(force=true). When the member is the leader, leadership
    moves to the most up-to-date healthy voter first.
author:
  - ezops.etcd developers (@ezops)
extends_documentation_fragment:
  - ezops.etcd.connection
attributes:
  check_mode:
    support: full
    description: Reports what would change, runs the same safety checks, changes nothing.
  diff_mode:
    support: full
    description: The member list before and after.
options:
  state:
    description: What the member should be.
    type: str
    choices: [present, promoted, absent]
    default: present
  name:
    description:
      - Member name (C(--name) of the etcd process; kubeasz uses C(etcd-<ip>)).
      - Required with O(state=present).
    type: str
  peer_urls:
    description:
      - Peer URLs of the member. Required with O(state=present).
    type: list
    elements: str
  id:
    description: Member ID in hex, to find the member for O(state=promoted) or O(state=absent).
    type: str
  learner:
    description:
      - Add the member as a non-voting learner, to be promoted with O(state=promoted) once it has
        caught up. A voter that never starts raises the quorum; a learner does not.
      - Defaults to V(true) on etcd 3.4 and later (every supported version).
    type: bool
  force:
    description:
      - With O(state=absent), remove even when the cluster is unhealthy or the removal breaks the
        quorum. The last voting member is never removed.
      - With O(state=present), update the peer URLs of a member even when the cluster is unhealthy
        or the update may cost the quorum until the member listens on its new URLs.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for a learner to catch up (O(state=promoted)), for leadership to move
        (O(state=absent)) and for a cluster that has just started to accept membership changes.
    type: int
    default: 60
notes:
  - etcd allows one learner at a time by default; promote or remove it before adding the next.
  - A new member must then start with C(--initial-cluster-state=existing) and the
    RV(initial_cluster) this module returns.
"""

EXAMPLES = r"""
- name: Add a member as a learner
  ezops.etcd.etcd_member:
    name: etcd-10.0.0.4
    peer_urls: ["https://10.0.0.4:2380"]
  register: added
  delegate_to: 10.0.0.1

- name: Promote it once its etcd runs
  ezops.etcd.etcd_member:
    name: etcd-10.0.0.4
    state: promoted
    wait_timeout: 120
  delegate_to: 10.0.0.1

- name: Remove a member, refusing to break the quorum
  ezops.etcd.etcd_member:
    name: etcd-10.0.0.2
    state: absent
  delegate_to: 10.0.0.1
"""

RETURN = r"""
member:
  description: The member concerned, after the change (before it, with O(state=absent)).
  returned: when the member exists or is added
  type: dict
  contains:
    id: {description: Member ID in hex (null when check mode would add it)., type: str, returned: always}
    name: {description: Member name (empty until it starts)., type: str, returned: always}
    peer_urls: {description: Peer URLs., type: list, elements: str, returned: always}
    client_urls: {description: Client URLs (empty until it starts)., type: list, elements: str, returned: always}
    is_learner: {description: Whether it is a learner., type: bool, returned: always}
    started: {description: Whether it has started., type: bool, returned: always}
members_before:
  description: The member list before the module ran.
  returned: success
  type: list
  elements: dict
members_after:
  description: The member list after the module ran (as it would be, in check mode).
  returned: success
  type: list
  elements: dict
initial_cluster:
  description: The C(--initial-cluster) value the member must start with (O(state=present)).
  returned: when O(state=present)
  type: str
  sample: etcd-10.0.0.1=https://10.0.0.1:2380,etcd-10.0.0.4=https://10.0.0.4:2380
leader_moved_to:
  description: ID (hex) of the member that took over leadership before the removal.
  returned: when O(state=absent) removed the leader
  type: str
reasons:
  description: Why the removal or peer URL update is unsafe (what O(force=true) overrode, or why
    it was refused).
  returned: when O(state=absent), or O(state=present) updated peer URLs
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_client import (
    connection_argument_spec,
    run_module,
)
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_member_ops import MemberOps


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        state=dict(type="str", default="present", choices=["present", "promoted", "absent"]),
        name=dict(type="str"),
        peer_urls=dict(type="list", elements="str"),
        id=dict(type="str"),
        learner=dict(type="bool"),
        force=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=60),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ("name", "peer_urls"))],
        required_one_of=[("name", "peer_urls", "id")],
    )
    run_module(module, lambda client: MemberOps(module, client).run())


if __name__ == "__main__":
    main()
