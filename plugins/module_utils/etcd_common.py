# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Pure helpers for the ezops.etcd modules: typed errors, parsers of ``etcdctl -w json`` output,
quorum arithmetic, member matching and the decisions built on them, snapshot integrity.

Nothing here runs a command or talks to the network, so everything is unit-tested directly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from urllib.parse import urlsplit

ALARM_NAMES = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}
DISARMABLE_ALARMS = ("NOSPACE", "CORRUPT")
RECOVERY_RUNBOOK = "docs/disaster-recovery.md"
SHA256_SIZE = 32
REDACTED = "********"
RESTORE_MARKER = os.path.join("member", "ezops-restore.json")


# --- errors -------------------------------------------------------------------------------------
class EtcdError(Exception):
    """An etcd operation failed. ``kind`` is stable and returned as ``error_kind``."""

    kind = "error"
    hint = ""

    def __init__(self, message, hint=None, cmd=None, rc=None, stdout=None, stderr=None,
                 extra=None):
        super(EtcdError, self).__init__(message)
        self.message = message
        self.extra = dict(extra or {})
        if hint is not None:
            self.hint = hint
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def to_result(self, secrets=()):
        """The fail_json arguments, with every value of ``secrets`` replaced by ********."""
        msg = self.message
        if self.hint:
            msg = "%s. Fix: %s" % (msg.rstrip("."), self.hint)
        result = {"msg": msg, "error_kind": self.kind}
        for key in ("cmd", "rc", "stdout", "stderr"):
            value = getattr(self, key)
            if value is not None:
                result[key] = value
        result.update(self.extra)
        return redact(result, secrets)


