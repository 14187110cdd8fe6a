# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The membership_add_plan and membership_remove_plan filters: the pre-checks of 21.addetcd.yml and
31.deletcd.yml, decided from what etcd_info reports, with messages that show the quorum arithmetic."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_common import fault_tolerance, quorum


def _members(info):
    if not isinstance(info, dict) or not isinstance(info.get("members", []), list):
        raise AnsibleFilterError("membership plans expect the result of ezops.etcd.etcd_info")
    return info.get("members") or []


def _label(member):
    return member.get("name") or "(unstarted) %s" % ",".join(member.get("peer_urls") or [])


def find(members, peer_url, name):
    """The member whose peer URLs include ``peer_url`` exactly, else the one called ``name``.

    Never a substring: https://10.0.0.2:2380 does not match https://10.0.0.21:2380."""
    for member in members:
        if peer_url in (member.get("peer_urls") or []):
            return member
    for member in members:
        if name and member.get("name") == name:
            return member
    return None


def _healthy_ids(info):
    healthy_eps = set(h.get("endpoint") for h in info.get("health") or [] if h.get("health"))
    return set(m["id"] for m in _members(info)
               if set(m.get("client_urls") or []) & healthy_eps)


def _names(members):
    return ", ".join(sorted(_label(m) for m in members)) or "none"


def membership_add_plan(info, peer_url, name, has_data=False):
    """Decide what adding the member ``name`` (``peer_url``) does.

    -> dict: action (none | add | refuse), member (the matching member or None), reasons (why it
    is refused), voters, voters_after, quorum_after, healthy, summary."""
    members = _members(info)
    plan = {"action": "refuse", "member": None, "reasons": [], "voters": 0, "voters_after": 0,
            "quorum_after": 0, "healthy": 0, "summary": ""}
    if not members:
        plan["reasons"].append(
            "no existing member answers (%s): deploy the cluster with playbooks/02.etcd.yml first, or "
            "bring its members back" % (", ".join(info.get("failed_endpoints") or []) or "no endpoint"))
        return plan
    new = find(members, peer_url, name)
    plan["member"] = new
    if new is not None and peer_url not in (new.get("peer_urls") or []):
        plan["reasons"].append(
            "a member named %s exists with other peer URLs (%s): remove it first "
            "(playbooks/31.deletcd.yml)" % (name, ", ".join(new.get("peer_urls") or [])))
        return plan
    if new is not None and new.get("started") and not new.get("is_learner"):
        plan.update(action="none", summary="%s is already a started voting member: nothing to add" % name)
        return plan
    others = [m for m in members if new is None or m["id"] != new["id"]]
    healthy = _healthy_ids(info)
    voters = [m for m in others if not m.get("is_learner")]
    healthy_voters = [m for m in voters if m["id"] in healthy]
    voters_after = len(voters) + 1
    plan.update(voters=len(voters), voters_after=voters_after, quorum_after=quorum(voters_after),
                healthy=len(healthy_voters))
    unstarted = [m for m in others if not m.get("started")]
    sick = [m for m in others if m.get("started") and m["id"] not in healthy]
    learners = [m for m in others if m.get("is_learner")]
    reasons = plan["reasons"]
    if sick or info.get("alarms"):
        reasons.append("every current member must be healthy before one is added; unhealthy: %s%s"
                       % (_names(sick), "; alarms: %s" % info.get("alarms") if info.get("alarms") else ""))
    if unstarted:
        reasons.append("%s %s added but never started: an unstarted voter raises the quorum without "
                       "voting; start it or remove it (playbooks/31.deletcd.yml) first"
                       % (_names(unstarted), "was" if len(unstarted) == 1 else "were"))
    if learners:
        reasons.append("%s %s a learner already (an unfinished add?): etcd allows one learner at a "
                       "time; finish that add or remove it first" % (_names(learners),
                                                                     "is" if len(learners) == 1 else "are"))
    if len(healthy_voters) + 1 < quorum(voters_after):
        reasons.append("with the new member the cluster has %d voting members and needs %d for a quorum, "
                       "but only %d healthy ones plus the new one would vote"
                       % (voters_after, quorum(voters_after), len(healthy_voters)))
    if has_data and (new is None or not new.get("started")):
        reasons.append("the new host already has etcd data (WAL files) although it is not a started member: "
                       "it belongs to an earlier membership or another cluster; move its data dir aside first")
    if not reasons:
        plan["action"] = "add"
        plan["summary"] = (
            "adding %s: %d voting members, all healthy, become %d (quorum %d, tolerating %d failed)%s"
            % (name, len(voters), voters_after, quorum(voters_after), fault_tolerance(voters_after),
               "; resuming an earlier add (the member is listed as %s)"
               % ("a learner" if new.get("is_learner") else "unstarted") if new else ""))
    return plan


