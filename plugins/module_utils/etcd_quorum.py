# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The proof that an etcd cluster lost its quorum, required before a recovery forces a new cluster.

A member that sees no leader may only be cut off from a healthy majority. So the recovery asks
etcd from several vantage points (every member, and the controller), each with
``ezops.etcd.etcd_info``, and ``recovery_verdict`` decides from all of their answers:

- ``alive``: some vantage point reports a leader, or sees a quorum of the voting members answer;
- ``undecided``: some vantage point could not ask etcd because of TLS, authentication or its
  configuration, or a member's etcd runs but does not answer its own vantage point (a wrong client
  port or address makes every member look dead: that proves nothing);
- ``survivor``: the quorum is lost but the chosen survivor is the wrong one (another member holds
  a higher raft index, its own index is unknown while another's is known, it has no data, or a
  recovery from another member is under way);
- ``lost``: none of the above, the recovery may proceed;
- ``resume``: an earlier run forced the new cluster (its stamp says so) and the live leader is the
  survivor: only the re-adding of the other members remains.

Nothing here runs a command: the inputs are etcd_info results and plain values.
"""

from __future__ import annotations

import json
import re

from urllib.parse import urlsplit

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_common import (
    EtcdConfigError,
    EtcdPermissionDenied,
    EtcdTLSError,
    classify_error,
    normalize_url,
    quorum,
)

LOST = "lost"
RESUME = "resume"
ALIVE = "alive"
UNDECIDED = "undecided"
SURVIVOR = "survivor"

# Stamp phases: 'started' (nothing forced yet), 'forced' (the forced start was begun).
STARTED = "started"
FORCED = "forced"
PHASES = (STARTED, FORCED)

# Failures of a vantage point that mean "could not ask", not "nobody answers".
BLOCKING_KINDS = (EtcdTLSError.kind, EtcdConfigError.kind, EtcdPermissionDenied.kind)

CODES = {
    ALIVE: "recover_quorum_alive",
    UNDECIDED: "recover_undecided",
    "behind": "recover_survivor_behind",
    "unknown": "recover_survivor_unknown",
    "no_data": "recover_survivor_no_data",
    "elsewhere": "recover_under_way_elsewhere",
}

NOTHING_CHANGED = "Nothing was changed."


# --- the recovery stamp ----------------------------------------------------------------------------
def parse_stamp(text):
    """The survivor's stamp file -> {'stamp', 'phase', 'survivor', 'member_id'} or None.

    The stamp of earlier versions is a bare time stamp: it counts as 'started' (nothing proves
    that the forced start happened), and so does any phase this code does not know."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        phase = data.get("phase")
        stamp = str(data.get("stamp") or "")
        return {"stamp": stamp if re.match(r"^\d{14}$", stamp) else None,
                "phase": phase if phase in PHASES else STARTED,
                "survivor": data.get("survivor") or None,
                "member_id": data.get("member_id") or None}
    return {"stamp": text if re.match(r"^\d{14}$", text) else None, "phase": STARTED,
            "survivor": None, "member_id": None}


# --- reading the views --------------------------------------------------------------------------------
def _host(url):
    try:
        return (urlsplit(url if "://" in url else "http://" + url).hostname or "").lower()
    except ValueError:
        return ""


def _kind(text):
    return classify_error(text or "")[0].kind