def redact(value, secrets):
    """``value`` (nested dicts, lists, strings) with every occurrence of ``secrets`` masked."""
    secrets = sorted(set(s for s in secrets or () if s), key=len, reverse=True)
    if not secrets:
        return value
    if isinstance(value, dict):
        return dict((redact(k, secrets), redact(v, secrets)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, secrets) for v in value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
    return value


def split_credentials(user, password):
    """-> (user name, password) from the user option (``name`` or ``name:password``) and the
    password option. Raises EtcdConfigError (never quoting a password) when they do not make one
    usable pair: etcdctl would otherwise prompt on a terminal or silently skip authentication."""
    user = user or None
    password = password or None
    if user is None:
        if password is not None:
            raise EtcdConfigError("password is set but user is not",
                                  hint="set user to the etcd user the password belongs to, or "
                                       "drop password (and ETCDCTL_PASSWORD)")
        return None, None
    name, sep, inline = user.partition(":")
    if not name:
        raise EtcdConfigError("user has no name before its ':'",
                              hint="write user as NAME (with password) or NAME:PASSWORD")
    if sep:
        if not inline:
            raise EtcdConfigError("user %s: has an empty password" % name,
                                  hint="put the password in the password option (no_log), not "
                                       "after the ':'")
        if password is not None and password != inline:
            raise EtcdConfigError("user %s carries a password and the password option holds "
                                  "another one" % name,
                                  hint="set the password in one place only: user NAME with "
                                       "password PASSWORD")
        password = inline
    if password is None:
        raise EtcdConfigError("user %s has no password" % name,
                              hint="set password (or ETCDCTL_PASSWORD); to authenticate by client "
                                   "certificate instead, leave user unset")
    return name, password


class EtcdConfigError(EtcdError):
    kind = "config"


class EtcdUnreachable(EtcdError):
    kind = "unreachable"
    hint = ("check that etcd runs and listens there, and that endpoints (or ETCDCTL_ENDPOINTS) "
            "lists client URLs with the right scheme (https with TLS) and port (2379)")


class EtcdTLSError(EtcdError):
    kind = "tls_rejected"
    hint = ("point cacert at the CA that signed the etcd server certificates, and cert/key at a "
            "client certificate signed by the CA etcd trusts (--trusted-ca-file); use https:// "
            "endpoints when etcd serves TLS")


class EtcdPermissionDenied(EtcdError):
    kind = "permission_denied"
    hint = ("etcd auth is enabled: set user and password (or a client certificate whose CN is a "
            "user) with the root role for membership and maintenance operations")


class EtcdMemberNotFound(EtcdError):
    kind = "member_not_found"
    hint = "list the members with ezops.etcd.etcd_info and use an ID, name or peer URL from it"


class EtcdNoSpace(EtcdError):
    kind = "nospace"
    hint = ("the NOSPACE alarm makes etcd read-only: compact and defragment, then disarm the alarm "
            "(ezops.etcd.etcd_maintenance), and raise --quota-backend-bytes if the data is real")


class EtcdTimeout(EtcdError):
    kind = "timeout"
    hint = ("the endpoints accept connections but did not answer within command_timeout: the "
            "cluster may have lost quorum (check health with ezops.etcd.etcd_info) or be "
            "overloaded; raise command_timeout if it is only slow")


class EtcdCommandError(EtcdError):
    kind = "command_failed"


class EtcdRefused(EtcdError):
    """A safety check refused the operation; nothing was changed."""

    kind = "refused"


class SnapshotError(EtcdError):
    kind = "snapshot_invalid"


# --- ids, versions, urls --------------------------------------------------------------------------
def to_hex(value):
    """etcd prints uint64 IDs in decimal in JSON and in hex elsewhere; we use hex (``%x``)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return "%x" % int(value, 16) if re.match(r"^[0-9a-fA-F]+$", value) else value
    return "%x" % int(value)


def supports_bump_revision(restore_help):
    """Feature-detect --bump-revision/--mark-compacted from ``snapshot restore --help``."""
    return "--bump-revision" in (restore_help or "") and "--mark-compacted" in (restore_help or "")


def normalize_url(url):
    url = (url or "").strip()
    parts = urlsplit(url if "://" in url else "http://" + url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = "[%s]" % host
    netloc = host if parts.port is None else "%s:%d" % (host, parts.port)
    return "%s://%s%s" % (scheme, netloc, parts.path.rstrip("/"))


def normalize_urls(urls):
    return sorted(set(normalize_url(u) for u in (urls or []) if u and u.strip()))


def split_endpoints(values):
    """Endpoints from a list whose items may themselves hold comma-separated URLs."""
    out = []
    for value in values or []:
        for item in str(value).split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    return out


def url_problems(urls, what, port):
    """Problems of ``urls`` as client or peer URLs (``what`` names them): a list of
    (problem, fix) pairs, [] when fine. A URL needs an http or https scheme, a host and a port,
    and nothing after them."""
    problems = []
    schemes = set()
    for url in urls or []:
        text = str(url).strip()
        parts = urlsplit(text)
        try:
            has_port = parts.port is not None
            bad_port = False
        except ValueError:
            has_port, bad_port = False, True
        host = parts.hostname or "<ip>"
        example = "https://%s:%s" % ("[%s]" % host if ":" in host else host, port)
        if parts.scheme not in ("http", "https") or not parts.hostname or "://" not in text:
            problems.append(("%s %r is not a URL" % (what, text),
                             "write it with its scheme and port, as in https://%s:%s"
                             % (text.split(":", maxsplit=1)[0] if text and "://" not in text else "<ip>",
                                port)))
            continue
        schemes.add(parts.scheme)
        if bad_port or not has_port:
            problems.append(("%s %r has %s port" % (what, text, "an invalid" if bad_port else "no"),
                             "%s, as in %s" % ("write a numeric port" if bad_port else "add the port",
                                               example.replace("https", parts.scheme, 1))))
        if parts.path.strip("/") or parts.query or parts.fragment:
            problems.append(("%s %r has a path" % (what, text),
                             "end it after the port, as in %s" % example))
    if len(schemes) > 1:
        problems.append(("%ss mix http:// and https://" % what,
                         "use https:// for every one (http:// only for a plain-http listener)"))
    return problems


def member_name_problems(name):
    """Problems of an etcd member name (--name): (problem, fix) pairs, [] when fine."""
    if name is None or not str(name).strip():
        return [("name is empty", "give the member's --name (kubeasz uses etcd-<ip>)")]
    if re.search(r"[\s,=]", name):
        return [("name %r contains a space, ',' or '=', which --initial-cluster cannot carry"
                 % name, "use letters, digits, '-', '_' and '.' (kubeasz uses etcd-<ip>)")]
    return []


def config_error(problems):
    """One EtcdConfigError for (problem, fix) pairs: every problem, then every fix."""
    return EtcdConfigError("; ".join(p for p, _f in problems) + " (nothing was changed)",
                           hint="; ".join(f for _p, f in problems))


def normalize_checksum(value):
    """A sha256 given by the user -> 64 lowercase hex digits (``sha256:`` prefix allowed)."""
    text = (value or "").strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:"):]
    if not re.match(r"^[0-9a-f]{64}$", text):
        raise EtcdConfigError(
            "checksum is not a sha256: it must be 64 hex digits, got %d character(s)%s"
            % (len(text), "" if re.match(r"^[0-9a-f]*$", text) else " that are not all hex"),
            hint="pass the first field of 'sha256sum <file>' (or the .sha256 file beside the "
                 "snapshot), or omit checksum")
    return text


def parse_initial_cluster(text):
    """'a=https://x:2380,a=https://y:2380,b=...' -> {'a': [urls], 'b': [...]} (order kept)."""
    out = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise EtcdConfigError("initial_cluster item %r is not NAME=PEER_URL" % item,
                                  hint="write initial_cluster as name1=https://ip1:2380,name2=...")
        name, url = item.split("=", 1)
        out.setdefault(name.strip(), []).append(url.strip())
    return out


# --- parsers of etcdctl -w json --------------------------------------------------------------------
def _load(stdout):
    text = (stdout or "").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        # Some commands print one JSON document per endpoint; keep the first line that parses.
        for line in text.splitlines():
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise EtcdCommandError("etcdctl printed output that is not JSON: %s" % text[:200])


def parse_member(raw):
    name = raw.get("name", "") or ""
    client_urls = list(raw.get("clientURLs", []) or [])
    return {
        "id": to_hex(raw.get("ID")),
        "name": name,
        "peer_urls": list(raw.get("peerURLs", []) or []),
        "client_urls": client_urls,
        "is_learner": bool(raw.get("isLearner", False)),
        "started": bool(name or client_urls),
    }


def sort_members(members):
    return sorted(members, key=lambda m: (not m["started"], m["name"], m["id"]))


def parse_member_list(stdout):
    """-> (cluster_id hex or None, [member dicts]) from ``member list``/add/remove JSON."""
    data = _load(stdout) or {}
    header = data.get("header", {}) or {}
    members = [parse_member(m) for m in data.get("members", []) or []]
    return to_hex(header.get("cluster_id")), sort_members(members)


def parse_member_add(stdout):
    data = _load(stdout) or {}
    member = parse_member(data.get("member", {}) or {})
    return member, sort_members([parse_member(m) for m in data.get("members", []) or []])


def parse_endpoint_status(stdout):
    out = []
    for item in _load(stdout) or []:
        status = item.get("Status", {}) or {}
        header = status.get("header", {}) or {}
        member_id = to_hex(header.get("member_id"))
        leader = to_hex(status.get("leader")) if status.get("leader") else None
        out.append({
            "endpoint": item.get("Endpoint"),
            "id": member_id,
            "cluster_id": to_hex(header.get("cluster_id")),
            "revision": int(header.get("revision", 0) or 0),
            "version": status.get("version"),
            "db_size": int(status.get("dbSize", 0) or 0),
            "db_size_in_use": int(status.get("dbSizeInUse", 0) or 0),
            "leader": leader,
            "is_leader": leader is not None and leader == member_id,
            "is_learner": bool(status.get("isLearner", False)),
            "raft_term": int(status.get("raftTerm", 0) or 0),
            "raft_index": int(status.get("raftIndex", 0) or 0),
            "raft_applied_index": int(status.get("raftAppliedIndex", 0) or 0),
            "errors": list(status.get("errors", []) or []),
        })
    return out


def parse_endpoint_health(stdout):
    return [{"endpoint": item.get("endpoint"), "health": bool(item.get("health", False)),
             "took": item.get("took"), "error": item.get("error") or None}
            for item in _load(stdout) or []]


def parse_alarms(stdout):
    data = _load(stdout) or {}
    return [{"member_id": to_hex(a.get("memberID")),
             "alarm": ALARM_NAMES.get(a.get("alarm", 0), str(a.get("alarm")))}
            for a in data.get("alarms", []) or []]


def parse_snapshot_status(stdout):
    data = _load(stdout) or {}
    if "revision" not in data:
        raise SnapshotError("snapshot status printed no revision: %s" % (stdout or "")[:200])
    return {"hash": int(data.get("hash", 0)), "revision": int(data.get("revision", 0)),
            "total_keys": int(data.get("totalKey", 0)), "total_size": int(data.get("totalSize", 0))}


def failed_status_endpoints(stderr):
    """``endpoint status`` names each endpoint it could not reach on stderr."""
    return dict(re.findall(r"Failed to get the status of endpoint (\S+) \((.*)\)", stderr or ""))


# --- error classification -------------------------------------------------------------------------
_GRPC_DETAIL = re.compile(r'"error":"((?:[^"\\]|\\.)*)"')


def error_lines(stderr):
    """-> (the 'Error: ...' line(s) etcdctl ends with, the details its client logger printed)."""
    lines = (stderr or "").splitlines()
    final = [ln[len("Error:"):].strip() for ln in lines if ln.startswith("Error:")]
    details = []
    for line in lines:
        if line.startswith("{"):
            for found in _GRPC_DETAIL.findall(line):
                found = found.replace('\\"', '"')
                if found not in details:
                    details.append(found)
    plain = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("{")
             and not ln.startswith("Error:") and "\tinfo\t" not in ln]
    return "; ".join(final) or "; ".join(plain[-3:]), details


_RULES = (
    # (regex on the error text, error class, whether the text alone is conclusive)
    (r"x509|certificate|tls:|handshake failed|first record does not look like a TLS handshake",
     EtcdTLSError),
    (r"permission denied|user name is empty|authentication failed|invalid auth token|"
     r"user name not found|auth: revision", EtcdPermissionDenied),
    (r"member not found", EtcdMemberNotFound),
    (r"database space exceeded|NOSPACE", EtcdNoSpace),
    (r"connection refused|no such host|network is unreachable|no route to host",
     EtcdUnreachable),
    (r"context deadline exceeded|DeadlineExceeded|timed out|i/o timeout|request timed out|"
     r"leader changed|no leader", EtcdTimeout),
)


def classify_error(stderr, stdout=""):
    """-> (error class, message). Timeouts are ambiguous (unreachable, TLS and lost quorum all end
    as 'context deadline exceeded' on etcd 3.4): callers probe the endpoints to refine them."""
    final, details = error_lines(stderr)
    text = " ".join([final] + details + [stdout or ""])
    for pattern, cls in _RULES:
        if re.search(pattern, text, re.IGNORECASE):
            message = final or (details[-1] if details else "etcdctl failed")
            useful = [d for d in details if re.search(pattern, d, re.IGNORECASE) and d != final]
            if useful and not re.search(pattern, final, re.IGNORECASE):
                message = "%s (%s)" % (final, useful[-1])
            return cls, message
    return EtcdCommandError, final or (stdout or "").strip()[:300] or "etcdctl failed"


def error_matches(exc, *needles):
    """True when the etcdctl error ``exc`` carries one of the server messages in ``needles``."""
    text = " ".join(str(x) for x in (exc.message, exc.stderr, exc.stdout) if x)
    return any(n in text for n in needles)


# --- quorum arithmetic and decisions -------------------------------------------------------------
def quorum(voters):
    """Votes needed to commit with ``voters`` voting members."""
    return voters // 2 + 1 if voters > 0 else 0


def fault_tolerance(voters):
    return max(0, (voters - 1) // 2)


def member_key(member):
    return member.get("name") or member.get("id")


def find_member(members, member_id=None, name=None, peer_urls=None):
    """-> (member or None, how it matched: 'id', 'peer_urls', 'name', 'peer_url_overlap')."""
    if member_id:
        wanted = to_hex(member_id)
        for member in members:
            if member["id"] == wanted:
                return member, "id"
        return None, None
    urls = normalize_urls(peer_urls)
    if urls:
        for member in members:
            if normalize_urls(member["peer_urls"]) == urls:
                return member, "peer_urls"
    if name:
        for member in members:
            if member["name"] == name:
                return member, "name"
    if urls:
        for member in members:
            if set(normalize_urls(member["peer_urls"])) & set(urls):
                return member, "peer_url_overlap"
    return None, None


def plan_present(members, name, peer_urls, learner):
    """Decide what ``state: present`` does: ('none' | 'add' | 'update', member or None)."""
    member, how = find_member(members, name=name, peer_urls=peer_urls)
    if member is None:
        return "add", None
    if how == "peer_urls":
        return "none", member
    if member["name"] and name and member["name"] != name and how == "peer_url_overlap":
        raise EtcdRefused(
            "peer URLs %s are partly used by member %s (%s), which has another name"
            % (", ".join(peer_urls), member["name"], member["id"]),
            hint="remove that member first or use its name")
    return "update", member


def health_reasons(members, healthy_ids, leader_id, exclude_id=None):
    """Why the cluster is not healthy enough for a change: no leader, or voting members (other
    than ``exclude_id``, the one the change is about) that do not answer or report unhealthy."""
    healthy = set(to_hex(h) for h in healthy_ids)
    reasons = []
    if leader_id is None:
        reasons.append("the cluster has no leader")
    sick = [member_key(m) for m in members
            if not m["is_learner"] and m["id"] != exclude_id and m["id"] not in healthy]
    if sick:
        reasons.append("the cluster is unhealthy: member(s) %s do not answer or report unhealthy"
                       % ", ".join(sorted(sick)))
    return reasons


def quorum_reason(what, voters, reachable, adjective="healthy"):
    """A reason when ``reachable`` voting members fall short of the quorum of ``voters``."""
    needed = quorum(voters)
    if reachable < needed:
        return ("%s would leave %d %s voting member(s), fewer than the quorum of %d for a cluster "
                "of %d" % (what, reachable, adjective, needed, voters))
    return None


def plan_removal(members, target_id, healthy_ids, leader_id):
    """Reasons why removing ``target_id`` is unsafe (``force`` overrides); [] when it is safe.

    Raises EtcdRefused for what ``force`` cannot override (the last voting member)."""
    target_id = to_hex(target_id)
    healthy = set(to_hex(h) for h in healthy_ids)
    target = [m for m in members if m["id"] == target_id][0]
    voters = [m for m in members if not m["is_learner"]]
    if not target["is_learner"] and len(voters) <= 1:
        raise EtcdRefused("member %s is the last voting member of the cluster" % member_key(target),
                          hint="an etcd cluster cannot remove its last voter; stop it instead")
    reasons = health_reasons(members, healthy, leader_id, exclude_id=target_id)
    remaining = [m for m in voters if m["id"] != target_id]
    shortfall = quorum_reason("removal", len(remaining),
                              len([m for m in remaining if m["id"] in healthy]))
    if shortfall:
        reasons.append(shortfall)
    return reasons


def plan_update(members, target_id, peer_urls, healthy_ids, leader_id):
    """Reasons why changing the peer URLs of ``target_id`` to ``peer_urls`` is unsafe (``force``
    overrides, as for a removal); [] when it is safe.

    The same health gate as a removal. Until the member listens on its new URLs the other members
    cannot reach it, so a voter counts as unreachable unless it is healthy and keeps all its old
    URLs; the reachable voters must still make the quorum. A single voter has no peer to reach it,
    and a learner does not vote: neither can cost the quorum."""
    target_id = to_hex(target_id)
    healthy = set(to_hex(h) for h in healthy_ids)
    target = [m for m in members if m["id"] == target_id][0]
    reasons = health_reasons(members, healthy, leader_id, exclude_id=target_id)
    voters = [m for m in members if not m["is_learner"]]
    if target["is_learner"] or len(voters) <= 1:
        return reasons
    keeps_old = set(normalize_urls(target["peer_urls"])) <= set(normalize_urls(peer_urls))
    reachable = len([m for m in voters if m["id"] != target_id and m["id"] in healthy])
    if target_id in healthy and keeps_old:
        reachable += 1
    shortfall = quorum_reason("changing the peer URLs of %s before it listens on them"
                              % member_key(target), len(voters), reachable, "reachable")
    if shortfall:
        reasons.append(shortfall)
    return reasons


def pick_new_leader(members, statuses, target_id, healthy_ids):
    """The healthy voter (not the target) with the highest raft index, or None."""
    index = dict((s["id"], s["raft_index"]) for s in statuses)
    candidates = [m for m in members if not m["is_learner"] and m["id"] != target_id
                  and m["id"] in healthy_ids]
    if not candidates:
        return None
    return sorted(candidates, key=lambda m: (-index.get(m["id"], 0), m["id"]))[0]


def initial_cluster_for(members, name, peer_urls):
    """The --initial-cluster a new member ``name`` must start with (itself included)."""
    pairs = []
    for member in members:
        if normalize_urls(member["peer_urls"]) == normalize_urls(peer_urls):
            continue
        if member["name"]:
            pairs.extend("%s=%s" % (member["name"], url) for url in member["peer_urls"])
    pairs.extend("%s=%s" % (name, url) for url in peer_urls)
    return ",".join(pairs)


def member_summary(members):
    """A compact, diff-friendly view of a member list."""
    return [dict((k, m[k]) for k in ("id", "name", "peer_urls", "is_learner")) for m in members]


def defrag_order(statuses):
    """Followers first, the leader last (defragmenting blocks a member's writes)."""
    return sorted(statuses, key=lambda s: (s["is_leader"], s["endpoint"]))


def compaction_target(current_revision, requested=None):
    """-> (revision to compact to, or None when there is nothing to compact)."""
    target = current_revision if requested is None else int(requested)
    if target < 1:
        raise EtcdConfigError("revision %d is not a revision: etcd revisions start at 1" % target,
                              hint="omit revision to compact to the current one, or give a "
                                   "revision from etcd_info's revision")
    if target > current_revision:
        raise EtcdRefused("revision %d is in the future: the current revision is %d (nothing was "
                          "compacted)" % (target, current_revision),
                          hint="omit revision to compact to the current one, or give one at most "
                               "%d" % current_revision)
    if target <= 1:
        return None
    return target


def plan_disarm(alarms, wanted):
    """-> the alarm types ``etcdctl alarm disarm`` would clear (it clears every active alarm).

    Raises EtcdRefused when an active alarm is of a type not in ``wanted``: above all CORRUPT,
    which must never be cleared as a side effect of freeing space."""
    wanted = [str(w).upper() for w in (wanted or [])]
    active = sorted(set(a["alarm"] for a in alarms))
    unwanted = [a for a in active if a not in wanted]
    if "CORRUPT" in unwanted:
        members = ", ".join(sorted(a["member_id"] for a in alarms if a["alarm"] == "CORRUPT"))
        raise EtcdRefused(
            "a CORRUPT alarm is active (member(s) %s): etcd found data that differs between "
            "members, and 'alarm disarm' clears every alarm, so disarming %s would clear it too "
            "(nothing was disarmed)" % (members, ", ".join(wanted) or "anything"),
            hint="follow the CORRUPT alarm section of %s (replace the corrupt member from a "
                 "healthy one) before disarming; only then set alarms: [CORRUPT%s]"
                 % (RECOVERY_RUNBOOK, ", NOSPACE" if "NOSPACE" in active else ""))
    if unwanted:
        raise EtcdRefused(
            "alarm(s) %s are active but alarms lists %s, and 'alarm disarm' clears every alarm "
            "(nothing was disarmed)" % (", ".join(unwanted), ", ".join(wanted) or "none"),
            hint="add %s to alarms if they should be cleared too" % ", ".join(unwanted))
    return active


# --- snapshot files -------------------------------------------------------------------------------
def snapshot_integrity(path, chunk=1024 * 1024):
    """Check the sha256 that ``etcdctl snapshot save`` appends to the bolt database.

    -> {'size': n, 'sha256': hex of the whole file}. Raises SnapshotError for a missing, empty,
    truncated or corrupted file (snapshot status itself does not notice them, or crashes)."""
    if os.path.isdir(path):
        raise EtcdConfigError("snapshot path %s is a directory" % path,
                              hint="name a snapshot file, such as %s"
                                   % os.path.join(path, "snapshot.db"))
    if not os.path.isfile(path):
        raise SnapshotError("snapshot %s does not exist" % path,
                            hint="check path, or take one with state: saved")
    size = os.path.getsize(path)
    if size < 1024 or size % 512 != SHA256_SIZE:
        raise SnapshotError(
            "snapshot %s is truncated or not an etcd snapshot: its size %d is not a database "
            "followed by a 32-byte sha256" % (path, size),
            hint="use another backup; a database copied from a data dir is not a snapshot")
    body = hashlib.sha256()
    whole = hashlib.sha256()
    limit = size - SHA256_SIZE
    read = 0
    tail = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            whole.update(block)
            if read < limit:
                body.update(block[:max(0, limit - read)])
            if read + len(block) > limit:
                tail += block[max(0, limit - read):]
            read += len(block)
    if read != size or body.digest() != tail:
        raise SnapshotError("snapshot %s is corrupt: its embedded sha256 does not match its "
                            "content" % path, hint="use another backup")
    return {"size": size, "sha256": whole.hexdigest()}


def read_checksum_file(path):
    """The hex digest of a ``sha256sum``-style file (``HEX  NAME``) or a bare digest."""
    with open(path) as handle:
        text = handle.read().strip()
    match = re.match(r"^([0-9a-fA-F]{64})\b", text)
    if not match:
        raise SnapshotError("%s does not hold a sha256 digest" % path,
                            hint="rewrite it as '<sha256>  <file name>' or pass checksum")
    return match.group(1).lower()


def checksum_line(digest, path):
    return "%s  %s\n" % (digest, os.path.basename(path))


def restore_marker(sha256, name, initial_cluster, token, peer_urls):
    """What identifies 'a restore of this snapshot for this member' (stored in the data dir)."""
    return {"snapshot_sha256": sha256, "name": name,
            "initial_cluster": ",".join(sorted(i.strip() for i in initial_cluster.split(","))),
            "initial_cluster_token": token, "initial_advertise_peer_urls": normalize_urls(peer_urls)}


def same_restore(marker, wanted):
    if not isinstance(marker, dict):
        return False
    return all(marker.get(k) == v for k, v in wanted.items())
