# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What ezops.etcd.etcd_member does, on top of EtcdClient and the pure decisions."""

from __future__ import annotations

import time

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_common import (
    EtcdError,
    EtcdMemberNotFound,
    EtcdRefused,
    EtcdTimeout,
    config_error,
    error_matches,
    find_member,
    initial_cluster_for,
    member_key,
    member_name_problems,
    member_summary,
    parse_member_add,
    pick_new_leader,
    plan_present,
    plan_removal,
    plan_update,
    split_endpoints,
    url_problems,
)
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_version import at_least

NOT_IN_SYNC = "in sync with leader"
UNHEALTHY = "unhealthy cluster"
TOO_MANY_LEARNERS = "too many learner members"


class MemberOps(object):
    def __init__(self, module, client, sleep=time.sleep):
        self.module = module
        self.client = client
        self.params = module.params
        self.check_mode = module.check_mode
        self.sleep = sleep

    def run(self):
        problems = self.input_problems()
        if problems:
            raise config_error(problems)
        _cluster_id, before = self.client.members()
        by_state = {"present": self._present, "promoted": self._promoted, "absent": self._absent}
        result = by_state[self.params["state"]](before)
        after = result.setdefault("members_after", before)
        result["members_before"] = before
        result["diff"] = {"before": {"members": member_summary(before)},
                          "after": {"members": member_summary(after)}}
        return result

    def input_problems(self):
        """What is wrong with name and peer_urls before any command runs: (problem, fix) pairs."""
        problems = []
        name = self.params["name"]
        if self.params["state"] == "present":
            problems += member_name_problems(name)
        elif name is not None and not name.strip():
            problems.append(("name is empty", "give the member's name, or find it by id or "
                                              "peer_urls"))
        if self.params["peer_urls"] is not None:
            if not [u for u in self.params["peer_urls"] if u and u.strip()]:
                problems.append(("peer_urls is empty", "list the member's peer URLs, as in "
                                                       "https://<ip>:2380"))
            problems += url_problems(self.params["peer_urls"], "peer URL", "2380")
        return problems

    # --- helpers ------------------------------------------------------------------------------
    def _health(self, members):
        """Ask every member -> (statuses, {endpoint: reason} of the silent ones, ids of the
        healthy members, the leader's id or None)."""
        endpoints = split_endpoints([u for m in members for u in m["client_urls"]])
        statuses, failed = self.client.status(endpoints or None)
        health = self.client.health([s["endpoint"] for s in statuses])
        healthy_eps = set(h["endpoint"] for h in health if h["health"])
        healthy_ids = set(s["id"] for s in statuses if s["endpoint"] in healthy_eps)
        leaders = [s["leader"] for s in statuses if s["leader"]]
        leader = max(set(leaders), key=leaders.count) if leaders else None
        return statuses, failed, healthy_ids, leader

    def _retry(self, func, needles, timeout):
        """Call func() again while it fails with one of ``needles`` (transient etcd refusals)."""
        deadline = time.time() + timeout
        while True:
            try:
                return func()
            except EtcdError as exc:
                if not error_matches(exc, *needles) or time.time() >= deadline:
                    raise
            self.sleep(1)

    def _find(self, members):
        return find_member(members, member_id=self.params["id"], name=self.params["name"],
                           peer_urls=self.params["peer_urls"])[0]

    def _describe(self):
        parts = []
        for option in ("id", "name", "peer_urls"):
            if self.params[option]:
                parts.append("%s=%s" % (option, self.params[option]))
        return ", ".join(parts)

    # --- state: present -----------------------------------------------------------------------
    def _present(self, members):
        name, urls = self.params["name"], self.params["peer_urls"]
        learner = self.params["learner"]
        if learner is None:
            learner = at_least(self.client.version(), (3, 4))
        action, member = plan_present(members, name, urls, learner)
        result = {"changed": action != "none", "initial_cluster": initial_cluster_for(members, name, urls)}
        if action == "none":
            result.update(member=member, members_after=members)
            return result
        if action == "update":
            _statuses, failed, healthy_ids, leader = self._health(members)
            reasons = plan_update(members, member["id"], urls, healthy_ids, leader)
            if reasons and not self.params["force"]:
                raise EtcdRefused(
                    "refusing to change the peer URLs of member %s (%s) from %s to %s: %s"
                    % (member_key(member), member["id"], ",".join(member["peer_urls"]),
                       ",".join(urls), "; ".join(reasons)),
                    hint="bring the other members back to health first (ezops.etcd.etcd_info "
                         "shows which), keep the old peer URLs in the list until the member "
                         "listens on the new ones, or set force: true if you accept the risk "
                         "(nothing was changed)",
                    extra={"members_before": members, "reasons": reasons, "member": member,
                           "failed_endpoints": sorted(failed)})
            result["reasons"] = reasons
            if self.check_mode:
                updated = dict(member, peer_urls=list(urls))
                after = [updated if m["id"] == member["id"] else m for m in members]
            else:
                self._retry(lambda: self.client.ctl(
                    ["member", "update", member["id"], "--peer-urls=" + ",".join(urls)],
                    json_output=False),
                    [UNHEALTHY], min(self.params["wait_timeout"], 15))
                after = self.client.members()[1]
            result.update(member=find_member(after, member_id=member["id"])[0] or member,
                          members_after=after)
            return result
        args = ["member", "add", name, "--peer-urls=" + ",".join(urls)]
        if learner:
            args.append("--learner")
        if self.check_mode:
            new = {"id": None, "name": "", "peer_urls": list(urls), "client_urls": [],
                   "is_learner": bool(learner), "started": False}
            result.update(member=new, members_after=members + [new])
            return result
        try:
            _rc, out, _err = self._retry(lambda: self.client.ctl(args), [UNHEALTHY],
                                         min(self.params["wait_timeout"], 15))
        except EtcdError as exc:
            if error_matches(exc, TOO_MANY_LEARNERS):
                learners = ", ".join("%s (%s)" % (m["name"] or "unstarted", m["id"])
                                     for m in members if m["is_learner"])
                raise EtcdRefused("cannot add %s as a learner: etcd allows one learner at a time "
                                  "and %s is one" % (name, learners),
                                  hint="promote that learner (state: promoted) or remove it first")
            raise
        new, after = parse_member_add(out)
        if not after:
            after = self.client.members()[1]
        result.update(member=new, members_after=after)
        return result

    # --- state: promoted ----------------------------------------------------------------------
    def _promoted(self, members):
        member = self._find(members)
        if member is None:
            raise EtcdMemberNotFound("no member matches %s" % self._describe(),
                                     hint="add it first with state: present (a learner that has "
                                          "not started yet has no name: use peer_urls or id)")
        if not member["is_learner"]:
            return {"changed": False, "member": member, "members_after": members}
        if self.check_mode:
            promoted = dict(member, is_learner=False)
            return {"changed": True, "member": promoted,
                    "members_after": [promoted if m["id"] == member["id"] else m for m in members]}
        timeout = self.params["wait_timeout"]
        try:
            # Not -w json: etcdctl 3.4 and 3.5 promote, then crash printing JSON (nil printer).
            self._retry(lambda: self.client.ctl(["member", "promote", member["id"]],
                                                json_output=False),
                        [NOT_IN_SYNC, UNHEALTHY], timeout)
        except EtcdError as exc:
            now = find_member(self.client.members()[1], member_id=member["id"])[0]
            if now is not None and not now["is_learner"]:
                pass  # promoted by an earlier attempt or by someone else meanwhile
            elif error_matches(exc, NOT_IN_SYNC):
                raise EtcdTimeout(
                    "learner %s (%s) did not catch up with the leader within %d s"
                    % (member["name"] or "unstarted", member["id"], timeout),
                    hint="check that its etcd runs with --initial-cluster-state=existing and can "
                         "reach the peers (started=%s); raise wait_timeout for a large database"
                    % member["started"], cmd=exc.cmd, rc=exc.rc, stderr=exc.stderr)
            else:
                raise
        after = self.client.members()[1]
        return {"changed": True, "member": find_member(after, member_id=member["id"])[0],
                "members_after": after}

    # --- state: absent ------------------------------------------------------------------------
    def _absent(self, members):
        member = self._find(members)
        if member is None:
            return {"changed": False, "members_after": members, "reasons": []}
        endpoints = split_endpoints([u for m in members for u in m["client_urls"]])
        statuses, failed, healthy_ids, leader = self._health(members)
        reasons = plan_removal(members, member["id"], healthy_ids, leader)
        if reasons and not self.params["force"]:
            raise EtcdRefused(
                "refusing to remove member %s (%s): %s" % (member_key(member), member["id"],
                                                           "; ".join(reasons)),
                hint="bring the other members back to health first, or set force: true if you "
                     "accept the risk (nothing was changed)",
                extra={"members_before": members, "reasons": reasons, "member": member,
                       "failed_endpoints": sorted(failed)})
        result = {"changed": True, "member": member, "reasons": reasons}
        remaining = [m for m in members if m["id"] != member["id"]]
        others = split_endpoints([u for m in remaining if m["id"] in healthy_ids
                                  for u in m["client_urls"]])
        if leader == member["id"]:
            new_leader = pick_new_leader(members, statuses, member["id"], healthy_ids)
            if new_leader is not None:
                result["leader_moved_to"] = new_leader["id"]
                if not self.check_mode:
                    self._move_leader(member, new_leader, endpoints)
        if self.check_mode:
            result["members_after"] = remaining
            return result
        self._retry(lambda: self.client.ctl(["member", "remove", member["id"]],
                                            endpoints=others or None, json_output=False),
                    [UNHEALTHY], min(self.params["wait_timeout"], 15))
        result["members_after"] = self.client.members(others or None)[1]
        return result

    def _move_leader(self, member, new_leader, endpoints):
        self.client.ctl(["move-leader", new_leader["id"]], endpoints=endpoints, json_output=False)

        def moved():
            statuses, _failed = self.client.status(list(new_leader["client_urls"]))
            return any(s["leader"] and s["leader"] != member["id"] for s in statuses)

        deadline = time.time() + self.params["wait_timeout"]
        while not moved():
            if time.time() >= deadline:
                raise EtcdTimeout("leadership did not move from %s to %s within %d s"
                                  % (member["id"], new_leader["id"], self.params["wait_timeout"]),
                                  hint="check the cluster health; nothing was removed")
            self.sleep(0.5)