def read_view(name, view, client_urls):
    """One etcd_info result (or {'unavailable': reason}) -> what it proves.

    ``client_urls`` maps each member (inventory name) to the client URL that was queried.
    -> {'name', 'unavailable': reason or None, 'answered': {member: status}, 'learners': set,
        'problems': [(kind, text)]}"""
    by_url = dict((normalize_url(url), member) for member, url in client_urls.items())
    by_host = dict((_host(url), member) for member, url in client_urls.items())
    out = {"name": name, "unavailable": None, "answered": {}, "learners": set(), "problems": []}
    if not isinstance(view, dict) or not view:
        out["unavailable"] = "no result"
        return out
    if view.get("unavailable"):
        out["unavailable"] = str(view["unavailable"])
        return out
    if view.get("skipped"):
        out["unavailable"] = "not asked"
        return out
    if view.get("failed") or view.get("unreachable") or "endpoints" not in view:
        # The module itself failed (etcdctl missing or not runnable, bad options), even when the
        # task ignored it (failed_when: false): a configuration problem.
        kind = view.get("error_kind") or EtcdConfigError.kind
        out["problems"].append((kind, str(view.get("msg") or "etcd_info failed")))
        return out
    if view.get("error_kind"):
        errors = view.get("errors") or []
        out["problems"].append((view["error_kind"], str(errors[0] if errors else view["error_kind"])))
    else:
        for text in view.get("errors") or []:
            out["problems"].append((_kind(text), str(text)))
    for endpoint, reason in sorted((view.get("failed_reasons") or {}).items()):
        out["problems"].append((_kind(reason), "%s: %s" % (endpoint, reason)))
    for status in view.get("endpoints") or []:
        endpoint = status.get("endpoint") or ""
        member = by_url.get(normalize_url(endpoint)) or by_host.get(_host(endpoint)) or endpoint
        out["answered"][member] = status
        if status.get("is_learner"):
            out["learners"].add(member)
    for listed in view.get("members") or []:
        if listed.get("is_learner"):
            for url in (listed.get("client_urls") or []) + (listed.get("peer_urls") or []):
                if _host(url) in by_host:
                    out["learners"].add(by_host[_host(url)])
    return out


def _index_of(views, member):
    """The highest raft index any vantage point saw for ``member`` (None when it never answered)."""
    seen = [v["answered"][member].get("raft_index") for v in views if member in v["answered"]]
    seen = [int(i) for i in seen if i is not None]
    return max(seen) if seen else None


def _id_of(views, member):
    for view in views:
        status = view["answered"].get(member)
        if status and status.get("id"):
            return status["id"]
    return None


def _describe(view, voters):
    if view["unavailable"]:
        return "from %s: not available (%s)" % (view["name"], view["unavailable"])
    answering = sorted(m for m in view["answered"] if m in voters)
    leaders = sorted(set(s.get("leader") for s in view["answered"].values() if s.get("leader")))
    text = "from %s: %d of %d voting members answer%s, %s" % (
        view["name"], len(answering), len(voters),
        " (%s)" % ", ".join(answering) if answering else "",
        "leader %s" % ", ".join(leaders) if leaders else "no leader")
    blocking = [t for k, t in view["problems"] if k in BLOCKING_KINDS]
    if blocking:
        text += "; cannot ask: %s" % "; ".join(blocking)
    return text


