#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_snapshot
short_description: Save, verify and restore etcd snapshots
version_added: 0.1.0
description:
  - O(state=saved) writes a snapshot of the first endpoint that answers to O(path) atomically (a
    temporary file in the same directory, renamed once verified), mode C(0600), and writes a
    C(sha256sum)-style O(path).sha256 beside it. An existing valid snapshot at O(path) is left
    alone unless O(force=true).
  - O(state=status) verifies an existing file and reports on it; it fails on a truncated or corrupt
    file, or one whose sha256 differs from O(checksum) or O(path).sha256.
  - O(state=restored) restores the file into O(data_dir) for one member. It verifies the file
    first, refuses a non-empty target unless O(force=true) (the old directory is then moved aside
    to C(<data_dir>.<timestamp>), never deleted), restores into a temporary directory next to the
    target and moves it in only when the restore succeeded, and does nothing when the target
    already holds a restore of the same snapshot for the same member.
  - Uses C(etcdutl) on etcd 3.5 and later, C(etcdctl) on 3.4.
author:
  - ezops.etcd developers (@ezops)
extends_documentation_fragment:
  - ezops.etcd.connection
attributes:
  check_mode:
    support: full
    description: Verifies and reports what would change, writes nothing.
  diff_mode:
    support: full
    description: What the file or data directory held before and after.
options:
  state:
    description: What to do with the snapshot file.
    type: str
    choices: [saved, status, restored]
    default: saved
  path:
    description: The snapshot file.
    type: path
    required: true
    aliases: [dest]
  checksum:
    description:
      - Expected sha256 (hex) of the file. By default the digest in O(path).sha256 when that file
        exists; the embedded integrity hash is checked in every case.
    type: str
  force:
    description:
      - With O(state=saved), replace an existing file at O(path).
      - With O(state=restored), move a non-empty O(data_dir) (and O(wal_dir)) aside and restore.
    type: bool
    default: false
  data_dir:
    description: Data directory to restore into (kubeasz C(ETCD_DATA_DIR)). Required with O(state=restored).
    type: path
  wal_dir:
    description: Separate WAL directory (kubeasz C(ETCD_WAL_DIR)); by default the WAL stays in O(data_dir).
    type: path
  name:
    description: Name of the member the restore is for (kubeasz C(etcd-<ip>)). Required with O(state=restored).
    type: str
  initial_cluster:
    description:
      - Every member of the restored cluster as C(name=peer_url,...), this one included.
      - Required with O(state=restored).
    type: str
  initial_cluster_token:
    description:
      - Cluster token of the restored cluster. Use a new one for a full-cluster restore so that
        members of the old cluster cannot join it.
    type: str
    default: etcd-cluster-0
  initial_advertise_peer_urls:
    description: Peer URLs of this member; by default its URLs in O(initial_cluster).
    type: list
    elements: str
  bump_revision:
    description:
      - Raise the revision of the restored key space by this much (C(--bump-revision)), so that
        clients with a watch or a cache see the restore. V(0) disables it; use V(0) when
        re-seeding one member into a cluster that keeps quorum.
      - Only applied where the etcd version supports it (3.4.27, 3.5.10 and later); elsewhere the
        module warns.
    type: int
    default: 1000000000
  mark_compacted:
    description: Mark the bumped revision as compacted (C(--mark-compacted)); required by etcd with O(bump_revision).
    type: bool
    default: true
notes:
  - Snapshots hold every Secret of a Kubernetes cluster; keep their directory at mode C(0700).
  - Stop etcd on the member before restoring over its data directory.
"""

EXAMPLES = r"""
- name: Back up (kubeasz layout)
  ezops.etcd.etcd_snapshot:
    state: saved
    path: "/etc/kubeasz/clusters/k8s/backup/snapshot_{{ ansible_date_time.iso8601_basic_short }}.db"

- name: Check a backup before relying on it
  ezops.etcd.etcd_snapshot:
    state: status
    path: /etc/kubeasz/clusters/k8s/backup/snapshot.db
  register: snap

- name: Restore it for one member of a new 3-member cluster
  ezops.etcd.etcd_snapshot:
    state: restored
    path: /etc/kubeasz/clusters/k8s/backup/snapshot.db
    data_dir: /var/lib/etcd
    name: etcd-10.0.0.1
    initial_cluster: >-
      etcd-10.0.0.1=https://10.0.0.1:2380,etcd-10.0.0.2=https://10.0.0.2:2380,etcd-10.0.0.3=https://10.0.0.3:2380
    initial_cluster_token: etcd-cluster-restored-1
    force: true
"""

RETURN = r"""
snapshot:
  description: The verified snapshot.
  returned: success
  type: dict
  contains:
    path: {description: The snapshot file., type: str, returned: always}
    sha256: {description: sha256 of the whole file., type: str, returned: when verified}
    size: {description: Size in bytes., type: int, returned: when verified}
    hash: {description: Hash of the key space as C(snapshot status) reports it., type: int, returned: when verified}
    revision: {description: Revision of the key space., type: int, returned: when verified}
    total_keys: {description: Number of keys., type: int, returned: when verified}
    total_size: {description: Size of the database in the snapshot., type: int, returned: when verified}
    checksum_source: {description: Where the expected sha256 came from (null when none was given)., type: str, returned: when verified}
endpoint:
  description: The endpoint the snapshot was taken from.
  returned: when O(state=saved) took a snapshot
  type: str
data_dir:
  description: The restored data directory.
  returned: when O(state=restored)
  type: str
wal_dir:
  description: The restored WAL directory, or null.
  returned: when O(state=restored)
  type: str
moved_aside:
  description: Where the previous O(data_dir) was moved (null when it was empty or absent).
  returned: when O(state=restored)
  type: str
  sample: /var/lib/etcd.20261122183000
wal_moved_aside:
  description: Where the previous O(wal_dir) was moved, or null.
  returned: when O(state=restored)
  type: str
bump_revision:
  description: The revision bump applied (0 when disabled or unsupported).
  returned: when O(state=restored)
  type: int
mark_compacted:
  description: Whether C(--mark-compacted) was applied.
  returned: when O(state=restored)
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_client import (
    connection_argument_spec,
    run_module,
)
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_snapshot_ops import SnapshotOps


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        state=dict(type="str", default="saved", choices=["saved", "status", "restored"]),
        path=dict(type="path", required=True, aliases=["dest"]),
        checksum=dict(type="str"),
        force=dict(type="bool", default=False),
        data_dir=dict(type="path"),
        wal_dir=dict(type="path"),
        name=dict(type="str"),
        initial_cluster=dict(type="str"),
        initial_cluster_token=dict(type="str", default="etcd-cluster-0", no_log=False),
        initial_advertise_peer_urls=dict(type="list", elements="str"),
        bump_revision=dict(type="int", default=1000000000),
        mark_compacted=dict(type="bool", default=True),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "restored", ("data_dir", "name", "initial_cluster"))],
    )
    run_module(module, lambda client: SnapshotOps(module, client).run())


if __name__ == "__main__":
    main()
