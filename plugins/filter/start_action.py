# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The start_action filter: how a member that is not running may start, from the live cluster."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

ACTIONS = ("running", "resumed", "bootstrap", "join", "refuse-lost-data", "refuse-not-member")


def start_action(live_members, peer_url, has_data, was_active, any_member_has_data):
    """Decide one of ACTIONS for a member.

    live_members: the members the running cluster reports ([] when none runs).
    A member with data runs (or is resumed) on its own data. Without data it bootstraps only when
    no member anywhere has data and no cluster runs; it joins when the cluster lists its peer URL
    as added but never started (no name yet). A started member without data lost its data dir:
    starting it as "new" would split off a one-member cluster, so it is refused, as is a host
    that the cluster does not list at all.
    """
    if not isinstance(live_members, list):
        raise AnsibleFilterError("start_action expects the members list of etcd_info")
    if has_data:
        return "running" if was_active else "resumed"
    if not live_members and not any_member_has_data:
        return "bootstrap"
    listed = [member for member in live_members if peer_url in (member.get("peer_urls") or [])]
    if not listed:
        return "refuse-not-member"
    return "join" if not listed[0].get("name") else "refuse-lost-data"


class FilterModule:
    def filters(self):
        return {"start_action": start_action}
