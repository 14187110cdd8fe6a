# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What ezops.etcd.etcd_maintenance does: compact, defragment, disarm alarms."""

from __future__ import annotations

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_common import (
    EtcdError,
    EtcdRefused,
    compaction_target,
    defrag_order,
    error_matches,
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
        result = getattr(self, "_" + self.params["action"])()
        result["action"] = self.params["action"]
        return result

    def _endpoints(self):
        if self.params["cluster"]:
            members = self.client.members()[1]
            return split_endpoints([u for m in members for u in m["client_urls"]])
        return self.client.endpoints

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
        statuses, failed = self.client.status(self._endpoints())
        if failed and not self.params["force"]:
            raise EtcdRefused("endpoints %s did not answer: defragmenting a member blocks it, "
                              "which may cost the quorum while another one is down"
                              % ", ".join(sorted(failed)),
                              hint="defragment when every member is up, or set force: true to "
                                   "defragment those that answer (nothing was changed)")
        report, done = [], []
        for status in defrag_order(statuses):
            reclaimable = status["db_size"] - status["db_size_in_use"]
            item = {"endpoint": status["endpoint"], "id": status["id"],
                    "is_leader": status["is_leader"], "db_size_before": status["db_size"],
                    "db_size_in_use": status["db_size_in_use"], "reclaimable": reclaimable,
                    "defragmented": reclaimable >= threshold}
            if item["defragmented"]:
                done.append(status["endpoint"])
                if not self.check_mode:
                    self.client.ctl(["defrag"], endpoints=[status["endpoint"]], json_output=False)
            report.append(item)
        if done and not self.check_mode:
            after = dict((s["endpoint"], s["db_size"]) for s in self.client.status(done)[0])
            for item in report:
                if item["endpoint"] in after:
                    item["db_size_after"] = after[item["endpoint"]]
        return {"changed": bool(done), "defragmented": done,
                "skipped_endpoints": [i["endpoint"] for i in report if not i["defragmented"]],
                "failed_endpoints": sorted(failed), "endpoints": report}

    # --- disarm -------------------------------------------------------------------------------
    def _disarm(self):
        alarms = self.client.alarms()
        result = {"changed": bool(alarms), "alarms": alarms,
                  "diff": {"before": {"alarms": alarms}, "after": {"alarms": []}}}
        if alarms and not self.check_mode:
            self.client.ctl(["alarm", "disarm"], json_output=False)
            left = self.client.alarms()
            if left:
                result["alarms_left"] = left
                self.module.warn("alarms are still active after disarm: %s (a NOSPACE alarm "
                                 "comes back until the database shrinks below the quota)" % left)
        return result
