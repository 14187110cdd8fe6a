# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

import os
import socket
import threading

import pytest

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_client as eclient
from ansible_collections.ezops.etcd.plugins.module_utils import etcd_common as ec
from etcd_fakes import FakeModule, recorded


class Recorder:
    """A seam that records argv/env and answers from a list of (rc, stdout, stderr)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, argv, env):
        self.calls.append((argv, env))
        return self.answers.pop(0) if self.answers else (0, "", "")


def client_with(monkeypatch, tmp_path, answers=(), probe=None, **params):
    for name in ("etcdctl", "etcdutl"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    params.setdefault("etcdctl_path", str(tmp_path / "etcdctl"))
    module = FakeModule(params)
    recorder = Recorder(*answers)
    monkeypatch.setattr(eclient.EtcdClient, "_run_command", lambda self, a, e: recorder(a, e))
    monkeypatch.setattr(eclient.EtcdClient, "probe",
                        probe or (lambda self, ep: (ep, None, "answers")))
    return eclient.EtcdClient(module), recorder


# --- argument lists --------------------------------------------------------------------------
def test_argv_carries_endpoints_tls_timeouts_and_json(monkeypatch, tmp_path):
    for name in ("ca.pem", "etcd.pem", "etcd-key.pem"):
        (tmp_path / name).write_text("x")
    client, rec = client_with(monkeypatch, tmp_path, endpoints=["https://a:2379,https://b:2379"],
                              cacert=str(tmp_path / "ca.pem"), cert=str(tmp_path / "etcd.pem"),
                              key=str(tmp_path / "etcd-key.pem"), user="root",
                              password="s3cret", command_timeout=12)
    client.ctl(["member", "list"])
    argv, env = rec.calls[0]
    assert argv == [str(tmp_path / "etcdctl"), "--endpoints=https://a:2379,https://b:2379",
                    "--dial-timeout=5s", "--command-timeout=12s",
                    "--cacert=" + str(tmp_path / "ca.pem"), "--cert=" + str(tmp_path / "etcd.pem"),
                    "--key=" + str(tmp_path / "etcd-key.pem"),
                    "-w", "json", "member", "list"]
    assert not any("s3cret" in a for a in argv)          # never on the command line
    # the credentials travel in the environment only, so no --user flag may shadow them
    assert env == {"LANG": "C", "LC_ALL": "C", "ETCDCTL_API": "3", "ETCDCTL_USER": "root",
                   "ETCDCTL_PASSWORD": "s3cret"}


@pytest.mark.parametrize("empty", [None, ""])
def test_null_tls_options_pass_no_tls_flags(monkeypatch, tmp_path, empty):
    client, rec = client_with(monkeypatch, tmp_path, endpoints=["http://127.0.0.1:2379"],
                              cacert=empty, cert=empty, key=empty, command_timeout=2)
    client.ctl(["endpoint", "status"], json_output=False)
    argv = rec.calls[0][0]
    assert not [a for a in argv if a.startswith(("--cacert", "--cert", "--key", "--user"))]
    assert "--dial-timeout=2s" in argv and "json" not in argv


def test_missing_tls_file_is_a_config_error_naming_the_option(monkeypatch, tmp_path):
    client, rec = client_with(monkeypatch, tmp_path, cacert="/nonexistent/ca.pem")
    with pytest.raises(ec.EtcdConfigError, match="cacert /nonexistent/ca.pem does not exist"):
        client.ctl(["member", "list"])
    assert rec.calls == []


def test_cert_without_key_is_refused(monkeypatch, tmp_path):
    (tmp_path / "c.pem").write_text("x")
    client, _rec = client_with(monkeypatch, tmp_path, cert=str(tmp_path / "c.pem"), key=None)
    with pytest.raises(ec.EtcdConfigError, match="cert and key go together"):
        client.ctl(["member", "list"])


def test_etcdctl_environment_variables_are_dropped(monkeypatch):
    monkeypatch.setenv("ETCDCTL_ENDPOINTS", "https://x:2379")
    monkeypatch.setenv("ETCDCTL_CACERT", "/x")
    seen = {}

    class Module(FakeModule):
        def run_command(self, argv, environ_update=None, check_rc=False):
            seen["env"] = {k: v for k, v in os.environ.items() if k.startswith("ETCDCTL_")}
            seen["update"] = environ_update
            return 0, "", ""

    client = eclient.EtcdClient(Module())
    client._run_command(["etcdctl", "version"], {"LANG": "C"})
    assert seen["env"] == {} and seen["update"] == {"LANG": "C"}


def test_empty_endpoints_are_refused():
    with pytest.raises(ec.EtcdConfigError, match="endpoints is empty"):
        eclient.EtcdClient(FakeModule({"endpoints": [" ", ""]}))


# --- binaries and version -------------------------------------------------------------------
def test_explicit_binary_must_be_executable(tmp_path):
    client = eclient.EtcdClient(FakeModule({"etcdctl_path": str(tmp_path / "missing")}))
    with pytest.raises(ec.EtcdConfigError, match="etcdctl_path .* is not an executable"):
        client.binary("etcdctl")


def test_binary_search_order(monkeypatch, tmp_path):
    kube = tmp_path / "opt-kube-bin"
    kube.mkdir()
    (kube / "etcdctl").write_text("#!/bin/sh\n")
    (kube / "etcdctl").chmod(0o755)
    monkeypatch.setattr(eclient, "DEFAULT_BIN_DIRS", (str(kube),))
    module = FakeModule()
    module.get_bin_path = lambda name: "/usr/bin/" + name
    client = eclient.EtcdClient(module)
    assert client.binary("etcdctl") == str(kube / "etcdctl")    # kubeasz bin_dir first
    assert client.binary("etcdutl") == "/usr/bin/etcdutl"      # then PATH
    module.get_bin_path = lambda name: None
    with pytest.raises(ec.EtcdConfigError, match="etcdutl was found neither"):
        eclient.EtcdClient(module).binary("etcdutl")


def test_etcdutl_is_looked_for_next_to_etcdctl(monkeypatch, tmp_path):
    monkeypatch.setattr(eclient, "DEFAULT_BIN_DIRS", (str(tmp_path / "none"),))
    client, _rec = client_with(monkeypatch, tmp_path)
    assert client.binary("etcdutl") == str(tmp_path / "etcdutl")


@pytest.mark.parametrize("version, has_etcdutl, tool", [
    ("3.4.23", False, "etcdctl"),
    ("3.5.16", True, "etcdutl"),
    ("3.5.16", False, "etcdctl"),     # 3.5 still has the deprecated etcdctl snapshot commands
    ("3.6.5", True, "etcdutl"),
])
def test_offline_tool_follows_the_version(monkeypatch, tmp_path, version, has_etcdutl, tool):
    monkeypatch.setattr(eclient, "DEFAULT_BIN_DIRS", (str(tmp_path / "none"),))
    client, rec = client_with(monkeypatch, tmp_path,
                              answers=[(0, "etcdctl version: %s\nAPI version: 3\n" % version, "")])
    if not has_etcdutl:
        os.unlink(str(tmp_path / "etcdutl"))
    assert client.offline_tool()[0] == tool
    assert client.version() == version and len(rec.calls) == 1   # asked once


def test_etcd_36_without_etcdutl_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setattr(eclient, "DEFAULT_BIN_DIRS", (str(tmp_path / "none"),))
    client, _rec = client_with(monkeypatch, tmp_path, answers=[(0, "etcdctl version: 3.6.0", "")])
    os.unlink(str(tmp_path / "etcdutl"))
    with pytest.raises(ec.EtcdConfigError, match="etcdutl"):
        client.offline_tool()


@pytest.mark.parametrize("version", ["3.4.23", "3.5.16"])
def test_version_from_recorded_output(monkeypatch, tmp_path, version):
    rec = recorded(version, "version")
    client, _r = client_with(monkeypatch, tmp_path, answers=[(0, rec["stdout"], "")])
    assert client.version() == version


def test_unparseable_version_is_an_error(monkeypatch, tmp_path):
    client, _r = client_with(monkeypatch, tmp_path, answers=[(0, "not etcdctl", "")])
    with pytest.raises(ec.EtcdCommandError, match="cannot tell the etcdctl version"):
        client.version()


def test_restore_bump_support_is_detected_from_help(monkeypatch, tmp_path):
    client, rec = client_with(monkeypatch, tmp_path, answers=[
        (0, "etcdctl version: 3.5.16", ""), (0, "--bump-revision uint\n--mark-compacted\n", "")])
    assert client.restore_supports_bump() is True
    assert rec.calls[1][0][-3:] == ["snapshot", "restore", "--help"]


# --- typed errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["3.4.23", "3.5.16"])
@pytest.mark.parametrize("name, cls", [
    ("permission_denied", ec.EtcdPermissionDenied),
    ("member_remove_not_found", ec.EtcdMemberNotFound),
    ("put_nospace", ec.EtcdNoSpace),
    ("auth_failed", ec.EtcdPermissionDenied),
])
def test_recorded_failures_become_typed_errors(monkeypatch, tmp_path, version, name, cls):
    rec = recorded(version, name)
    client, _r = client_with(monkeypatch, tmp_path, answers=[(rec["rc"], rec["stdout"], rec["stderr"])])
    with pytest.raises(cls) as info:
        client.ctl(rec["args"])
    assert info.value.rc == rec["rc"] and info.value.cmd[0].endswith("etcdctl")
    assert info.value.hint and "Fix:" in info.value.to_result()["msg"]


@pytest.mark.parametrize("probes, cls, words", [
    ([("a", "tls", "its certificate is not trusted")], ec.EtcdTLSError, "not trusted"),
    ([("a", "unreachable", "refused"), ("b", "unreachable", "refused")], ec.EtcdUnreachable,
     "a, b: refused"),
    ([("a", None, "answers"), ("b", "unreachable", "refused")], ec.EtcdTimeout, "unreachable: b"),
    ([("a", None, "answers")], ec.EtcdTimeout, "context deadline exceeded"),
    ([("a", "suspect_tls", "dropped")], ec.EtcdTLSError, "dropped"),
])
def test_ambiguous_timeouts_are_refined_by_probing(monkeypatch, tmp_path, probes, cls, words):
    answers = dict((p[0], p) for p in probes)
    client, _r = client_with(
        monkeypatch, tmp_path, endpoints=[p[0] for p in probes],
        answers=[(1, "", recorded("3.4.23", "wrong_ca")["stderr"])],
        probe=lambda self, ep: answers[ep])
    with pytest.raises(cls, match=words):
        client.ctl(["member", "list"], endpoints=[p[0] for p in probes])


def test_preflight_skips_dead_endpoints_and_fails_fast_when_none_answer(monkeypatch, tmp_path):
    client, rec = client_with(
        monkeypatch, tmp_path, endpoints=["a", "b"],
        probe=lambda self, ep: (ep, "unreachable", "refused") if ep == "b" else (ep, None, "ok"))
    client.ctl(["member", "list"])
    assert rec.calls[0][0][1] == "--endpoints=a"
    client, rec = client_with(monkeypatch, tmp_path, endpoints=["a", "b"],
                              probe=lambda self, ep: (ep, "tls", "not trusted by cacert x"))
    with pytest.raises(ec.EtcdTLSError, match="a, b: not trusted by cacert x"):
        client.ctl(["member", "list"])
    assert rec.calls == []


def test_offline_tool_crash_is_reported_as_a_crash(monkeypatch, tmp_path):
    client, _r = client_with(monkeypatch, tmp_path, answers=[
        (0, "etcdctl version: 3.5.16", ""),
        (2, "", "unexpected fault address 0x7f\nfatal error: fault\n[signal SIGBUS: bus error]")])
    with pytest.raises(ec.SnapshotError, match="crashed"):
        client.util(["snapshot", "status", "/x.db"])


# --- cluster observations on recorded output -------------------------------------------------
@pytest.mark.parametrize("version", ["3.4.23", "3.5.16"])
def test_cluster_info_with_one_endpoint_down(monkeypatch, tmp_path, version):
    status = recorded(version, "endpoint_status_one_down")
    health = recorded(version, "endpoint_health_one_down")
    members = recorded(version, "member_list")
    alarms = recorded(version, "alarm_list")
    down = list(ec.failed_status_endpoints(status["stderr"]))[0]
    endpoints = [h["endpoint"] for h in ec.parse_endpoint_health(health["stdout"])]
    client, rec = client_with(monkeypatch, tmp_path, endpoints=endpoints, answers=[
        (status["rc"], status["stdout"], status["stderr"]),
        (0, "[%s]" % ",".join('{"endpoint":"%s","health":true,"took":"1ms"}' % e
                              for e in endpoints if e != down), ""),
        (0, members["stdout"], ""), (0, alarms["stdout"], "")])
    info = client.cluster_info()
    assert info["failed_endpoints"] == [down]
    assert info["healthy"] is False
    assert len(info["endpoints"]) == 2 and info["leader"]
    assert info["cluster_id"] == ec.parse_member_list(members["stdout"])[0]
    assert info["version"] == version and len(info["members"]) == 4
    assert [h["health"] for h in info["health"]].count(False) == 1


@pytest.mark.parametrize("version", ["3.4.23", "3.5.16"])
def test_cluster_info_healthy_and_nospace(monkeypatch, tmp_path, version):
    status = recorded(version, "endpoint_status_nospace")
    health = recorded(version, "endpoint_health_nospace")
    alarms = recorded(version, "alarm_list_nospace")
    endpoint = ec.parse_endpoint_status(status["stdout"])[0]["endpoint"]
    client, _r = client_with(monkeypatch, tmp_path, endpoints=[endpoint], answers=[
        (0, status["stdout"], ""), (health["rc"], health["stdout"], health["stderr"]),
        (0, '{"header":{"cluster_id":1},"members":[]}', ""), (0, alarms["stdout"], "")])
    info = client.cluster_info()
    assert [a["alarm"] for a in info["alarms"]] == ["NOSPACE"]
    assert info["healthy"] is False       # an active alarm makes the cluster read-only
    assert info["failed_endpoints"] == []    # it answered
    # etcd 3.5 reports the alarm in the health check too, 3.4 does not
    assert [h["health"] for h in info["health"]] == [version != "3.5.16"]


def test_cluster_info_can_report_instead_of_failing(monkeypatch, tmp_path):
    client, _r = client_with(monkeypatch, tmp_path, endpoints=["a"],
                             probe=lambda self, ep: (ep, "unreachable", "refused"))
    with pytest.raises(ec.EtcdUnreachable):
        client.cluster_info()
    info = client.cluster_info(fail_on_unreachable=False)
    assert info["healthy"] is False and info["failed_endpoints"] == ["a"]
    assert info["error_kind"] == "unreachable"


def test_summarize_needs_a_leader_for_health():
    statuses = [{"endpoint": "a", "id": "1", "leader": None, "version": "3.5.16",
                 "revision": 3, "cluster_id": "c"}]
    info = eclient.summarize(statuses, {}, [{"endpoint": "a", "health": True}], [], [], None, [])
    assert info["healthy"] is False and info["leader"] is None and info["cluster_id"] == "c"


def status_of(endpoint, member_id, leader="1", learner=False):
    return {"endpoint": endpoint, "id": member_id, "leader": leader, "version": "3.5.16",
            "revision": 3, "cluster_id": "c", "is_learner": learner}


@pytest.mark.parametrize(
    "learner_leader, learner_is_learner, expected",
    [
        ("1", True, True),     # a learner catching up: it answers, follows the leader
        ("9", True, False),    # a learner that follows another leader: not healthy
        (None, True, False),   # a learner without a leader
        ("1", False, False),   # a voter whose health check fails is never excused
    ],
)
def test_summarize_excuses_only_a_learner_following_the_leader(learner_leader, learner_is_learner, expected):
    statuses = [status_of("a", "1"), status_of("b", "2"),
                status_of("c", "3", leader=learner_leader, learner=learner_is_learner)]
    health = [{"endpoint": "a", "health": True}, {"endpoint": "b", "health": True},
              {"endpoint": "c", "health": False, "error": "rpc not supported for learner"}]
    info = eclient.summarize(statuses, {}, health, [], [], None, [])
    assert info["healthy"] is expected
    assert info["health"][2]["health"] is False  # the health list stays what etcd said


@pytest.mark.parametrize(
    "alarms, health, leader_of_b, readable",
    [
        ([], True, "1", True),
        ([{"member_id": "1", "alarm": "NOSPACE"}], False, "1", True),   # etcd 3.5: every health check fails
        ([{"member_id": "1", "alarm": "NOSPACE"}], False, None, False),  # a member without a leader
        ([{"member_id": "1", "alarm": "CORRUPT"}], False, "1", False),
        ([], False, "1", False),                                         # unhealthy without an alarm
    ],
)
def test_readable_lets_a_nospace_alarm_through_but_not_corrupt(alarms, health, leader_of_b, readable):
    statuses = [status_of("a", "1"), status_of("b", "2", leader=leader_of_b)]
    checks = [{"endpoint": "a", "health": health}, {"endpoint": "b", "health": health}]
    info = eclient.summarize(statuses, {}, checks, [], alarms, None, [])
    assert info["readable"] is readable
    assert info["healthy"] is (readable and not alarms)


def test_readable_needs_every_endpoint():
    info = eclient.summarize([status_of("a", "1")], {"b": "refused"}, [{"endpoint": "a", "health": True}],
                             [], [], None, [])
    assert info["readable"] is False and info["healthy"] is False


# --- the probe against real sockets ---------------------------------------------------------
def test_probe_refused_port(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    client = eclient.EtcdClient(FakeModule({"command_timeout": 2}))
    endpoint = "https://127.0.0.1:%d" % port
    assert client.probe(endpoint)[:2] == (endpoint, "unreachable")


def test_probe_plain_http_server_answers():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _addr = server.accept()
        conn.recv(1024)
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}')
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    client = eclient.EtcdClient(FakeModule({"command_timeout": 2}))
    endpoint = "http://127.0.0.1:%d" % server.getsockname()[1]
    assert client.probe(endpoint) == (endpoint, None, "answers")
    thread.join()
    server.close()


# --- credentials and connection checks (issue 8, defect 8) -----------------------------------
@pytest.mark.parametrize("user, password", [("root", "s3cret"), ("root:s3cret", None),
                                            ("root:s3cret", "s3cret")])
def test_credentials_go_through_the_environment_only(monkeypatch, tmp_path, user, password):
    client, rec = client_with(monkeypatch, tmp_path, user=user, password=password,
                              endpoints=["http://127.0.0.1:2379"])
    client.ctl(["member", "list"])
    argv, env = rec.calls[0]
    assert not [a for a in argv if "s3cret" in a or a.startswith(("--user", "--password"))]
    assert env["ETCDCTL_USER"] == "root" and env["ETCDCTL_PASSWORD"] == "s3cret"


def test_offline_commands_get_no_credentials(monkeypatch, tmp_path):
    client, rec = client_with(monkeypatch, tmp_path, user="root", password="s3cret",
                              answers=[(0, "etcdctl version: 3.5.16", ""), (0, "{}", "")])
    client.util(["snapshot", "status", "/x.db"], check=False)
    assert all("ETCDCTL_PASSWORD" not in env for _argv, env in rec.calls)


def test_user_is_no_log_and_secrets_are_collected():
    spec = eclient.connection_argument_spec()
    assert spec["user"]["no_log"] is True and spec["password"]["no_log"] is True
    assert eclient.secrets_of({"user": "root:s3cret", "password": None}) == ["root:s3cret", "s3cret"]
    assert eclient.secrets_of({"user": "root", "password": "pw"}) == ["pw"]
    assert eclient.secrets_of({}) == []


@pytest.mark.parametrize("params, words", [
    ({"endpoints": ["10.0.0.1:2379"]}, "is not a URL"),
    ({"endpoints": ["https://10.0.0.1"]}, "has no port"),
    ({"endpoints": ["http://10.0.0.1:2379", "https://10.0.0.2:2379"]}, "mix"),
    ({"endpoints": ["http://10.0.0.1:2379"], "cacert": "/etc/etcd/ca.pem"}, "cacert is set"),
    ({"endpoints": ["http://10.0.0.1:2379"], "cert": "/c.pem", "key": "/k.pem"},
     "cert and key are set"),
])
def test_connection_problems(params, words):
    problems = eclient.connection_problems(params)
    assert len(problems) == 1 and words in problems[0][0], problems


def test_http_endpoints_drop_the_default_tls_files(monkeypatch, tmp_path):
    assert eclient.connection_problems({"endpoints": ["http://127.0.0.1:2379"],
                                        "cacert": eclient.DEFAULT_CACERT,
                                        "cert": eclient.DEFAULT_CERT,
                                        "key": eclient.DEFAULT_KEY}) == []
    client, rec = client_with(monkeypatch, tmp_path, endpoints=["http://127.0.0.1:2379"],
                              cacert=eclient.DEFAULT_CACERT, cert=eclient.DEFAULT_CERT,
                              key=eclient.DEFAULT_KEY)
    client.ctl(["member", "list"])       # no "cacert ... does not exist": nothing to read
    assert not [a for a in rec.calls[0][0] if a.startswith(("--cacert", "--cert", "--key"))]
