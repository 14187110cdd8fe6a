#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_info
short_description: Report the members, status, health and alarms of an etcd cluster
version_added: 0.1.0
description:
  - Reads, and never changes, the state of an etcd cluster through C(etcdctl -w json).
  - Reports members (with the learner flag), the status of every endpoint (version, database size,
    leader, raft term and indexes, errors), health, alarms, the cluster ID and which endpoints did
    not answer.
  - Endpoints that do not answer are reported in RV(failed_endpoints); the module fails only when
    none answers, unless O(fail_on_unreachable=false).
author:
  - ezops.etcd developers (@ezops)
extends_documentation_fragment:
  - ezops.etcd.connection
attributes:
  check_mode:
    support: full
    description: The module never changes anything; it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
options:
  cluster:
    description:
      - Query the client URLs of every member (from the member list) instead of only O(endpoints).
    type: bool
    default: false
  fail_on_unreachable:
    description:
      - Fail when no endpoint answers. With V(false), return RV(healthy=false) and the errors.
    type: bool
    default: true
  wait_cluster_version:
    description:
      - A release such as V(3.5.16). Wait until every endpoint that answered reports the cluster
        version of its major.minor (V(3.5.0)), as etcd's leader raises it a few seconds after the
        last member runs the new release. Sets RV(cluster_versions) and RV(cluster_version_reached);
        the module does not fail when the wait times out.
    type: str
  wait_timeout:
    description:
      - Seconds to wait for O(wait_cluster_version).
    type: int
    default: 60
  served_certificates:
    description:
      - Also read the certificate each answering https endpoint serves (a TLS handshake verified
        against O(cacert)), in RV(served_certificates).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the cluster state through the local member (kubeasz paths)
  ezops.etcd.etcd_info:
  register: etcd

- name: Ask every member, with explicit TLS files
  ezops.etcd.etcd_info:
    endpoints: ["https://10.0.0.1:2379"]
    cluster: true
    cacert: /etc/kubernetes/ssl/ca.pem
    cert: /etc/kubernetes/ssl/etcd.pem
    key: /etc/kubernetes/ssl/etcd-key.pem
  register: etcd

- name: Stop unless the cluster is healthy
  ansible.builtin.assert:
    that: etcd.healthy
    fail_msg: "etcd unhealthy, no answer from {{ etcd.failed_endpoints }}"
"""

RETURN = r"""
cluster_id:
  description: The cluster ID in hex, as etcdctl prints it.
  returned: when an endpoint answered
  type: str
  sample: 9a1b2c3d4e5f6071
members:
  description: The members of the cluster.
  returned: always
  type: list
  elements: dict
  contains:
    id: {description: Member ID in hex., type: str, returned: always}
    name: {description: Member name (empty until a new member first starts)., type: str, returned: always}
    peer_urls: {description: Peer URLs., type: list, elements: str, returned: always}
    client_urls: {description: Client URLs (empty until the member starts)., type: list, elements: str, returned: always}
    is_learner: {description: Whether the member is a non-voting learner., type: bool, returned: always}
    started: {description: Whether the member has started (it has a name or client URLs)., type: bool, returned: always}
  sample:
    - {id: 8e9e05c52164694d, name: etcd-10.0.0.1, peer_urls: ["https://10.0.0.1:2380"],
       client_urls: ["https://10.0.0.1:2379"], is_learner: false, started: true}
endpoints:
  description: Status of every endpoint that answered.
  returned: always
  type: list
  elements: dict
  contains:
    endpoint: {description: The endpoint as queried., type: str, returned: always}
    id: {description: ID (hex) of the member behind the endpoint., type: str, returned: always}
    version: {description: etcd server version., type: str, returned: always}
    db_size: {description: Size of the backend database file in bytes., type: int, returned: always}
    db_size_in_use: {description: Bytes of the database in use (the rest is reclaimable by defrag)., type: int, returned: always}
    leader: {description: ID (hex) of the leader this member follows., type: str, returned: always}
    is_leader: {description: Whether this member is the leader., type: bool, returned: always}
    is_learner: {description: Whether this member is a learner., type: bool, returned: always}
    revision: {description: Current revision of the key space., type: int, returned: always}
    raft_term: {description: Raft term., type: int, returned: always}
    raft_index: {description: Raft index., type: int, returned: always}
    raft_applied_index: {description: Raft applied index., type: int, returned: always}
    errors: {description: Errors the member reports (for example an active alarm)., type: list, elements: str, returned: always}
