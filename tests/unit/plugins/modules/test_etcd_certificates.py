# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""ezops.etcd.etcd_certificates in-process: a new CA and certificates, a re-run that keeps them, each
reason to issue again, the files it never replaces, and refusals that write nothing."""
from __future__ import annotations

import datetime
import glob
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ansible_collections.ezops.etcd.plugins.module_utils import etcd_pki
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_ca_trust import issued_by
from ansible_collections.ezops.etcd.plugins.modules import etcd_certificates
from etcd_fakes import run_main

MEMBERS = ["172.29.10.11", "172.29.10.12"]


def run(folder, check=False, diff=False, **args):
    args = dict({"dir": str(folder), "ca_name": "ca", "members": MEMBERS, "clients": ["etcd-client"]}, **args)
    return run_main(etcd_certificates.main, args, check_mode=check, diff=diff)


def cert(folder, name):
    return x509.load_pem_x509_certificate((folder / (name + ".pem")).read_bytes())


def snapshot(folder):
    return {path: open(path, "rb").read() for path in sorted(glob.glob(str(folder / "*")))}


def actions(result):
    return {one["name"]: one["action"] for one in result["certificates"]}


def test_first_run_creates_ca_keys_and_certificates_then_a_rerun_keeps_everything(tmp_path):
    folder = tmp_path / "ssl"
    result, failed = run(folder, check=True, diff=True)
    assert not failed and result["changed"] and not folder.exists()
    assert result["ca"]["action"] == "created"
    assert set(actions(result).values()) == {"issued"}

    result, failed = run(folder)
    assert not failed and result["changed"], result
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "ca-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "etcd-172.29.10.11-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "etcd-client.pem").stat().st_mode) == 0o644
    ca_pem = (folder / "ca.pem").read_text()
    member = cert(folder, "etcd-172.29.10.11")
    sans = member.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"172.29.10.11", "127.0.0.1"}
    assert set(sans.get_values_for_type(x509.DNSName)) == {"localhost", "etcd-172.29.10.11"}
    usages = member.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH}
    client = cert(folder, "etcd-client")
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    assert issued_by((folder / "etcd-client.pem").read_text(), ca_pem)
    ca = cert(folder, "ca")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    before = snapshot(folder)
    result, failed = run(folder)
    assert not failed and not result["changed"], result
    assert set(actions(result).values()) == {"kept"} and result["ca"]["action"] == "kept"
    assert snapshot(folder) == before
    result, failed = run(folder, check=True)
    assert not failed and not result["changed"]


def test_a_new_san_reissues_with_the_same_key_and_keeps_the_old_certificate(tmp_path):
    run(tmp_path)
    key_before = (tmp_path / "etcd-172.29.10.11-key.pem").read_bytes()
    old = (tmp_path / "etcd-172.29.10.11.pem").read_bytes()
    result, failed = run(tmp_path, check=True, diff=True, member_extra_sans=["DNS:etcd.example"])
    assert not failed and result["changed"]
    assert (tmp_path / "etcd-172.29.10.11.pem").read_bytes() == old
    assert "SANs differ" in result["diff"]["after"]["etcd-172.29.10.11"]

    result, failed = run(tmp_path, member_extra_sans=["DNS:etcd.example"])
    assert not failed and result["changed"]
    assert actions(result) == {"etcd-172.29.10.11": "reissued", "etcd-172.29.10.12": "reissued",
                               "etcd-client": "kept"}
    assert (tmp_path / "etcd-172.29.10.11-key.pem").read_bytes() == key_before
    backup = result["certificates"][0]["backup_file"]
    assert open(backup, "rb").read() == old and backup.endswith("~")
    sans = cert(tmp_path, "etcd-172.29.10.11").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "etcd.example" in sans.get_values_for_type(x509.DNSName)
    key = serialization.load_pem_private_key(key_before, None)
    assert cert(tmp_path, "etcd-172.29.10.11").public_key().public_numbers() == key.public_key().public_numbers()


def test_renewal_reissues_what_was_issued_before_its_start_and_its_rerun_keeps_it(tmp_path):
    run(tmp_path)
    since = etcd_pki.asn1_time(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2))
    result, failed = run(tmp_path, renew_issued_before=since)
    assert not failed and set(actions(result).values()) == {"reissued"}
    assert "renewal" in result["certificates"][0]["reasons"][0]
    since = etcd_pki.asn1_time(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1))
    result, failed = run(tmp_path, renew_issued_before=since)
    assert not failed and not result["changed"]


def test_close_to_expiry_or_signed_by_another_ca_is_issued_again(tmp_path):
    run(tmp_path, valid_days=10)
    result, failed = run(tmp_path, valid_days=10)
    assert not failed and set(actions(result).values()) == {"reissued"}
    assert "expires on" in result["certificates"][0]["reasons"][0]

    run(tmp_path, ca_name="etcd-ca", ca_common_name="new-ca")
    result, failed = run(tmp_path, ca_name="etcd-ca", ca_common_name="new-ca")
    assert not failed and not result["changed"]
    assert issued_by((tmp_path / "etcd-client.pem").read_text(), (tmp_path / "etcd-ca.pem").read_text())
    assert not issued_by((tmp_path / "etcd-client.pem").read_text(), (tmp_path / "ca.pem").read_text())


def test_a_missing_certificate_of_a_kept_key_is_issued_for_that_key(tmp_path):
    run(tmp_path)
    key = (tmp_path / "etcd-client-key.pem").read_bytes()
    (tmp_path / "etcd-client.pem").unlink()
    result, failed = run(tmp_path)
    assert not failed and actions(result)["etcd-client"] == "issued"
    assert not result["certificates"][2]["key_created"]
    assert (tmp_path / "etcd-client-key.pem").read_bytes() == key


def test_wrong_modes_are_put_right(tmp_path):
    run(tmp_path)
    os.chmod(str(tmp_path / "etcd-client-key.pem"), 0o644)
    result, failed = run(tmp_path)
    assert not failed and result["changed"]
    assert stat.S_IMODE((tmp_path / "etcd-client-key.pem").stat().st_mode) == 0o600


@pytest.mark.parametrize("case", ["ca_key_missing", "not_a_ca", "unreadable_key", "no_ca_to_sign", "bad_since",
                                  "bad_san", "same_name", "small_key"])
def test_refusals_change_nothing(tmp_path, case):
    run(tmp_path)
    args = {}
    if case == "ca_key_missing":
        os.rename(str(tmp_path / "ca-key.pem"), str(tmp_path / "elsewhere"))
    elif case == "not_a_ca":
        os.rename(str(tmp_path / "etcd-client.pem"), str(tmp_path / "ca.pem"))
        os.rename(str(tmp_path / "etcd-client-key.pem"), str(tmp_path / "ca-key.pem"))
    elif case == "unreadable_key":
        (tmp_path / "etcd-172.29.10.12-key.pem").write_text("not a key")
        args = {"member_extra_sans": ["DNS:new.example"]}
    elif case == "no_ca_to_sign":
        args = {"ca_name": "etcd-ca", "create_ca": False}
    elif case == "bad_since":
        args = {"renew_issued_before": "2026-12-07"}
    elif case == "bad_san":
        args = {"member_extra_sans": ["etcd.example"]}
    elif case == "same_name":
        args = {"clients": ["etcd-172.29.10.11"]}
    elif case == "small_key":
        (tmp_path / "etcd-client-key.pem").unlink()
        args = {"key_size": 1024, "member_extra_sans": ["DNS:new.example"]}
    before = snapshot(tmp_path)
    result, failed = run(tmp_path, **args)
    assert failed, result
    expected = {"ca_key_missing": "Only one of", "not_a_ca": "cannot be used as the etcd CA",
                "unreadable_key": "is not a readable", "no_ca_to_sign": "There is no CA etcd-ca",
                "bad_since": "ASN.1 UTC", "bad_san": "neither DNS", "same_name": "two certificates",
                "small_key": "2048 bits or more"}[case]
    assert expected in result["msg"]
    assert snapshot(tmp_path) == before


def test_member_request_names_and_sans():
    assert etcd_pki.member_request("10.0.0.1", ["DNS:lb", "DNS:localhost"]) == {
        "name": "etcd-10.0.0.1", "common_name": "etcd-10.0.0.1",
        "sans": ["IP:10.0.0.1", "IP:127.0.0.1", "DNS:localhost", "DNS:etcd-10.0.0.1", "DNS:lb"],
        "usages": ["serverAuth", "clientAuth"]}
    assert etcd_pki.member_request("etcd1.example")["sans"][0] == "DNS:etcd1.example"
    assert etcd_pki.client_request("etcd-client")["usages"] == ["clientAuth"]


def test_ecc_keys(tmp_path):
    result, failed = run(tmp_path, key_type="ECC")
    assert not failed, result
    key = serialization.load_pem_private_key((tmp_path / "etcd-client-key.pem").read_bytes(), None)
    assert key.curve.name == "secp256r1"


def test_a_certificate_of_an_earlier_release_with_o_before_cn_is_kept(tmp_path):
    """Releases before this module issued with community.crypto, whose subject lists O before CN."""
    run(tmp_path)
    ca_key = serialization.load_pem_private_key((tmp_path / "ca-key.pem").read_bytes(), None)
    key = serialization.load_pem_private_key((tmp_path / "etcd-client-key.pem").read_bytes(), None)
    request = etcd_pki.client_request("etcd-client")
    pem = etcd_pki.build_certificate(key, cert(tmp_path, "ca"), ca_key, request, "ezops", 100,
                                     datetime.datetime.now(datetime.timezone.utc))
    reordered = x509.load_pem_x509_certificate(pem)
    builder = x509.CertificateBuilder().subject_name(x509.Name(list(reversed(list(reordered.subject)))))
    builder = builder.issuer_name(reordered.issuer).public_key(key.public_key()).serial_number(1)
    builder = builder.not_valid_before(etcd_pki.not_before(reordered)).not_valid_after(etcd_pki.not_after(reordered))
    for extension in reordered.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    (tmp_path / "etcd-client.pem").write_bytes(
        builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    assert list(cert(tmp_path, "etcd-client").subject)[0].oid == x509.oid.NameOID.ORGANIZATION_NAME
    result, failed = run(tmp_path)
    assert not failed and actions(result)["etcd-client"] == "kept", result