# --- the decision ---------------------------------------------------------------------------------------
def recovery_verdict(views, client_urls, survivor, stamps=None, wal_files=None, wal_path="",
                     stamp_path="", running=None):
    """Decide whether a recovery from ``survivor`` may force a new cluster.

    views: {vantage point name: etcd_info result, or {'unavailable': reason}}.
    client_urls: {member: client URL} for every member of the inventory group.
    survivor: the member chosen to keep its data (a key of client_urls).
    stamps: {member: content of its recovery stamp file, or None}.
    wal_files: {member: number of WAL files}; None skips the data check.
    running: {member: whether an etcd process runs there}. A member whose etcd runs but does not
      answer its own vantage point shows a wrong client URL (port, address) or a hung etcd: then
      "nobody answers" proves nothing.
    -> {'decision', 'code', 'reasons', 'message', 'leader', 'voters', 'quorum', 'survivor_id',
        'survivor_index', 'indexes', 'stamp' (the time stamp to reuse, or None), 'record'
        (the stamp to write on the survivor, without its time stamp)}"""
    if survivor not in client_urls:
        raise ValueError("survivor %r is not one of the members %s" % (survivor, sorted(client_urls)))
    read = [read_view(name, view, client_urls) for name, view in sorted((views or {}).items())]
    learners = set()
    for view in read:
        learners |= view["learners"]
    voters = sorted(m for m in client_urls if m not in learners)
    need = quorum(len(voters))
    stamps = dict((m, parse_stamp(t)) for m, t in (stamps or {}).items())
    own = stamps.get(survivor)
    survivor_id = _id_of(read, survivor)
    indexes = dict((m, _index_of(read, m)) for m in sorted(client_urls))
    leaders = {}
    for view in read:
        for status in view["answered"].values():
            if status.get("leader"):
                leaders.setdefault(status["leader"], set()).add(view["name"])
    id_to_member = dict((_id_of(read, m), m) for m in client_urls if _id_of(read, m))
    summary = [_describe(v, voters) for v in read]

    result = {"decision": LOST, "code": None, "reasons": [], "leader": None, "voters": voters,
              "quorum": need, "survivor_id": survivor_id, "survivor_index": indexes[survivor],
              "indexes": indexes, "views": summary, "stamp": None, "record": None}

    def done(decision, kind, reasons, fix):
        result.update(decision=decision, code=CODES.get(kind), reasons=reasons)
        head = {
            ALIVE: "The cluster is alive: it has a quorum, so forcing a new cluster from %s would "
                   "throw away what the majority has." % survivor,
            UNDECIDED: "Cannot prove that the quorum is lost, and it is never assumed.",
            SURVIVOR: "The quorum looks lost, but %s is not the member to recover from." % survivor,
        }[decision]
        result["message"] = " ".join([head] + ["%s%s." % (r[:1].upper(), r[1:].rstrip(".")) for r in reasons]
                                     + [NOTHING_CHANGED, fix])
        return result

    # A run that forced the new cluster and was cut off: the survivor leads it, alone or with the
    # members added back so far. Only then does the stamp spare the full proof.
    if (own and own["phase"] == FORCED and survivor_id and set(leaders) == set([survivor_id])
            and own["member_id"] in (None, survivor_id)):
        result.update(decision=RESUME, leader=survivor_id, stamp=own["stamp"],
                      record={"phase": FORCED, "survivor": survivor, "member_id": survivor_id},
                      message="Resuming the recovery from %s begun at %s: it leads the new cluster."
                              % (survivor, own["stamp"] or "an unknown time"))
        return result

    if leaders or any(len([m for m in v["answered"] if m in voters]) >= need for v in read):
        reasons = []
        for leader, seen_from in sorted(leaders.items()):
            result["leader"] = result["leader"] or leader
            reasons.append("leader %s%s is reported from %s" % (
                leader, " (%s)" % id_to_member[leader] if leader in id_to_member else "",
                ", ".join(sorted(seen_from))))
        for view in read if not leaders else []:
            answering = sorted(m for m in view["answered"] if m in voters)
            if len(answering) >= need:
                reasons.append("from %s, %d of %d voting members answer (%s), a quorum of %d"
                               % (view["name"], len(answering), len(voters), ", ".join(answering), need))
        following = set()
        for view in read:
            following |= set(m for m, s in view["answered"].items() if s.get("leader"))
        apart = [m for m in sorted(client_urls) if m not in following]
        if own and own["phase"] == FORCED:
            reasons.append("the recovery stamp on %s says member %s forced a new cluster, but the "
                           "leader reported is %s: the stamp proves nothing here"
                           % (survivor, own["member_id"] or survivor_id or survivor,
                              ", ".join(sorted(leaders)) or "none"))
        if apart:
            fix = ("Replace a member that is cut off or broken (%s) while the others keep serving: "
                   "playbooks/31.deletcd.yml -e ETCD_TO_DEL=<member>, then playbooks/21.addetcd.yml "
                   "-e NODE_TO_ADD=<member>; a member that is only cut off catches up by itself once "
                   "reconnected." % ", ".join(apart))
        else:
            fix = ("Every member follows the leader: there is nothing to recover. To replace a member, "
                   "use playbooks/31.deletcd.yml then playbooks/21.addetcd.yml.")
        return done(ALIVE, ALIVE, reasons, fix)

    blocking = []
    for view in read:
        blocking.extend("from %s: %s" % (view["name"], text)
                        for kind, text in view["problems"] if kind in BLOCKING_KINDS)
    own_views = dict((v["name"], v) for v in read if not v["unavailable"])
    for member in sorted(m for m, up in (running or {}).items() if up and m in client_urls):
        if member in own_views and member not in own_views[member]["answered"]:
            blocking.append("on %s, etcd runs but does not answer at %s, asked from %s itself"
                            % (member, client_urls[member], member))
    if blocking:
        return done(UNDECIDED, UNDECIDED, blocking,
                    "Fix what is named above and run again: the client port and addresses "
                    "(etcd_client_port, the inventory names) must match the etcd unit's "
                    "--listen-client-urls; on a member, its CA, certificate and key in ca_dir and "
                    "etcdctl in bin_dir; on the controller, cluster_dir/ssl (CA, etcd-client.pem, "
                    "etcd-client-key.pem) and base_dir/bin/etcdctl, or run with "
                    "-e etcd_recover_ask_controller=false when the controller cannot run etcdctl. "
                    "A member whose etcd hangs: stop it (systemctl stop etcd) and run again.")

    others = [(m, s) for m, s in sorted(stamps.items()) if s and m != survivor]
    if others:
        member, stamp = others[0]
        return done(SURVIVOR, "elsewhere", [
            "%s holds a recovery stamp%s (begun %s, phase %s): a recovery from %s is under way"
            % (member, " in %s" % stamp_path if stamp_path else "", stamp["stamp"] or "at an unknown time",
               stamp["phase"], member)],
            "Finish it with -e etcd_recover_from=%s; if it was abandoned, move that stamp file aside "
            "on %s and run again." % (member, member))

    if wal_files is not None and not int(wal_files.get(survivor) or 0):
        with_data = sorted(m for m, n in wal_files.items() if int(n or 0) > 0)
        return done(SURVIVOR, "no_data", [
            "%s has no WAL files%s: it has no data to recover from"
            % (survivor, " in %s" % wal_path if wal_path else "")],
            "Choose a member with data (%s) with -e etcd_recover_from=<member>, or restore a snapshot "
            "with playbooks/95.restore.yml." % (", ".join(with_data) or "none has WAL files"))

    known = [(indexes[m], m) for m in voters if m != survivor and indexes[m] is not None]
    best_index, best = max(known) if known else (None, None)
    mine = indexes[survivor]
    if mine is not None and best_index is not None and best_index > mine:
        return done(SURVIVOR, "behind", [
            "%s has raft index %d, higher than %d on %s: recovering from %s would drop what %s "
            "committed" % (best, best_index, mine, survivor, survivor, best)],
            "Run again with -e etcd_recover_from=%s." % best)
    if mine is None and best_index is not None:
        return done(SURVIVOR, "unknown", [
            "no answer from etcd on %s, so its raft index is unknown, while %s answers with raft "
            "index %d" % (survivor, best, best_index)],
            "Start etcd on %s (systemctl start etcd) so that the indexes can be compared, and run "
            "again; or choose -e etcd_recover_from=%s." % (survivor, best))

    reuse = own["stamp"] if own and own["phase"] == STARTED else None
    result.update(stamp=reuse,
                  record={"phase": STARTED, "survivor": survivor,
                          "member_id": survivor_id or (own["member_id"] if reuse else None)},
                  message="The quorum is lost (%s). Recovering from %s (raft index %s)%s."
                          % ("; ".join(summary) or "no vantage point", survivor,
                             "unknown" if mine is None else mine,
                             ", resuming the run begun at %s" % reuse if reuse else ""))
    return result
