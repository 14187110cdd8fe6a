import base64
import datetime

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.ezops.etcd.plugins.filter.ca_trust import FilterModule as CaTrust

untrusted_certificates = CaTrust().filters()["untrusted_certificates"]
issued_by = CaTrust().filters()["issued_by"]

TRUSTED = "/c/ssl/etcd-ca.pem"
CERT = "/etc/kubernetes/ssl/etcd.pem"


def _cert(name, issuer_name, signing_key, ca):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name or subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(signing_key or key, hashes.SHA256()))
    return cert, key


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def pki():
    """Two CAs (A and B) and a member certificate signed by each."""
    a, a_key = _cert("cluster-ca", None, None, True)
    b, b_key = _cert("other-ca", None, None, True)
    return {"A": pem(a), "B": pem(b),
            "from_A": pem(_cert("etcd-1", a.subject, a_key, False)[0]),
            "from_B": pem(_cert("etcd-2", b.subject, b_key, False)[0]),
            "forged": pem(_cert("etcd-3", a.subject, b_key, False)[0])}  # names A, signed by B


def slurped(text):
    return {"content": base64.b64encode(text.encode()).decode(), "encoding": "base64", "source": CERT}


MISSING = {"msg": "file not found: %s" % CERT, "failed": False}


def test_slurped_certificates_signed_by_the_trusted_ca_are_fine(pki):
    results = {"10.0.0.1": slurped(pki["from_A"]), "10.0.0.4": MISSING}
    assert untrusted_certificates(pki["A"], results, TRUSTED, CERT) == []
    assert untrusted_certificates(pki["B"] + pki["A"], results, TRUSTED, CERT) == []


def test_a_slurped_certificate_from_another_ca_is_refused(pki):
    results = {"10.0.0.1": slurped(pki["from_A"]), "10.0.0.2": slurped(pki["from_B"]), "10.0.0.4": MISSING}
    problems = untrusted_certificates(pki["A"], results, TRUSTED, CERT)
    assert [p["code"] for p in problems] == ["certs_not_from_trusted_ca"]
    msg = problems[0]["msg"]
    assert "10.0.0.2" in msg and "10.0.0.1" not in msg and "10.0.0.4" not in msg and TRUSTED in msg


def test_a_forged_issuer_name_is_refused(pki):
    problems = untrusted_certificates(pki["A"], {"10.0.0.3": slurped(pki["forged"])}, TRUSTED, CERT)
    assert [p["code"] for p in problems] == ["certs_not_from_trusted_ca"] and "10.0.0.3" in problems[0]["msg"]


def test_results_without_content_are_members_without_certificate(pki):
    # a missing file (slurp with failed_when: false), an unreachable host, a skipped task
    results = {"10.0.0.4": MISSING, "10.0.0.5": {"unreachable": True}, "10.0.0.6": {"skipped": True}, "10.0.0.7": None}
    assert untrusted_certificates(pki["A"], results, TRUSTED, CERT) == []


def test_host_names_are_strings_and_no_trusted_file_checks_nothing(pki):
    problems = untrusted_certificates(pki["A"], {1: slurped(pki["from_B"])}, TRUSTED, CERT)
    assert "%s of 1 is not signed" % CERT in problems[0]["msg"]
    assert untrusted_certificates(None, {"10.0.0.2": slurped(pki["from_B"])}, TRUSTED, CERT) == []
    assert untrusted_certificates("", {"10.0.0.2": slurped(pki["from_B"])}, TRUSTED, CERT) == []


@pytest.mark.parametrize("results", [None, [], ["10.0.0.1"], "10.0.0.1", 3])
def test_untrusted_certificates_needs_a_mapping(pki, results):
    with pytest.raises(AnsibleFilterError):
        untrusted_certificates(pki["A"], results, TRUSTED, CERT)


def test_issued_by_filter(pki):
    assert issued_by(pki["from_A"], pki["A"]) is True
    assert issued_by(pki["from_A"], pki["B"] + pki["A"]) is True
    assert issued_by(pki["from_A"], pki["B"]) is False
    assert issued_by(pki["forged"], pki["A"]) is False
    assert issued_by(None, pki["A"]) is False and issued_by(pki["from_A"], None) is False
    assert issued_by("garbage", "garbage") is False
