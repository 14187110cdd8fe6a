import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_ca_trust import ca_trust_problems, fingerprints


def make_ca(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def cas():
    return make_ca("cluster-ca"), make_ca("other-ca")


def codes(problems):
    return [p["code"] for p in problems]


def check(controller, members):
    return ca_trust_problems(controller, members, "/c/ssl/ca.pem", "/etc/kubernetes/ssl/ca.pem", "/c")


def test_fingerprints_are_sha256_of_the_der(cas):
    ours, other = cas
    bundle = "# a comment\n" + pem(ours) + "\n" + pem(other)
    assert fingerprints(bundle) == [ours.fingerprint(hashes.SHA256()).hex(), other.fingerprint(hashes.SHA256()).hex()]
    assert fingerprints("") == [] and fingerprints("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----") == []


def test_same_ca_is_fine_whatever_the_text_around_it(cas):
    ours = cas[0]
    assert check(pem(ours), {"10.0.0.1": "\n\n" + pem(ours).replace("\n", "\r\n"), "10.0.0.2": pem(ours)}) == []


def test_ca_in_a_member_bundle_is_fine(cas):
    ours, other = cas
    assert check(pem(ours), {"10.0.0.1": pem(other) + pem(ours)}) == []


def test_members_without_ca_file_accept_any_controller_ca(cas):
    assert check(pem(cas[0]), {"10.0.0.4": None}) == []
    assert check("", {"10.0.0.4": None}) == []
    assert check("", {}) == []


def test_no_ca_on_controller_but_members_have_one_is_refused(cas):
    problems = check("", {"10.0.0.1": pem(cas[0]), "10.0.0.4": None})
    assert codes(problems) == ["ca_missing_on_controller"]
    assert "cluster_dir (/c)" in problems[0]["msg"] and "10.0.0.1" in problems[0]["msg"]
    assert "10.0.0.4" not in problems[0]["msg"] and "etcd_pki_replace_member_ca" in problems[0]["msg"]


def test_another_ca_on_controller_is_refused_naming_the_members(cas):
    ours, other = cas
    problems = check(pem(other), {"10.0.0.1": pem(ours), "10.0.0.2": pem(other) + pem(ours)})
    assert codes(problems) == ["ca_not_trusted_by_members"]
    assert "10.0.0.1" in problems[0]["msg"] and "10.0.0.2" not in problems[0]["msg"]


def test_an_unparsable_member_file_is_not_trusted(cas):
    assert codes(check(pem(cas[0]), {"10.0.0.1": "garbage"})) == ["ca_not_trusted_by_members"]


def test_only_the_first_controller_certificate_is_its_ca(cas):
    ours, other = cas
    assert codes(check(pem(other) + pem(ours), {"10.0.0.1": pem(ours)})) == ["ca_not_trusted_by_members"]


def test_a_member_with_a_certificate_but_no_ca_file_of_that_name_has_a_renamed_ca(cas):
    # etcd_pki_ca_name changed: /etc/kubernetes/ssl/myca.pem is absent, etcd.pem is there
    problems = ca_trust_problems(pem(cas[0]), {"10.0.0.1": None, "10.0.0.2": pem(cas[0]), "10.0.0.4": None},
                                 "/c/ssl/myca.pem", "/etc/kubernetes/ssl/myca.pem", "/c", certified=["10.0.0.1", "10.0.0.2"])
    assert codes(problems) == ["ca_name_changed"]
    assert "10.0.0.1 already have a certificate" in problems[0]["msg"] and "10.0.0.4" not in problems[0]["msg"]
    assert "etcd_pki_ca_name" in problems[0]["msg"]
    # a new host has neither: fine
    assert ca_trust_problems(pem(cas[0]), {"10.0.0.4": None}, "/c/ssl/ca.pem", "/m/ca.pem", "/c", certified=[]) == []
