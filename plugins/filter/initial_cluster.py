# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The initial_cluster filter: etcd's --initial-cluster value from a live member list."""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError


def initial_cluster(members, self_name=None, self_peer_url=None):
    """Return ``name=peer_url,...`` sorted by name for the members etcd reports.

    A member that was added but never started has no name yet: it gets ``self_name`` when its
    peer URL is ``self_peer_url`` and otherwise kubeasz's ``etcd-<host of its peer URL>``.
    """
    if not isinstance(members, list):
        raise AnsibleFilterError("initial_cluster expects the list of members that etcd_info returns")
    pairs = []
    for member in members:
        peer_urls = member.get("peer_urls") or []
        if not peer_urls:
            raise AnsibleFilterError("member %s has no peer URL" % member.get("id", "?"))
        peer_url = peer_urls[0]
        name = member.get("name") or ""
        if not name:
            name = self_name if (self_peer_url and self_peer_url in peer_urls) else "etcd-%s" % urlsplit(peer_url).hostname
        pairs.append((name, peer_url))
    return ",".join("%s=%s" % pair for pair in sorted(pairs))


class FilterModule:
    def filters(self):
        return {"initial_cluster": initial_cluster}
