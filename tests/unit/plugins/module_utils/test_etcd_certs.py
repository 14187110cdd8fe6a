"""The certificate report (playbooks/certs.yml): per host and file, and every difference between what a
member serves, what it holds and what the controller keeps."""

import base64
import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.ezops.etcd.plugins.filter.etcd_certs_report import FilterModule, etcd_certs_report
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_certs import certs_report, describe_pem, describe_slurped

NOW = datetime.datetime(2026, 12, 5, tzinfo=datetime.timezone.utc)
A, B = "10.0.0.1", "10.0.0.2"
CA_PATH, CERT_PATH = "/etc/kubernetes/ssl/ca.pem", "/etc/kubernetes/ssl/etcd.pem"


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_cert(common_name, issuer="kubernetes", days=3650, serial=None, ips=()):
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(serial or x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(days=400)).not_valid_after(NOW + datetime.timedelta(days=days)))
    if ips:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips] + [x509.DNSName("localhost")]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def slurped(item, path, pem):
    """A slurp loop's result; item is the role (made into {role, path}) or, for member copies, the member."""
    item = {"role": item, "path": path} if item in ("ca", "cert", "client", "shared") else item
    if pem is None:
        return {"item": item, "failed": True, "msg": "file not found: %s" % path, "invocation": {"module_args": {"src": path}}}
    return {"item": item, "content": base64.b64encode(pem.encode()).decode(), "invocation": {"module_args": {"src": path}}}


def served(pem, host):
    cert = describe_pem(pem)
    return {"served_certificates": {"https://%s:2379" % host: cert}}


@pytest.fixture(name="pki")
def fixture_pki():
    return {"ca": make_cert("kubernetes", serial=0x10), "client": make_cert("etcd-client"),
            A: make_cert("etcd-" + A, serial=0xA1, ips=[A]), B: make_cert("etcd-" + B, serial=0xB1, ips=[B])}


def report(pki, member_files=None, serves=None, ctrl=None, ctrl_members=None, min_days=None):
    files = {}
    for host in (A, B):
        held = (member_files or {}).get(host, {"ca": pki["ca"], "cert": pki[host]})
        if held == "unreachable":
            files[host] = {"unreachable": True, "msg": "Failed to connect to the host via ssh"}
            continue
        files[host] = {"results": [slurped("ca", CA_PATH, held["ca"]), slurped("cert", CERT_PATH, held["cert"])]}
    ctrl = ctrl if ctrl is not None else {"ca": pki["ca"], "client": pki["client"], "shared": None}
    controller = {"results": [slurped(role, "/c/ssl/%s.pem" % role, pem) for role, pem in ctrl.items()]}
    ctrl_members = ctrl_members if ctrl_members is not None else {A: pki[A], B: pki[B]}
    controller_members = {"results": [slurped(host, "/c/ssl/etcd-%s.pem" % host, pem) for host, pem in ctrl_members.items()]}
    serves = serves if serves is not None else {A: pki[A], B: pki[B]}
    served_views = dict((host, served(pem, host)) for host, pem in serves.items())
    return etcd_certs_report(files, served=served_views, controller=controller, controller_members=controller_members,
                             min_days=min_days, now=NOW)


def test_a_pem_is_described_like_a_served_certificate():
    cert = describe_pem(make_cert("etcd-" + A, serial=0x0ABC, ips=[A], days=100))
    assert cert["subject"] == "etcd-" + A and cert["issuer"] == "kubernetes" and cert["serial"] == "abc"
    assert cert["sans"] == ["IP Address:%s" % A, "DNS:localhost"]
    assert cert["not_after"] == int((NOW + datetime.timedelta(days=100)).timestamp())


def test_not_a_certificate_is_an_error_not_an_exception():
    assert "not a PEM certificate" in describe_pem("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")["error"]


def test_a_slurped_file_is_described_missing_is_none_and_unreadable_is_an_error():
    pem = make_cert("etcd-" + A, serial=0x0ABC)
    assert describe_slurped(slurped("cert", "/etc/kubernetes/ssl/etcd.pem", pem))["serial"] == "abc"
    assert describe_slurped(slurped("cert", "/etc/kubernetes/ssl/etcd.pem", None)) is None
    assert describe_slurped({"unreachable": True, "msg": "ssh: no route"})["error"] == "unreadable (unreachable: ssh: no route)"
    assert describe_slurped({"failed": True, "msg": "Permission denied"})["error"] == "unreadable (Permission denied)"
    assert describe_slurped({"content": "!!not base64!!"})["error"] == "unreadable (the content is not base64)"


