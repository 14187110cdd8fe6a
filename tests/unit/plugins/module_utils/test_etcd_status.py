"""The status report (playbooks/status.yml): it prints when members are down, merges every member's view,
and names each problem."""

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.ezops.etcd.plugins.filter.etcd_status_report import FilterModule, etcd_status_report
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_certs import describe_pem
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_status import certificate_days, status_report

A, B, C = "10.0.0.1", "10.0.0.2", "10.0.0.3"
HOSTS = [A, B, C]
NOW = datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc)
IDS = {A: "a1", B: "b2", C: "c3"}


def url(host):
    return "https://%s:2379" % host


def member(host, learner=False, started=True):
    return {"id": IDS[host], "name": "etcd-%s" % host if started else "", "peer_urls": ["https://%s:2380" % host],
            "client_urls": [url(host)] if started else [], "is_learner": learner, "started": started}


def status(host, leader="a1", learner=False, db_size=4 * 2**20):
    return {"endpoint": url(host), "id": IDS[host], "version": "3.5.16", "db_size": db_size, "db_size_in_use": db_size,
            "leader": leader, "is_leader": IDS[host] == leader, "is_learner": learner, "revision": 7, "raft_term": 3,
            "raft_index": 42, "raft_applied_index": 42, "errors": []}


def view(up, down=(), alarms=(), members=None, leader="a1"):
    return {"endpoints": [status(h, leader=leader) for h in up],
            "health": [{"endpoint": url(h), "health": True, "took": "1ms", "error": ""} for h in up]
            + [{"endpoint": url(h), "health": False, "took": None, "error": "connection refused"} for h in down],
            "failed_endpoints": [url(h) for h in down],
            "failed_reasons": dict((url(h), "connection refused") for h in down),
            "members": [member(h) for h in HOSTS] if members is None else members,
            "alarms": list(alarms), "errors": []}


def row(report, host):
    return [line for line in report["lines"] if line.startswith("etcd-%s " % host)][0]


def make_pem(days_left, serial=None):
    """A real certificate whose not_after is ``days_left`` days (and an hour) from NOW."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=400))
            .not_valid_after(NOW + datetime.timedelta(days=days_left, hours=1))
            .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


def slurped(pem):
    """ansible.builtin.slurp's result for a certificate file."""
    return {"content": base64.b64encode(pem).decode(), "encoding": "base64", "source": "/etc/kubernetes/ssl/etcd.pem"}


def test_a_healthy_cluster_has_no_problem_and_both_tables():
    report = status_report(HOSTS, dict((h, view(HOSTS)) for h in HOSTS), cert_days={A: 300, B: 300, C: 300},
                           quota_bytes=8 * 2**20)
    assert report["healthy"] and report["problems"] == []
    assert "4.0 MiB (50 %)" in row(report, A) and row(report, A).endswith("healthy")
    assert "LEADER" in report["lines"][1] and "Member list:" in report["lines"]
    assert sum(1 for line in report["lines"] if line.startswith(("a1 ", "b2 ", "c3 "))) == 3


def test_a_member_that_is_down_is_a_row_with_the_reason_and_a_problem():
    views = {A: view([A, B], down=[C]), B: view([A, B], down=[C]), C: {"unreachable": True}}
    report = status_report(HOSTS, {A: views[A], B: views[B]}, unreachable={C: "unreachable: ssh timeout"})
    assert not report["healthy"]
    assert "down: connection refused (seen from %s, %s)" % (A, B) in row(report, C)
    assert any(p.startswith("%s did not answer" % C) for p in report["problems"])
    assert any("could not ask from %s" % C in p for p in report["problems"])
    assert row(report, A).endswith("healthy")


def test_one_vantage_point_is_enough_to_fill_a_row():
    # A is cut off from C, B reaches it: C's row comes from B's view
    report = status_report(HOSTS, {A: view([A, B], down=[C]), B: view(HOSTS), C: view(HOSTS)})
    assert row(report, C).endswith("healthy")
    assert report["healthy"], report["problems"]


def test_no_member_answering_still_prints_every_member():
    report = status_report(HOSTS, {}, unreachable=dict((h, "unreachable: no route") for h in HOSTS))
    assert not report["healthy"]
    assert all(row(report, h) for h in HOSTS)
    assert "(no member answered the member list)" in report["lines"]
    assert "asked from nowhere" in report["lines"][0]


def test_alarms_leaderless_members_and_a_missing_member_list_are_problems():
    alarmed = view(HOSTS, alarms=[{"member_id": "b2", "alarm": "NOSPACE"}])
    report = status_report(HOSTS, {A: alarmed})
    assert "alarm NOSPACE on member b2" in report["problems"]
    assert " NOSPACE " in row(report, B)
    assert "no member has a leader" in status_report(HOSTS, {A: view(HOSTS, leader="")})["problems"]
    assert "no member could list the members (no quorum?)" in status_report(HOSTS, {A: view(HOSTS, members=[])})["problems"]


