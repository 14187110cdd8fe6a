import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_ca_trust import ca_trust_problems, fingerprints
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_ca_trust import issued_by, untrusted_certificates


def make_ca_with_key(name, key=None):
    """A self-signed CA certificate and its private key (EC P-256 unless ``key`` is given)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_ca(name):
    return make_ca_with_key(name)[0]


def make_leaf(name, signing_key, issuer_name):
    """A leaf certificate for ``name`` whose issuer field is ``issuer_name``, signed by ``signing_key``.

    Pass the CA's subject and the CA's key for a genuine certificate; another key forges one."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(signing_key, hashes.SHA256()))


def issue(ca_and_key, name):
    ca, key = ca_and_key
    return make_leaf(name, key, ca.subject)


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


# --- issued_by / untrusted_certificates: signatures, not names ---------------------------------

@pytest.fixture(scope="module")
def signers():
    """Two EC CAs with their keys (A, B) and an RSA CA (R), to mix key types in a bundle."""
    return {"A": make_ca_with_key("cluster-ca"), "B": make_ca_with_key("other-ca"),
            "R": make_ca_with_key("rsa-ca", rsa.generate_private_key(public_exponent=65537, key_size=2048))}


def ca_pem(signers, *names):
    return "".join(pem(signers[n][0]) for n in names)


def test_a_leaf_is_issued_by_its_ca_alone_or_in_a_bundle(signers):
    leaf = pem(issue(signers["A"], "etcd-1"))
    assert issued_by(leaf, ca_pem(signers, "A")) is True
    assert issued_by(leaf, "# bundle\n" + ca_pem(signers, "B", "A")) is True
    assert issued_by(leaf, ca_pem(signers, "A", "B")) is True
    assert issued_by(leaf, ca_pem(signers, "B")) is False


def test_a_bundle_mixing_key_types_is_searched_past_the_mismatch(signers):
    rsa_leaf = pem(issue(signers["R"], "etcd-1"))
    assert issued_by(rsa_leaf, ca_pem(signers, "A", "R")) is True
    assert issued_by(rsa_leaf, ca_pem(signers, "A", "B")) is False
    assert issued_by(pem(issue(signers["A"], "etcd-1")), ca_pem(signers, "R", "A")) is True


def test_a_forged_issuer_name_is_not_enough(signers):
    a_cert = signers["A"][0]
    forged = make_leaf("etcd-1", signers["B"][1], a_cert.subject)  # says "cluster-ca", signed by B
    assert forged.issuer == a_cert.subject
    assert issued_by(pem(forged), ca_pem(signers, "A")) is False
    # nor does a CA named like A but with another key vouch for A's leaves
    impostor = make_ca_with_key("cluster-ca")[0]
    assert issued_by(pem(issue(signers["A"], "etcd-1")), pem(impostor)) is False


def test_only_the_first_certificate_of_the_input_is_checked(signers):
    good, bad = pem(issue(signers["A"], "etcd-1")), pem(issue(signers["B"], "etcd-1"))
    assert issued_by(good + bad, ca_pem(signers, "A")) is True
    assert issued_by(bad + good, ca_pem(signers, "A")) is False


@pytest.mark.parametrize("cert, ca", [
    ("", "CA"), (None, "CA"), ("garbage", "CA"), ("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----", "CA"),
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "CA"),  # base64, but not a certificate
    ("LEAF", ""), ("LEAF", None), ("LEAF", "garbage"), ("LEAF", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
])
def test_garbage_or_empty_input_is_not_issued(signers, cert, ca):
    """LEAF and CA stand for a genuine leaf of A and for A: only the other argument is bad."""
    leaf = pem(issue(signers["A"], "etcd-1"))
    assert issued_by(leaf if cert == "LEAF" else cert, ca_pem(signers, "A") if ca == "CA" else ca) is False


def test_a_garbage_block_in_a_bundle_does_not_hide_the_ca(signers):
    leaf = pem(issue(signers["A"], "etcd-1"))
    bundle = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + ca_pem(signers, "A")
    assert issued_by(leaf, bundle) is True


def untrusted(trusted, members):
    return untrusted_certificates(trusted, members, "/c/ssl/etcd-ca.pem", "/etc/kubernetes/ssl/etcd.pem")


