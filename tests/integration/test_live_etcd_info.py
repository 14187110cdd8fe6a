# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

import pytest

from etcd_lab import PRIMARY_VERSIONS


@pytest.fixture(params=PRIMARY_VERSIONS, scope="module")
def version(request):
    """This module runs on the first version of EZOPS_ETCD_VERSIONS only (see conftest)."""
    return request.param


def test_info_reports_a_healthy_tls_cluster(tls3_shared, run_module):
    truth = tls3_shared.member_list()
    status = tls3_shared.etcdctl_json("endpoint", "status")
    results = run_module.four_ways("etcd_info", tls3_shared.conn(), expect_first=False)
    for result in results:
        assert result["healthy"] is True
        assert result["failed_endpoints"] == []
        assert sorted(m["id"] for m in result["members"]) == [m["id"] for m in truth]
        assert {m["name"] for m in result["members"]} == {"m1", "m2", "m3"}
        assert all(m["is_learner"] is False for m in result["members"])
        assert result["cluster_id"] == "%x" % status[0]["Status"]["header"]["cluster_id"]
        assert result["leader"] == "%x" % status[0]["Status"]["leader"]
        assert [e["is_leader"] for e in result["endpoints"]].count(True) == 1
        assert result["version"] == tls3_shared.version
        assert {h["endpoint"] for h in result["health"] if h["health"]} == set(tls3_shared.endpoints)
        assert result["alarms"] == []


def test_info_reports_endpoints_that_do_not_answer(tls3, run_module):
    down = tls3.members[2]
    tls3.stop_member(down)
    result = run_module("etcd_info", tls3.conn())
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["failed_endpoints"] == [down.client_url]
    assert result["healthy"] is False
    assert len(result["endpoints"]) == 2
    assert len(result["members"]) == 3  # the member list still names the stopped member
    assert result["leader"] is not None


def test_info_with_cluster_discovers_every_member(tls3_shared, run_module):
    conn = dict(tls3_shared.conn(), endpoints=tls3_shared.endpoints[:1], cluster=True)
    result = run_module("etcd_info", conn)
    assert {e["endpoint"] for e in result["endpoints"]} == set(tls3_shared.endpoints)


def test_info_fails_clearly_with_a_wrong_ca(tls3_shared, run_module):
    before = tls3_shared.member_list()
    conn = dict(tls3_shared.conn(), cacert=tls3_shared.pki["other_ca"])
    result = run_module("etcd_info", conn)
    assert result["failed"] is True
    assert result["error_kind"] == "tls_rejected"
    assert "cacert" in result["msg"] and tls3_shared.pki["other_ca"] in result["msg"]
    assert tls3_shared.member_list() == before


def test_info_fails_when_no_endpoint_answers_unless_told_not_to(tls3_shared, run_module):
    conn = dict(tls3_shared.conn(), endpoints=["https://127.0.0.1:1"])
    result = run_module("etcd_info", conn)
    assert result["failed"] is True
    assert result["error_kind"] == "unreachable"
    assert "https://127.0.0.1:1" in result["msg"]
    result = run_module("etcd_info", dict(conn, fail_on_unreachable=False))
    assert not result.get("failed")
    assert result["healthy"] is False and result["failed_endpoints"] == ["https://127.0.0.1:1"]


def test_info_plain_http_and_environment_fallbacks(single, run_module):
    """Explicit null TLS options pass no TLS flags; ETCDCTL_ENDPOINTS stands in for endpoints."""
    conn = single.conn()
    del conn["endpoints"]
    result = run_module("etcd_info", conn, env={"ETCDCTL_ENDPOINTS": single.endpoints[0]})
    assert not result.get("failed"), result.get("msg")
    assert result["healthy"] is True
    assert [e["endpoint"] for e in result["endpoints"]] == single.endpoints


def test_info_reads_the_cluster_version_over_tls_and_plain_http(tls3_shared, single, run_module):
    minor = ".".join(tls3_shared.version.split(".")[:2])
    result = run_module("etcd_info", dict(tls3_shared.conn(), wait_cluster_version=tls3_shared.version))
    assert result["cluster_version_reached"] is True, result
    assert result["cluster_versions"] == dict((ep, minor + ".0") for ep in tls3_shared.endpoints)
    result = run_module("etcd_info", dict(single.conn(), wait_cluster_version="9.9.0", wait_timeout=2))
    assert not result.get("failed") and result["cluster_version_reached"] is False
    assert result["cluster_versions"] == {single.endpoints[0]: minor + ".0"}


def test_info_reads_the_certificate_each_member_serves(tls3_shared, run_module):
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    with open(tls3_shared.pki["cert"], "rb") as source:
        on_disk = x509.load_pem_x509_certificate(source.read())
    result = run_module("etcd_info", dict(tls3_shared.conn(), served_certificates=True))
    assert sorted(result["served_certificates"]) == sorted(tls3_shared.endpoints)
    for cert in result["served_certificates"].values():
        assert cert["serial"] == "%x" % on_disk.serial_number, cert
        assert cert["subject"] == "etcd" and cert["issuer"] == "ezops-test-ca"
        assert cert["not_after"] == int(on_disk.not_valid_after_utc.timestamp())
        assert "IP Address:127.0.0.1" in cert["sans"]
