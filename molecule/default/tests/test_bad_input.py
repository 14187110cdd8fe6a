"""Bad input fails before anything on a host changes, with a message that names the problem and the fix."""

import os
import subprocess

import pytest
import testinfra

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
LAB = os.path.join(PROJECT, ".cache/lab%s" % os.environ.get("LAB_ID", "0"))
CLUSTER_DIR = os.path.join(LAB, "kubeasz/clusters/lab")
FIRST = "172.29.%d.11" % (10 + int(os.environ.get("LAB_ID", "0")))
CONTAINER = "ezops-etcd%s-1" % os.environ.get("LAB_ID", "0").lstrip("0")
WATCHED = ["/etc/systemd/system/etcd.service", "/etc/kubernetes/ssl/etcd.pem", "/etc/etcd/bootstrap.env", "/opt/kube/bin/etcd"]


def deploy(tmp_path, inventory, *extra):
    path = tmp_path / "hosts"
    path.write_text(inventory)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT, ".cache/collections"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        ["ansible-playbook", "-i", str(path), os.path.join(PROJECT, "playbooks/02.etcd.yml"), *extra],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    # ansible-core 2.19 prints task errors on stderr, results on stdout: search both
    result.output = " ".join((result.stdout + result.stderr).split())
    return result


def inventory(etcd_lines, base_dir):
    return "\n".join(
        ["[etcd]", *etcd_lines, "", "[all:vars]", "ansible_connection=community.docker.docker",
         "ansible_python_interpreter=/usr/bin/python3", 'base_dir="%s"' % base_dir,
         'cluster_dir="%s"' % CLUSTER_DIR, ""]
    )


@pytest.fixture
def member_state():
    """Modification times and content of the first member's files, to prove nothing changed."""
    host = testinfra.get_host("docker://" + CONTAINER)

    def read():
        return {path: host.check_output("stat -c '%Y %s' {0} && sha256sum {0}".format(path)) for path in WATCHED}

    return read


def test_empty_etcd_group_is_refused(tmp_path):
    result = deploy(tmp_path, inventory([], os.path.join(LAB, "kubeasz")))
    assert result.returncode != 0
    assert "has no hosts in [etcd]" in result.output and "refusal: etcd_group_empty" in result.output


def test_unreachable_host_stops_every_host_before_any_change(tmp_path, member_state):
    before = member_state()
    result = deploy(tmp_path, inventory(["%s ansible_host=%s" % (FIRST, CONTAINER),
                                         "172.29.99.99 ansible_host=ezops-etcd-does-not-exist"],
                                        os.path.join(LAB, "kubeasz")), "-e", "ezops_etcd_connect_timeout=5")
    assert result.returncode != 0
    assert "172.29.99.99 is not reachable" in result.output
    assert "Nothing was changed on any host" in result.output
    assert member_state() == before


def test_missing_binary_source_fails_before_a_host_changes(tmp_path, member_state):
    before = member_state()
    empty = tmp_path / "empty-base-dir"
    empty.mkdir()
    result = deploy(tmp_path, inventory(["%s ansible_host=%s" % (FIRST, CONTAINER)], str(empty)))
    assert result.returncode != 0
    assert "No etcd and etcdctl binaries in %s/bin" % empty in result.output
    assert member_state() == before
