"""Bad input to 02.etcd.yml against the running lab: each is refused by its code before anything
changes on a member or in cluster_dir, with a message that names the fix (issue 8, defects 3, 4, 8).

Every test leaves the lab as it found it: refused runs change nothing, and the --check --diff run
reads a temporary copy of cluster_dir.
"""

import datetime
import os
import shutil

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from invalid_input import CLUSTER_DIR, PREFIX, SUBNET, assert_refused, lab_state, run, write_inventory

FIRST = "%s.11" % SUBNET


def refused(code, fix, extra_vars=None, inventory=None):
    before = lab_state()
    kwargs = {"inventory": str(inventory)} if inventory else {}
    result = run("02.etcd.yml", extra_vars, **kwargs)
    assert_refused(result, code, fix, before, lab_state())
    return result


def test_data_dir_var_lib_is_refused_before_any_chown():
    refused("data_dir_system", "/var/lib/etcd", {"ETCD_DATA_DIR": "/var/lib"})


def test_data_dir_root_is_refused():
    refused("data_dir_system", "dedicated directory", {"ETCD_DATA_DIR": "/"})


def test_relative_data_dir_is_refused():
    refused("data_dir_relative", "/var/lib/etcd", {"ETCD_DATA_DIR": "var/lib/etcd"})


def test_wal_dir_equal_to_data_dir_is_refused():
    refused("wal_dir_is_data_dir", "ETCD_WAL_DIR", {"ETCD_WAL_DIR": "/var/lib/etcd"})


def test_data_dir_of_something_else_is_refused_on_the_host():
    # passes the controller's path rules; the host shows that dpkg owns it
    refused("data_dir_not_dedicated", "dedicated directory", {"ETCD_DATA_DIR": "/var/lib/dpkg"})


def test_root_service_user_is_refused():
    refused("service_user_root", "etcd_user", {"etcd_user": "root"})


def test_existing_account_of_something_else_is_refused():
    # www-data exists on Debian with its home at /var/www
    refused("service_user_foreign", "usermod", {"etcd_user": "www-data"})


def test_extra_args_cannot_switch_off_client_certificate_auth():
    refused("extra_args_insecure", "etcd_extra_args_allow_insecure", {"etcd_extra_args": {"client-cert-auth": "false"}})


def test_extra_args_cannot_add_a_plain_http_listener():
    refused("extra_args_insecure", "https",
            {"etcd_extra_args": {"listen-client-urls": "https://%s:2379,http://0.0.0.0:2379" % FIRST}})


def test_extra_args_cannot_move_the_data_dir():
    refused("extra_args_owned", "ETCD_DATA_DIR", {"etcd_extra_args": {"data-dir": "/var/lib"}})


def test_hostname_instead_of_address_is_refused(tmp_path):
    lines = ["etcd-one ansible_host=%s-1" % PREFIX] + ["%s.%d ansible_host=%s-%d" % (SUBNET, 10 + i, PREFIX, i)
                                                      for i in (2, 3)]
    refused("member_address_not_ip", "ansible_host=", inventory=write_inventory(tmp_path / "hosts", lines))


def test_one_machine_listed_twice_is_refused(tmp_path):
    lines = ["%s.11 ansible_host=%s-1" % (SUBNET, PREFIX), "%s.12 ansible_host=%s-1" % (SUBNET, PREFIX),
             "%s.13 ansible_host=%s-3" % (SUBNET, PREFIX)]
    refused("member_host_duplicate", "List each machine once", inventory=write_inventory(tmp_path / "hosts", lines))


def test_cluster_dir_without_ssl_creates_no_ca(tmp_path):
    wrong = tmp_path / "wrong-cluster"
    wrong.mkdir()
    refused("ca_missing_on_controller", "set cluster_dir to the directory that holds this cluster's ssl/",
            {"cluster_dir": str(wrong)})
    assert list(wrong.iterdir()) == [], "a refused run created %s" % list(wrong.rglob("*"))


def _other_ca(directory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "ca-key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.TraditionalOpenSSL,
                                                             serialization.NoEncryption()))
    os.chmod(directory / "ca-key.pem", 0o600)


def test_cluster_dir_with_another_ca_is_refused(tmp_path):
    other = tmp_path / "other-cluster"
    (other / "ssl").mkdir(parents=True)
    _other_ca(other / "ssl")
    refused("ca_not_trusted_by_members", "etcd_pki_replace_member_ca", {"cluster_dir": str(other)})
    assert sorted(path.name for path in (other / "ssl").iterdir()) == ["ca-key.pem", "ca.pem"]


def test_a_renamed_ca_is_refused_before_a_new_ca_is_made():
    # etcd-ca: the other name the role accepts; the members' CA file is ca.pem
    refused("ca_name_changed", "etcd_pki_ca_name", {"etcd_pki_ca_name": "etcd-ca"})
    assert not os.path.exists(os.path.join(CLUSTER_DIR, "ssl", "etcd-ca.pem")), "a refused run created a CA"


KEY_ON_MEMBER = "/etc/kubernetes/ssl/etcd-key.pem"


def test_check_diff_never_prints_a_private_key(tmp_path):
    """A key that would change (here: a different one on the controller) must not reach the output."""
    before = lab_state()
    cluster = tmp_path / "cluster"
    shutil.copytree(os.path.join(CLUSTER_DIR, "ssl"), cluster / "ssl")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (cluster / "ssl" / ("etcd-%s-key.pem" % FIRST)).write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                          serialization.NoEncryption()))
    result = run("02.etcd.yml", {"cluster_dir": str(cluster)}, args=["--check", "--diff"])
    # the install (module etcd_member_files) reports each file it would change, the key among them
    installs = [res["files"][KEY_ON_MEMBER] for name, host, res in result.results
                if host == FIRST and KEY_ON_MEMBER in (res.get("files") or {})]
    assert installs and installs[0].get("changed"), "the run did not reach the key install: %s" % result.tail()
    assert "PRIVATE KEY" not in result.raw + result.stderr
    assert lab_state() == before