def test_certificates_all_signed_by_the_trusted_file_are_fine(signers):
    members = {"10.0.0.%d" % i: pem(issue(signers["A"], "etcd-%d" % i)) for i in (1, 2, 3)}
    assert untrusted(ca_pem(signers, "A"), members) == []
    # a rotation bundle (new CA first, old CA kept) still trusts the old certificates
    assert untrusted(ca_pem(signers, "B", "A"), members) == []


def test_a_certificate_from_another_ca_is_refused_naming_its_host(signers):
    members = {"10.0.0.1": pem(issue(signers["A"], "etcd-1")), "10.0.0.2": pem(issue(signers["B"], "etcd-2")),
               "10.0.0.3": pem(issue(signers["A"], "etcd-3"))}
    problems = untrusted(ca_pem(signers, "A"), members)
    assert codes(problems) == ["certs_not_from_trusted_ca"]
    msg = problems[0]["msg"]
    assert "10.0.0.2" in msg and "10.0.0.1" not in msg and "10.0.0.3" not in msg
    assert "/c/ssl/etcd-ca.pem" in msg and "/etc/kubernetes/ssl/etcd.pem" in msg


def test_forged_issuer_names_are_refused(signers):
    forged = make_leaf("etcd-2", signers["B"][1], signers["A"][0].subject)
    problems = untrusted(ca_pem(signers, "A"), {"10.0.0.1": pem(issue(signers["A"], "etcd-1")), "10.0.0.2": pem(forged)})
    assert codes(problems) == ["certs_not_from_trusted_ca"] and "10.0.0.2" in problems[0]["msg"]


def test_every_stranger_is_named_once_in_one_problem(signers):
    members = {"10.0.0.3": pem(issue(signers["B"], "etcd-3")), "10.0.0.1": pem(issue(signers["B"], "etcd-1")),
               "10.0.0.2": pem(issue(signers["A"], "etcd-2"))}
    problems = untrusted(ca_pem(signers, "A"), members)
    assert len(problems) == 1 and "10.0.0.1, 10.0.0.3" in problems[0]["msg"] and "10.0.0.2" not in problems[0]["msg"]


def test_members_without_a_certificate_are_ignored(signers):
    assert untrusted(ca_pem(signers, "A"), {"10.0.0.1": pem(issue(signers["A"], "etcd-1")), "10.0.0.4": None}) == []
    assert untrusted(ca_pem(signers, "A"), {"10.0.0.4": None}) == []
    assert untrusted(ca_pem(signers, "A"), {}) == [] and untrusted(ca_pem(signers, "A"), None) == []
    problems = untrusted(ca_pem(signers, "A"), {"10.0.0.2": pem(issue(signers["B"], "etcd-2")), "10.0.0.4": None})
    assert "10.0.0.2" in problems[0]["msg"] and "10.0.0.4" not in problems[0]["msg"]


@pytest.mark.parametrize("trusted", ["", None, "garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"])
def test_a_trusted_file_without_certificate_checks_nothing(signers, trusted):
    assert untrusted(trusted, {"10.0.0.2": pem(issue(signers["B"], "etcd-2"))}) == []


class _BeforeCryptography40(object):
    """A certificate as cryptography < 40 has it: no verify_directly_issued_by."""

    def __init__(self, cert):
        self._cert = cert

    def __getattr__(self, name):
        if name == "verify_directly_issued_by":
            raise AttributeError(name)
        return getattr(self._cert, name)


@pytest.mark.parametrize("ca_name", ["A", "R"])
def test_without_verify_directly_issued_by_the_signature_is_still_checked(signers, ca_name):
    from cryptography.exceptions import InvalidSignature
    from ansible_collections.ezops.etcd.plugins.module_utils.etcd_ca_trust import _verify_signed_by
    ca, key = signers[ca_name]
    _verify_signed_by(_BeforeCryptography40(make_leaf("etcd-1", key, ca.subject)), ca)
    with pytest.raises(InvalidSignature):
        _verify_signed_by(_BeforeCryptography40(make_leaf("etcd-1", signers["B"][1] if ca_name == "A" else
                                                          rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                                          ca.subject)), ca)
    with pytest.raises(ValueError):
        _verify_signed_by(_BeforeCryptography40(issue(signers["B"], "etcd-1")), ca)