def test_learners_and_unstarted_members_are_listed():
    members = [member(A), member(B), member(C, learner=True, started=False)]
    report = status_report([A, B], {A: view([A, B], members=members)})
    listed = [line for line in report["lines"] if line.startswith("c3 ")][0]
    assert "(unstarted)" in listed and " yes " in listed
    # a member of the member list that the inventory does not name still gets a row
    assert row(report, C).startswith("etcd-%s " % C)


def test_a_certificate_close_to_expiry_is_a_problem():
    report = status_report(HOSTS, dict((h, view(HOSTS)) for h in HOSTS), cert_days={A: 12, B: 300, C: 300},
                           min_cert_days=30)
    assert report["problems"] == ["the certificate %s serves expires in 12 days (under 30)" % A]


def test_cert_days_from_the_file_when_nothing_is_served():
    files = {A: describe_pem(make_pem(10)), B: describe_pem(make_pem(-3)), C: {"not_after": None, "serial": "3f"}}
    assert certificate_days({}, files, NOW) == ({A: 10, B: -3, C: None}, {})


def test_the_filter_adapts_registered_results():
    results = {A: view(HOSTS), B: {"failed": True, "msg": "TLS rejected"}, C: {"unreachable": True, "msg": "ssh: no route"}}
    certs = {A: slurped(make_pem(28)), B: {"skipped": True, "changed": False}}
    report = etcd_status_report(results, certs=certs, quota_bytes="8388608", now=NOW)
    assert "could not ask from %s: the query failed there: TLS rejected" % B in report["problems"]
    assert "could not ask from %s: unreachable: ssh: no route" % C in report["problems"]
    assert " 28 " in row(report, A)
    assert FilterModule().filters()["etcd_status_report"] is etcd_status_report


def test_the_filter_refuses_a_list():
    with pytest.raises(Exception, match="expects a dict"):
        etcd_status_report([view(HOSTS)])


def served(serial, days_left):
    end = NOW + datetime.timedelta(days=days_left, hours=1)
    return {"subject": "etcd", "issuer": "kubernetes", "serial": serial, "not_after": int(end.timestamp()), "sans": []}


def test_the_served_certificate_counts_and_one_other_than_the_file_is_a_problem():
    """What clients see is the served certificate: its days are printed; a served serial that differs
    from the member's file (the unit names another file, or the file was replaced) is a problem."""
    seen_from_a = dict(view(HOSTS), served_certificates={url(A): served("1f", 12), url(B): served("2e", 200)})
    results = {A: seen_from_a, B: view(HOSTS), C: view(HOSTS)}
    certs = {A: slurped(make_pem(28, serial=0x1f)), B: slurped(make_pem(28, serial=0x2f)),
             C: slurped(make_pem(6, serial=0x3f))}
    report = etcd_status_report(results, certs=certs, min_cert_days=30, now=NOW)
    assert " 12 " in row(report, A) and " 200 " in row(report, B) and " 6 " in row(report, C)
    assert report["problems"] == [
        "the certificate %s serves expires in 12 days (under 30)" % A,
        "%s serves the certificate with serial 2e, not the one in its certificate file (serial 2f): "
        "the unit names another file, or the file was replaced since etcd read it" % B,
        "the certificate %s serves expires in 6 days (under 30)" % C]
    # a served certificate that could not be read (TLS refused) leaves the file's days
    results[A] = dict(view(HOSTS), served_certificates={url(A): {"error": "certificate verify failed"}})
    assert " 28 " in row(etcd_status_report(results, certs=certs, now=NOW), A)


def test_a_missing_or_unreadable_certificate_file_is_ignored():
    """A slurp without content (missing file, unreachable host, not registered) or with content that is
    not a PEM certificate leaves no file days and no serial to compare, and no error."""
    results = dict((h, view(HOSTS)) for h in HOSTS)
    certs = {A: {"failed": True, "msg": "file not found: /etc/kubernetes/ssl/etcd.pem"},
             B: {"content": base64.b64encode(b"not a certificate").decode(), "encoding": "base64"},
             C: {"content": "%%% not base64 %%%", "encoding": "base64"}}
    report = etcd_status_report(results, certs=dict(certs, **{"10.0.0.9": {}}), now=NOW)
    assert report["healthy"], report["problems"]
    assert all(" ? " in row(report, h) for h in HOSTS)
    # with no readable file, a served certificate's days count and there is no serial to compare it to
    results[B] = dict(view(HOSTS), served_certificates={url(B): served("2e", 200)})
    report = etcd_status_report(results, certs=certs, now=NOW)
    assert " 200 " in row(report, B) and report["healthy"], report["problems"]
