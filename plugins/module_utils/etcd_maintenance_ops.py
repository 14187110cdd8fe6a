# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What ezops.etcd.etcd_maintenance does: compact, defragment, disarm alarms."""

from __future__ import annotations

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_common import (
    RECOVERY_RUNBOOK,
    EtcdError,
    EtcdRefused,
    compaction_target,
    defrag_order,
    error_matches,
    health_reasons,
    pick_new_leader,
    plan_disarm,
    split_endpoints,
)

COMPACTED = "required revision has been compacted"
PROBE_KEY = "ezops.etcd/compaction-probe"


class MaintenanceOps(object):
    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.check_mode = module.check_mode

    def run(self):
        by_action = {"compact": self._compact, "defrag": self._defrag, "disarm": self._disarm}
        result = by_action[self.params["action"]]()
        result["action"] = self.params["action"]
        return result

    def _endpoints(self):
        if self.params["cluster"]:
            members = self.client.members()[1]
            return split_endpoints([u for m in members for u in m["client_urls"]])
        return self.client.endpoints

    def _require_health(self, doing, why):
        """Refuse (unless force) when a voting member does not answer its status or there is no
        leader -> the reasons force overrode. Answering is enough: with an alarm active, etcd 3.5
        reports every member unhealthy, and clearing alarms is what maintenance is for."""
        try:
            members = self.client.members()[1]
        except EtcdError as exc:
            if self.params["force"]:
                return ["cannot read the member list: %s" % exc.message]
            raise EtcdRefused("refusing to %s: cannot read the member list (%s)" % (doing, exc.message),
                              hint="check the cluster with ezops.etcd.etcd_info (it may have lost "
                                   "its quorum), or set force: true (nothing was changed)")
        urls = split_endpoints([u for m in members for u in m["client_urls"]])
        statuses, failed = self.client.status(urls or None)
        answering = set(s["id"] for s in statuses)
        leaders = [s["leader"] for s in statuses if s["leader"]]
        reasons = health_reasons(members, answering, leaders[0] if leaders else None)
        voter_urls = set(u for m in members if not m["is_learner"] for u in m["client_urls"])
        silent = sorted((ep, r) for ep, r in failed.items() if ep in voter_urls)
        if silent:
            reasons.append("endpoints that did not answer: %s"
                           % ", ".join("%s (%s)" % item for item in silent))
        if reasons and not self.params["force"]:
            raise EtcdRefused("refusing to %s: %s; %s" % (doing, "; ".join(reasons), why),
                              hint="bring every member back first (ezops.etcd.etcd_info shows "
                                   "which), or set force: true if you accept the risk (nothing "
                                   "was changed)",
                              extra={"reasons": reasons, "failed_endpoints": sorted(failed)})
        return reasons

    # --- compact ------------------------------------------------------------------------------
    def is_compacted(self, revision):
        """Whether the key space is already compacted at ``revision`` or later: reading just
        below it then fails with 'required revision has been compacted'."""
        try:
            self.client.ctl(["get", PROBE_KEY, "--keys-only", "--limit=1", "--rev=%d" % (revision - 1)])
        except EtcdError as exc:
            if error_matches(exc, COMPACTED):
                return True
            raise
        return False

    def _compact(self):
        statuses, _failed = self.client.status()
        current = max(s["revision"] for s in statuses)
        target = compaction_target(current, self.params["revision"])
        if not any(s["leader"] for s in statuses):
            raise EtcdRefused("refusing to compact: the cluster has no leader, so the compaction "
                              "could not be committed (nothing was changed)",
                              hint="restore the quorum first (see %s)" % RECOVERY_RUNBOOK)
        result = {"current_revision": current, "revision": target, "changed": False}
        if target is None or self.is_compacted(target):
            return result
        result["changed"] = True
        result["diff"] = {"before": {"compacted_below": "< %d" % target},
                          "after": {"compacted_below": target}}
        if self.check_mode:
            return result
        args = ["compaction", str(target)]
        if self.params["physical"]:
            args.append("--physical")
        try:
            self.client.ctl(args, json_output=False)
        except EtcdError as exc:
            if not error_matches(exc, COMPACTED):
                raise
            result["changed"] = False  # another client compacted meanwhile
        return result

    # --- defrag -------------------------------------------------------------------------------
    def _defrag(self):
        threshold = self.params["min_reclaimable_bytes"]
        reasons = self._require_health(
            "defragment", "defragmenting a member blocks it, which may cost the quorum while "
                          "another one is down")
        statuses, failed = self.client.status(self._endpoints())
        if failed and not self.params["force"]:
            raise EtcdRefused("endpoints %s did not answer: defragmenting a member blocks it, "
                              "which may cost the quorum while another one is down"
                              % ", ".join(sorted(failed)),
                              hint="defragment when every member is up, or set force: true to "
                                   "defragment those that answer (nothing was changed)")
        report, done = [], []
        members = self.client.members()[1] if self.params["move_leader"] else []
        for status in defrag_order(statuses):
            reclaimable = status["db_size"] - status["db_size_in_use"]
            item = {"endpoint": status["endpoint"], "id": status["id"],
                    "is_leader": status["is_leader"], "db_size_before": status["db_size"],
                    "db_size_in_use": status["db_size_in_use"], "reclaimable": reclaimable,
                    "defragmented": reclaimable >= threshold}
            if item["defragmented"]:
                done.append(status["endpoint"])
                # defragmenting blocks the member: hand the leadership over first, so writes go on
                successor = status["is_leader"] and pick_new_leader(
                    members, statuses, status["id"], set(s["id"] for s in statuses))
                if successor:
                    item["leader_moved_to"] = successor["id"]
                    if not self.check_mode:
                        self.client.ctl(["move-leader", successor["id"]], endpoints=[status["endpoint"]],
                                        json_output=False)
                if not self.check_mode:
                    self.client.ctl(["defrag"], endpoints=[status["endpoint"]], json_output=False)
            report.append(item)
        if done and not self.check_mode:
            after = dict((s["endpoint"], s["db_size"]) for s in self.client.status(done)[0])
            for item in report:
                if item["endpoint"] in after:
                    item["db_size_after"] = after[item["endpoint"]]
        return {"changed": bool(done), "defragmented": done, "reasons": reasons,
                "skipped_endpoints": [i["endpoint"] for i in report if not i["defragmented"]],
                "failed_endpoints": sorted(failed), "endpoints": report}

    # --- disarm -------------------------------------------------------------------------------
    def _disarm(self):
        alarms = self.client.alarms()
        result = {"changed": bool(alarms), "alarms": alarms, "disarmed": [], "reasons": [],
                  "diff": {"before": {"alarms": alarms}, "after": {"alarms": []}}}
        if not alarms:
            return result
        result["disarmed"] = plan_disarm(alarms, self.params["alarms"])
        result["reasons"] = self._require_health(
            "disarm %s" % ", ".join(result["disarmed"]),
            "the alarm of a member that does not answer cannot be judged, and it raises it "
            "again once back")
        if "CORRUPT" in result["disarmed"]:
            self.module.warn("disarming CORRUPT as asked (alarms lists it): make sure the corrupt "
                             "member was replaced, or its data differs from the others' still")
        if not self.check_mode:
            self.client.ctl(["alarm", "disarm"], json_output=False)
            left = self.client.alarms()
            if left:
                result["alarms_left"] = left
                self.module.warn("alarms are still active after disarm: %s (a NOSPACE alarm "
                                 "comes back until the database shrinks below the quota)" % left)
        return result