def test_a_cluster_whose_members_serve_the_controllers_certificates_has_no_problem(pki):
    out = report(pki)
    assert out["problems"] == [] and out["expiring"] == []
    header = out["lines"][0].split()
    assert header[:4] == ["HOST", "FILE", "/", "ENDPOINT"]
    rows = dict(((row[0], row[1]), row) for row in out["rows"])
    assert rows[(A, CERT_PATH)][2:6] == ["etcd-" + A, "kubernetes", "%s, localhost" % A, "a1"]
    assert rows[(A, "https://%s:2379" % A)][5] == "a1"
    assert rows[(A, CERT_PATH)][6] == "3650"
    assert rows[("controller", "/c/ssl/ca.pem")][5] == "10"
    assert [row[0] for row in out["rows"]].count(B) == 3


def test_a_member_serving_an_old_certificate_is_flagged_against_its_file_and_the_controller(pki):
    old = make_cert("etcd-" + A, serial=0xA0, ips=[A])
    out = report(pki, serves={A: old, B: pki[B]})
    assert len(out["differs"]) == 2
    assert out["differs"][0].startswith("%s serves serial a0, not its file's a1" % A)
    assert "not the controller's copy a1" in out["differs"][1]
    assert out["problems"] == out["differs"]


def test_a_member_whose_file_is_not_the_controllers_copy_is_flagged(pki):
    other = make_cert("etcd-" + B, serial=0xB9, ips=[B])
    out = report(pki, member_files={B: {"ca": pki["ca"], "cert": other}}, serves={A: pki[A], B: other})
    assert out["differs"] == ["%s serves serial b9, not the controller's copy b1 (02.etcd.yml installs the controller's; "
                              "if the controller's copy is the wrong one, its cluster_dir is not this cluster's)" % B]


def test_a_member_trusting_another_ca_is_flagged(pki):
    out = report(pki, member_files={A: {"ca": make_cert("old-ca", serial=0x99), "cert": pki[A]}})
    assert out["differs"] == ["%s trusts a CA file with serial 99, not the controller's CA 10" % A]


def test_min_days_lists_every_certificate_below_it_and_expired_ones_are_problems(pki):
    soon = make_cert("etcd-" + A, serial=0xA1, ips=[A], days=10)
    out = report(pki, member_files={A: {"ca": pki["ca"], "cert": soon}}, serves={A: soon, B: pki[B]},
                 ctrl_members={A: soon, B: pki[B]}, min_days=30)
    assert out["expiring"] == ["/c/ssl/etcd-%s.pem on controller expires in 10 days (under 30)" % A,
                               "%s on %s expires in 10 days (under 30)" % (CERT_PATH, A),
                               "https://%s:2379 on %s expires in 10 days (under 30)" % (A, A)]
    assert report(pki, member_files={A: {"ca": pki["ca"], "cert": soon}}, serves={A: soon, B: pki[B]},
                  ctrl_members={A: soon, B: pki[B]}, min_days=9)["expiring"] == []
    gone = make_cert("etcd-" + A, serial=0xA1, ips=[A], days=-3)
    out = report(pki, member_files={A: {"ca": pki["ca"], "cert": gone}}, serves={A: pki[A], B: pki[B]})
    assert "%s on %s expired 3 days ago" % (CERT_PATH, A) in out["problems"]


def test_kubeasz_shared_etcd_pem_is_the_controllers_copy_when_there_is_no_member_file(pki):
    shared = make_cert("etcd", serial=0x5E, ips=[A, B])
    ctrl = {"ca": pki["ca"], "client": pki["client"], "shared": shared}
    out = report(pki, member_files={A: {"ca": pki["ca"], "cert": shared}, B: {"ca": pki["ca"], "cert": shared}},
                 serves={A: shared, B: shared}, ctrl=ctrl, ctrl_members={A: None, B: None})
    assert out["problems"] == []
    assert ("controller", "/c/ssl/shared.pem") in [(row[0], row[1]) for row in out["rows"]]


def test_an_unreachable_member_and_a_missing_file_are_rows_and_the_report_still_prints(pki):
    out = report(pki, member_files={A: "unreachable", B: {"ca": pki["ca"], "cert": None}}, serves={})
    rows = dict(((row[0], row[1]), row) for row in out["rows"])
    assert rows[(A, "-")][7] == "unreachable: Failed to connect to the host via ssh"
    assert rows[(B, CERT_PATH)][7] == "missing"
    assert rows[(B, "served")][7] == "did not answer"
    assert "%s could not be read: unreachable: Failed to connect to the host via ssh" % A in out["problems"]


def test_a_bad_input_is_a_filter_error():
    from ansible.errors import AnsibleFilterError  # pylint: disable=import-outside-toplevel
    with pytest.raises(AnsibleFilterError, match="dict of member"):
        etcd_certs_report(["not", "a", "dict"])
    assert FilterModule().filters()["etcd_certs_report"] is etcd_certs_report


def test_the_core_takes_descriptions_without_ansible():
    cert = describe_pem(make_cert("etcd-" + A, serial=0xA1, ips=[A]))
    out = certs_report({A: {"ca": None, "cert": (CERT_PATH, cert), "served": ("https://x:2379", cert)}}, {}, NOW)
    assert out["problems"] == [] and len(out["rows"]) == 2  # the CA and the controller were not read: no row
