# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""Unit-test helpers: import the collection as ansible_collections.ezops.etcd, load the recorded
etcdctl outputs, and a stateful fake etcd cluster to put behind EtcdClient's one seam."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORDED_VERSIONS = ["3.4.23", "3.5.16"]


def _collection_root():
    """A directory whose ansible_collections/ezops/etcd is this working tree."""
    for parent in REPO.parents:
        if parent.name == "ansible_collections":  # running inside an ansible_collections tree
            return str(parent.parent)
    cached = REPO / ".cache" / "collections"
    if (cached / "ansible_collections" / "ezops" / "etcd" / "plugins").exists():
        return str(cached)
    root = Path(tempfile.mkdtemp(prefix="ezops-units-"))
    (root / "ansible_collections" / "ezops").mkdir(parents=True)
    (root / "ansible_collections" / "ezops" / "etcd").symlink_to(REPO)
    return str(root)


if "ansible_collections.ezops.etcd" not in sys.modules:
    sys.path.insert(0, _collection_root())


def recorded(version, name):
    """One recorded command: {'args', 'rc', 'stdout', 'stderr'}."""
    return json.loads((FIXTURES / version / (name + ".json")).read_text())


def sha256_of(path):
    """The hex sha256 of a file, to compare with what the snapshot code reports."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def make_snapshot(path, pages=8, seed=b"etcd"):
    """A file shaped like an etcd snapshot: bolt pages then the sha256 of them."""
    body = (hashlib.sha256(seed).digest() * 128)[:4096] * pages
    Path(path).write_bytes(body + hashlib.sha256(body).digest())
    return str(path)


class FakeModule:
    """Just what EtcdClient and the *Ops classes use of AnsibleModule."""

    def __init__(self, params=None, check_mode=False):
        base = {"endpoints": ["https://127.0.0.1:2379"], "cacert": None, "cert": None,
                "key": None, "user": None, "password": None, "command_timeout": 30,
                "etcdctl_path": None, "etcdutl_path": None}
        base.update(params or {})
        self.params = base
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)

    def get_bin_path(self, name):
        return None

    def run_command(self, argv, environ_update=None, check_rc=False):  # pragma: no cover
        raise AssertionError("unit tests must not run commands: %s" % argv)


class FakeEtcd:
    """A small etcd cluster that answers etcdctl/etcdutl argument lists like the real ones
    (the same JSON shapes as the recorded fixtures: decimal uint64 IDs, omitted false fields)."""

    CLUSTER_ID = 11876362747472953677

    def __init__(self, version="3.5.16", members=3):
        self.version = version
        self.members = []
        self.calls = []
        self.down = set()           # client URLs that do not answer
        self.unhealthy = set()      # client URLs that answer status but fail health
        self.alarms = []
        self.revision = 10
        self.compacted = 0
        self.db = {}                # client URL -> [db_size, in_use]
        self.promote_failures = 0   # 'not in sync' answers before a promote succeeds
        self.fail = {}              # command word -> (rc, stderr) to return once
        self.envs = []              # the environment of every call
        self.auth = None            # (user, password) etcd requires, None when auth is off
        self.cluster_version = ".".join(version.split(".")[:2]) + ".0"
        self.cluster_version_steps = []  # cluster versions GET /version reports next, one per call
        for i in range(members):
            self.add_member("m%d" % (i + 1), "https://10.0.0.%d:2380" % (i + 1),
                            "https://10.0.0.%d:2379" % (i + 1))
        self.leader = self.members[0]["ID"] if self.members else 0

    # --- state --------------------------------------------------------------------------------
    def add_member(self, name, peer, client=None, learner=False):
        member_id = int(hashlib.sha256(peer.encode()).hexdigest()[:16], 16)
        member = {"ID": member_id, "peerURLs": [peer]}
        if name:
            member["name"] = name
        if client:
            member["clientURLs"] = [client]
            self.db[client] = [4 * 1048576, 1048576]
        if learner:
            member["isLearner"] = True
        self.members.append(member)
        return member

    def hex_id(self, name):
        return "%x" % [m for m in self.members if m.get("name") == name][0]["ID"]

    def by_hex(self, hex_id):
        found = [m for m in self.members if "%x" % m["ID"] == hex_id]
        return found[0] if found else None

    def _header(self, member_id=None):
        return {"cluster_id": self.CLUSTER_ID, "member_id": member_id or self.leader,
                "raft_term": 2}

    # --- the seam -------------------------------------------------------------------------------
    def __call__(self, argv, env):
        self.calls.append(list(argv))
        self.envs.append(dict(env))
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
        assert env["LANG"] == "C" and env["ETCDCTL_API"] == "3"
        tool = os.path.basename(argv[0])
        words = [a for a in argv[1:] if not a.startswith("--") and a not in ("-w", "json")]
        flags = dict(a[2:].split("=", 1) for a in argv[1:] if a.startswith("--") and "=" in a)
        endpoints = flags.get("endpoints", "").split(",")
        for var in env:
            flag = var[len("ETCDCTL_"):].lower().replace("_", "-")
            if var.startswith("ETCDCTL_") and var != "ETCDCTL_API" and flag in flags:
                return 1, "", ('{"level":"fatal","msg":"conflicting environment variable is '
                               'shadowed by corresponding command-line flag (either unset '
                               'environment variable or disable flag)","environment-variable":'
                               '"%s"}\n' % var)
        online = "endpoints" in flags
        if online and self.auth and (env.get("ETCDCTL_USER"), env.get("ETCDCTL_PASSWORD")) != \
                self.auth:
            return 1, "", ("Error: etcdserver: authentication failed, invalid user ID or "
                           "password\n")
        key = " ".join(words[:2])
        if key in self.fail or words[:1] and words[0] in self.fail:
            return self.fail.pop(key if key in self.fail else words[0])
        if words == ["version"]:
            return 0, "%s version: %s\nAPI version: %s\n" % (
                tool, self.version, ".".join(self.version.split(".")[:2])), ""
        handler = getattr(self, "cmd_" + "_".join(w.replace("-", "_") for w in words[:2]), None)
        if handler is None:
            handler = getattr(self, "cmd_" + words[0].replace("-", "_"))
        return handler(words, flags, endpoints, argv)

    def http_get(self, endpoint, path):
        """EtcdClient._http_get: etcd's GET /version."""
        self.calls.append(["GET", endpoint, path])
        if endpoint in self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        if self.cluster_version_steps:
            self.cluster_version = self.cluster_version_steps.pop(0)
        assert path == "/version", path
        return 200, json.dumps({"etcdserver": self.version, "etcdcluster": self.cluster_version})

    def peer_certificate(self, endpoint):
        """EtcdClient._peer_certificate: the certificate an endpoint serves, as ssl's getpeercert() parses it."""
        self.calls.append(["TLS", endpoint])
        if endpoint in self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        host = endpoint.split("//")[1].split(":")[0]
        return {"subject": ((("commonName", "etcd"),),), "issuer": ((("commonName", "kubernetes"),),),
                "serialNumber": "00AB%02X" % len(host), "notAfter": "Dec  1 00:00:00 2036 GMT",
                "subjectAltName": (("IP Address", host),)}

    # --- etcdctl commands ---------------------------------------------------------------------
    def _live(self, endpoints):
        return [ep for ep in endpoints if ep not in self.down]

    def cmd_member_list(self, words, flags, endpoints, argv):
        if not self._live(endpoints):
            return 1, "", "Error: context deadline exceeded\n"
        return 0, json.dumps({"header": self._header(), "members": self.members}) + "\n", ""

    def cmd_member_add(self, words, flags, endpoints, argv):
        peer = flags["peer-urls"]
        if any(peer in m["peerURLs"] for m in self.members):
            return 1, "", "Error: etcdserver: Peer URLs already exists\n"
        learner = "--learner" in argv
        if learner and any(m.get("isLearner") for m in self.members):
            return 1, "", "Error: etcdserver: too many learner members in cluster\n"
        member = self.add_member("", peer, learner=learner)
        return 0, json.dumps({"header": self._header(), "member": member,
                              "members": self.members}) + "\n", ""

    def cmd_member_update(self, words, flags, endpoints, argv):
        member = self.by_hex(words[2])
        if member is None:
            return 1, "", "Error: etcdserver: member not found\n"
        member["peerURLs"] = flags["peer-urls"].split(",")
        return 0, "Member %s updated in cluster %x\n" % (words[2], self.CLUSTER_ID), ""

    def cmd_member_remove(self, words, flags, endpoints, argv):
        member = self.by_hex(words[2])
        if member is None:
            return 1, "", "Error: etcdserver: member not found\n"
        self.members.remove(member)
        return 0, "Member %s removed from cluster %x\n" % (words[2], self.CLUSTER_ID), ""

    def cmd_member_promote(self, words, flags, endpoints, argv):
        assert "json" not in argv, "etcdctl crashes printing promote as JSON"
        member = self.by_hex(words[2])
        if member is None:
            return 1, "", "Error: etcdserver: member not found\n"
        if not member.get("isLearner"):
            return 1, "", "Error: etcdserver: can only promote a learner member\n"
        if self.promote_failures:
            self.promote_failures -= 1
            return 1, "", ("Error: etcdserver: can only promote a learner member which is in "
                           "sync with leader\n")
        del member["isLearner"]
        return 0, "Member %s promoted in cluster %x\n" % (words[2], self.CLUSTER_ID), ""

    def _member_at(self, endpoint):
        for member in self.members:
            if endpoint in member.get("clientURLs", []):
                return member
        return None

    def cmd_endpoint_status(self, words, flags, endpoints, argv):
        out, err = [], ""
        for ep in endpoints:
            member = self._member_at(ep)
            if ep in self.down or member is None:
                err += "Failed to get the status of endpoint %s (context deadline exceeded)\n" % ep
                continue
            size, in_use = self.db.get(ep, [20480, 16384])
            status = {"header": dict(self._header(member["ID"]), revision=self.revision),
                      "version": self.version, "dbSize": size, "leader": self.leader,
                      "raftIndex": 100, "raftTerm": 2, "raftAppliedIndex": 100,
                      "dbSizeInUse": in_use}
            if self.alarms:
                status["errors"] = ["memberID:%d alarm:%s " % (m, {1: "NOSPACE", 2: "CORRUPT"}[t])
                                    for m, t in map(self._alarm, self.alarms)]
            out.append({"Endpoint": ep, "Status": status})
        return (1 if err else 0), (json.dumps(out) + "\n") if out else "", err

    def cmd_endpoint_health(self, words, flags, endpoints, argv):
        out = []
        for ep in endpoints:
            if ep in self.down or ep in self.unhealthy:
                out.append({"endpoint": ep, "health": False, "took": "2s",
                            "error": "context deadline exceeded"})
            else:
                out.append({"endpoint": ep, "health": True, "took": "3ms"})
        bad = any(not o["health"] for o in out)
        return (1 if bad else 0), json.dumps(out) + "\n", "Error: unhealthy cluster\n" if bad else ""

    @staticmethod
    def _alarm(item):
        """An alarm is a member ID (NOSPACE) or a (member ID, 1 NOSPACE | 2 CORRUPT) pair."""
        return tuple(item) if isinstance(item, (tuple, list)) else (item, 1)

    def cmd_alarm_list(self, words, flags, endpoints, argv):
        data = {"header": self._header()}
        if self.alarms:
            data["alarms"] = [{"memberID": m, "alarm": t} for m, t in map(self._alarm, self.alarms)]
        return 0, json.dumps(data) + "\n", ""

    def cmd_alarm_disarm(self, words, flags, endpoints, argv):
        self.alarms = []
        return 0, "", ""

    def cmd_move_leader(self, words, flags, endpoints, argv):
        self.leader = self.by_hex(words[1])["ID"]
        return 0, "Leadership transferred from %x to %s\n" % (self.leader, words[1]), ""

    def cmd_get(self, words, flags, endpoints, argv):
        if int(flags["rev"]) < self.compacted:
            return 1, "", "Error: etcdserver: mvcc: required revision has been compacted\n"
        return 0, json.dumps({"header": self._header(), "count": 0}) + "\n", ""

    def cmd_compaction(self, words, flags, endpoints, argv):
        rev = int(words[1])
        if rev <= self.compacted:
            return 1, "", "Error: etcdserver: mvcc: required revision has been compacted\n"
        if rev > self.revision:
            return 1, "", "Error: etcdserver: mvcc: required revision is a future revision\n"
        self.compacted = rev
        return 0, "compacted revision %d\n" % rev, ""

    def cmd_defrag(self, words, flags, endpoints, argv):
        assert len(endpoints) == 1
        self.db[endpoints[0]][0] = self.db[endpoints[0]][1]
        return 0, "Finished defragmenting etcd member[%s]\n" % endpoints[0], ""

    # --- snapshots ----------------------------------------------------------------------------
    def cmd_snapshot_save(self, words, flags, endpoints, argv):
        assert len(endpoints) == 1, "snapshot save takes one endpoint"
        if endpoints[0] in self.down:
            return 1, "", "Error: context deadline exceeded\n"
        make_snapshot(words[2], seed=str(self.revision).encode())
        return 0, "Snapshot saved at %s\n" % words[2], ""

    def cmd_snapshot_status(self, words, flags, endpoints, argv):
        return 0, json.dumps({"hash": 1044484733, "revision": self.revision, "totalKey": 5,
                              "totalSize": 20480}) + "\n", ""

    def cmd_snapshot_restore(self, words, flags, endpoints, argv):
        if "--help" in argv:
            text = recorded_help(self.version)
            return 0, text, ""
        data_dir = argv[argv.index("--data-dir") + 1]
        if os.path.exists(data_dir):
            return 1, "", "Error: data-dir %r exists\n" % data_dir
        wal = argv[argv.index("--wal-dir") + 1] if "--wal-dir" in argv else None
        os.makedirs(os.path.join(data_dir, "member", "snap"), 0o700)
        with open(os.path.join(data_dir, "member", "snap", "db"), "wb") as handle:
            handle.write(b"restored")
        os.makedirs(wal or os.path.join(data_dir, "member", "wal"), 0o700)
        return 0, "", ""


def recorded_help(version):
    if version in ("3.4.23",):
        return "--data-dir=\"\"\n--initial-cluster=...\n--skip-hash-check\n--wal-dir\n"
    return ("--bump-revision uint   How much to increase the latest revision after restore\n"
            "--mark-compacted       Mark the latest revision after restore as the point of "
            "scheduled compaction\n--data-dir string\n")


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result.get("msg"))
        self.result = result
        self.failed = failed


def run_main(main, args, check_mode=False, diff=False):
    """Run a module's main() in-process with ``args``; -> (result dict, failed)."""
    from unittest import mock
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise ModuleExit(kwargs, True)

    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, "exit_json", exit_json), \
            mock.patch.object(basic.AnsibleModule, "fail_json", fail_json):
        try:
            main()
        except ModuleExit as exc:
            return exc.result, exc.failed
    raise AssertionError("the module returned without exit_json or fail_json")


def path_states(root):
    """Every path below ``root`` with its content (files), mode, owner, group and mtime: to prove that
    a run changed nothing (a re-run, check mode, a refusal)."""
    import stat as stat_mod

    found = {}
    for base, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            if stat_mod.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    content = handle.read()
            else:
                content = None
            found[path] = (content, st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns)
    return found