def membership_remove_plan(info, peer_url, name, allow_other_unhealthy=False, listed=None, answering=None):
    """Decide what removing the member ``name`` (``peer_url``) does.

    ``listed`` (the hosts the inventory lists as members) and ``answering`` (the endpoint statuses
    of etcd_info without ``cluster``) explain a refusal when the member list cannot be read.
    -> dict: action (none | remove | refuse), member, is_leader, reasons, voters, quorum, healthy,
    voters_after, quorum_after, healthy_after, summary."""
    members = _members(info)
    plan = {"action": "refuse", "member": None, "is_leader": False, "reasons": [], "voters": 0,
            "quorum": 0, "healthy": 0, "voters_after": 0, "quorum_after": 0, "healthy_after": 0,
            "summary": ""}
    if not members:
        listed = sorted(set(listed or []))
        answered = [s.get("endpoint") for s in answering or []]
        led = [s for s in answering or [] if s.get("leader")]
        if listed:
            plan["reasons"].append(
                "the member list cannot be read, which takes a quorum: the inventory lists %d voting members, "
                "which need %d of them (a quorum) to agree on any change, this removal included, but only %d "
                "answer%s (%s)%s" % (len(listed), quorum(len(listed)), len(answered), "s" if len(answered) == 1 else "",
                                     ", ".join(answered) or "none",
                                     "" if led or not answered else " and none of them has a leader"))
        else:
            plan["reasons"].append(
                "no member answers (%s): the membership cannot be read, so nothing can be removed safely"
                % (", ".join(info.get("failed_endpoints") or []) or "no endpoint"))
        return plan
    target = find(members, peer_url, name)
    plan["member"] = target
    if target is None:
        plan.update(action="none", summary="%s (%s) is not a member (members: %s): nothing to remove"
                    % (name, peer_url, _names(members)))
        return plan
    healthy = _healthy_ids(info)
    voters = [m for m in members if not m.get("is_learner")]
    target_votes = not target.get("is_learner")
    remaining = [m for m in voters if m["id"] != target["id"]]
    healthy_voters = [m for m in voters if m["id"] in healthy]
    healthy_remaining = [m for m in remaining if m["id"] in healthy]
    plan.update(is_leader=bool(info.get("leader")) and target["id"] == info.get("leader"),
                voters=len(voters), quorum=quorum(len(voters)), healthy=len(healthy_voters),
                voters_after=len(remaining), quorum_after=quorum(len(remaining)),
                healthy_after=len(healthy_remaining))
    reasons = plan["reasons"]
    if target_votes and len(voters) <= 1:
        reasons.append("%s is the last member: an etcd cluster cannot remove its last member" % _label(target))
        return plan
    if len(healthy_voters) < quorum(len(voters)):
        reasons.append(
            "the cluster has %d voting members and needs %d of them (a quorum) to agree on any change, this "
            "removal included, but only %d %s healthy (%s)"
            % (len(voters), quorum(len(voters)), len(healthy_voters),
               "is" if len(healthy_voters) == 1 else "are", _names(healthy_voters)))
    if len(healthy_remaining) < quorum(len(remaining)):
        reasons.append(
            "after the removal %d voting members would need %d for a quorum, but only %d of them %s healthy"
            % (len(remaining), quorum(len(remaining)), len(healthy_remaining),
               "is" if len(healthy_remaining) == 1 else "are"))
    sick = [m for m in members if m["id"] != target["id"] and m["id"] not in healthy]
    if sick and not allow_other_unhealthy and not reasons:
        reasons.append(
            "the cluster is not healthy: %s %s not answer healthy besides the member to remove; replace "
            "failed members one at a time (docs/membership.md), or set etcd_membership_allow_other_unhealthy=true "
            "to go on while the quorum arithmetic allows it" % (_names(sick), "does" if len(sick) == 1 else "do"))
    if not reasons:
        plan["action"] = "remove"
        plan["summary"] = (
            "removing %s%s: %d voting members (quorum %d) become %d (quorum %d), %d of them healthy%s"
            % (_label(target), " (the leader: leadership moves first)" if plan["is_leader"] else "",
               len(voters), quorum(len(voters)), len(remaining), quorum(len(remaining)),
               len(healthy_remaining), "" if target["id"] in healthy else "; it does not answer and is removed by its peer URL"))
    return plan


class FilterModule:
    def filters(self):
        return {"membership_add_plan": membership_add_plan,
                "membership_remove_plan": membership_remove_plan}
