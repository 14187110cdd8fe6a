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
SHA256_SIZE = 32
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

    def to_result(self):
        msg = self.message
        if self.hint:
            msg = "%s. Fix: %s" % (msg.rstrip("."), self.hint)
        result = {"msg": msg, "error_kind": self.kind}
        for key in ("cmd", "rc", "stdout", "stderr"):
            value = getattr(self, key)
            if value is not None:
                result[key] = value
        result.update(self.extra)
        return result


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


def parse_version(text):
    """'etcdctl version: 3.5.16' or '3.4.23' -> '3.5.16' (None when absent)."""
    match = re.search(r"(\d+\.\d+\.\d+)", text or "")
    return match.group(1) if match else None


def version_tuple(version):
    if not version:
        return (0, 0, 0)
    parts = re.findall(r"\d+", version)[:3]
    return tuple(int(p) for p in parts + ["0"] * (3 - len(parts)))


def version_at_least(version, minimum):
    return version_tuple(version) >= tuple(minimum)


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
    reasons = []
    if leader_id is None:
        reasons.append("the cluster has no leader")
    sick = [member_key(m) for m in voters if m["id"] != target_id and m["id"] not in healthy]
    if sick:
        reasons.append("the cluster is unhealthy: member(s) %s do not answer or report unhealthy"
                       % ", ".join(sorted(sick)))
    remaining = [m for m in voters if m["id"] != target_id]
    healthy_remaining = len([m for m in remaining if m["id"] in healthy])
    needed = quorum(len(remaining))
    if healthy_remaining < needed:
        reasons.append("removal would leave %d healthy voting member(s), fewer than the quorum "
                       "of %d for a cluster of %d" % (healthy_remaining, needed, len(remaining)))
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


def diff_members(before, after):
    """-> {'added': [...], 'removed': [...], 'changed': [...]} keyed by member id."""
    old = dict((m["id"], m) for m in before)
    new = dict((m["id"], m) for m in after)
    changed = [new[i] for i in new if i in old and (
        normalize_urls(new[i]["peer_urls"]) != normalize_urls(old[i]["peer_urls"])
        or new[i]["is_learner"] != old[i]["is_learner"])]
    return {"added": [new[i] for i in new if i not in old],
            "removed": [old[i] for i in old if i not in new],
            "changed": changed}


def defrag_order(statuses):
    """Followers first, the leader last (defragmenting blocks a member's writes)."""
    return sorted(statuses, key=lambda s: (s["is_leader"], s["endpoint"]))


def compaction_target(current_revision, requested=None):
    """-> (revision to compact to, or None when there is nothing to compact)."""
    target = current_revision if requested is None else int(requested)
    if target > current_revision:
        raise EtcdRefused("revision %d is in the future: the current revision is %d"
                          % (target, current_revision),
                          hint="omit revision to compact to the current one")
    if target <= 1:
        return None
    return target


# --- snapshot files -------------------------------------------------------------------------------
def snapshot_integrity(path, chunk=1024 * 1024):
    """Check the sha256 that ``etcdctl snapshot save`` appends to the bolt database.

    -> {'size': n, 'sha256': hex of the whole file}. Raises SnapshotError for a missing, empty,
    truncated or corrupted file (snapshot status itself does not notice them, or crashes)."""
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


def file_sha256(path, chunk=1024 * 1024):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


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