health:
  description: Health of every endpoint.
  returned: always
  type: list
  elements: dict
  contains:
    endpoint: {description: The endpoint., type: str, returned: always}
    health: {description: Whether it served a quorum read., type: bool, returned: always}
    took: {description: Duration of the check., type: str, returned: when it answered}
    error: {description: Why it is unhealthy., type: str, returned: always}
alarms:
  description: Active alarms (V(NOSPACE), V(CORRUPT)).
  returned: always
  type: list
  elements: dict
  sample: [{member_id: 8e9e05c52164694d, alarm: NOSPACE}]
failed_endpoints:
  description: Endpoints that did not answer (an endpoint that answers but reports unhealthy is in
    RV(health) only).
  returned: always
  type: list
  elements: str
failed_reasons:
  description: Why each endpoint of RV(failed_endpoints) failed.
  returned: always
  type: dict
healthy:
  description:
    - Every endpoint answered and is healthy, there is a leader and no alarm is active.
    - A learner cannot serve the quorum read of a health check; it counts here when it answers its
      status and follows the leader (its RV(health) entry stays false).
  returned: always
  type: bool
readable:
  description:
    - Every endpoint answered and follows the leader, and the only problem is a V(NOSPACE) alarm if
      any (etcd 3.5 fails every health check while an alarm is active). A snapshot, which is a read,
      works then; RV(healthy) is false. A V(CORRUPT) alarm makes it false.
  returned: always
  type: bool
leader:
  description: ID (hex) of the leader, or null.
  returned: always
  type: str
version:
  description: The lowest etcd server version among the endpoints that answered.
  returned: always
  type: str
  sample: 3.5.16
revision:
  description: The highest current revision among the endpoints that answered.
  returned: always
  type: int
cluster_versions:
  description: The cluster version each answering endpoint reported last (null when it did not).
  returned: when O(wait_cluster_version) is set
  type: dict
  sample: {"https://10.0.0.1:2379": "3.5.0"}
served_certificates:
  description:
    - Per answering https endpoint, the certificate it serves now (C(subject) and C(issuer) common
      names, C(serial) in lower-case hex, C(not_after) in seconds since the epoch, C(sans)), or C(error).
  returned: when O(served_certificates=true)
  type: dict
  sample: {"https://10.0.0.1:2379": {"subject": "etcd", "issuer": "kubernetes", "serial": "1f3a",
           "not_after": 2080000000, "sans": ["IP Address:10.0.0.1"]}}
cluster_version_reached:
  description: Whether every answering endpoint reported the cluster version of O(wait_cluster_version).
  returned: when O(wait_cluster_version) is set
  type: bool
errors:
  description: Queries that failed although some endpoint answered (for example the member list
    on a member without quorum).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_client import (
    connection_argument_spec,
    run_module,
)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        cluster=dict(type="bool", default=False),
        fail_on_unreachable=dict(type="bool", default=True),
        wait_cluster_version=dict(type="str"),
        wait_timeout=dict(type="int", default=60),
        served_certificates=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)

    def info(client):
        result = client.cluster_info(cluster=module.params["cluster"],
                                     fail_on_unreachable=module.params["fail_on_unreachable"])
        wanted = module.params["wait_cluster_version"]
        if wanted:
            answering = [status["endpoint"] for status in result["endpoints"]]
            result["cluster_version_reached"], result["cluster_versions"] = client.wait_cluster_version(
                wanted, answering, max(0, module.params["wait_timeout"]))
        if module.params["served_certificates"]:
            result["served_certificates"] = client.served_certificates(
                [status["endpoint"] for status in result["endpoints"]])
        result["changed"] = False
        return result

    run_module(module, info)


if __name__ == "__main__":
    main()
