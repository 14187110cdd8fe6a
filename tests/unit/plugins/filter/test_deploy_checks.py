import base64
import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.filter.ca_trust import FilterModule as CaTrust
from ansible_collections.ezops.etcd.plugins.filter.deploy_checks import FilterModule as DeployChecks
from ansible_collections.ezops.etcd.plugins.filter.unit_flags import FilterModule as UnitFlags
from ansible_collections.ezops.etcd.plugins.module_utils.etcd_deploy_checks import UNIT_MARKER

deploy_problems = DeployChecks().filters()["deploy_problems"]
deploy_host_problems = DeployChecks().filters()["deploy_host_problems"]
ca_trust_problems = CaTrust().filters()["ca_trust_problems"]
unit_flags = UnitFlags().filters()["unit_flags"]
systemd_sandbox = UnitFlags().filters()["systemd_sandbox"]


def test_host_problems_from_the_dirs_etcd_member_state_reports():
    facts = {"host": "10.0.0.1", "data_dir": "/var/lib", "wal_dir": "", "user": "etcd", "passwd": None,
             "dirs": {"/var/lib": {"exists": True, "isdir": True, "entries": ["apt", "dpkg", "etcd"]}}}
    problems = deploy_host_problems(facts)
    assert [p["code"] for p in problems] == ["data_dir_not_dedicated"]
    assert "10.0.0.1" in problems[0]["msg"] and "apt, dpkg, etcd" in problems[0]["msg"]


def test_host_problems_of_an_etcd_data_dir_and_a_new_host():
    member = {"host": "h", "data_dir": "/var/lib/etcd", "wal_dir": "", "user": "etcd",
              "passwd": ["x", "998", "998", "", "/var/lib/etcd", "/usr/sbin/nologin"],
              "dirs": {"/var/lib/etcd": {"exists": True, "isdir": True, "entries": ["member"]}}}
    assert deploy_host_problems(member) == []
    new_host = {"host": "h", "data_dir": "/var/lib/etcd", "wal_dir": "", "user": "etcd", "passwd": None,
                "dirs": {"/var/lib/etcd": {"exists": False, "isdir": False, "entries": []}}}
    assert deploy_host_problems(new_host) == []
    a_file = {"host": "h", "data_dir": "/var/lib/etcd", "wal_dir": "", "user": "etcd", "passwd": None,
              "dirs": {"/var/lib/etcd": {"exists": True, "isdir": False, "entries": []}}}
    assert [p["code"] for p in deploy_host_problems(a_file)] == ["data_dir_not_a_directory"]


def test_deploy_problems_needs_a_mapping():
    with pytest.raises(AnsibleFilterError):
        deploy_problems(["/var/lib"])
    with pytest.raises(AnsibleFilterError):
        deploy_host_problems("/var/lib")


def test_ca_trust_decodes_slurp_results():
    fake = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n"
    other = "-----BEGIN CERTIFICATE-----\nAwQF\n-----END CERTIFICATE-----\n"
    slurped = {"content": base64.b64encode(fake.encode()).decode(), "encoding": "base64"}
    missing = {"msg": "file not found: /etc/kubernetes/ssl/ca.pem", "failed": False}
    assert ca_trust_problems(fake, {"a": slurped, "b": missing}, "c", "m", "d") == []
    assert [p["code"] for p in ca_trust_problems(other, {"a": slurped}, "c", "m", "d")] == ["ca_not_trusted_by_members"]
    assert [p["code"] for p in ca_trust_problems(None, {"a": slurped}, "c", "m", "d")] == ["ca_missing_on_controller"]
    assert ca_trust_problems(None, {"b": missing, "c": {"unreachable": True}}, "c", "m", "d") == []


def test_unit_flag_filters_report_bad_input():
    with pytest.raises(AnsibleFilterError):
        unit_flags({"tls-min-version": "TLS1.2"}, "not-a-version")
    with pytest.raises(AnsibleFilterError):
        unit_flags(["--tls-min-version=TLS1.2"], "3.5.16")
    with pytest.raises(AnsibleFilterError):
        systemd_sandbox("/var/lib/etcd", "", {"A\nB": "1"})


def test_data_dir_problems_filter():
    data_dir_problems = DeployChecks().filters()["data_dir_problems"]
    assert data_dir_problems("/var/lib/etcd") == []
    assert [p["code"] for p in data_dir_problems("/var/lib", "")] == ["data_dir_system"]
    assert [p["code"] for p in data_dir_problems("/opt/kube", "", {"bin_dir": "/opt/kube/bin"})] == ["data_dir_overlaps"]
    with pytest.raises(AnsibleFilterError):
        data_dir_problems("/var/lib/etcd", "", ["/opt/kube/bin"])


def test_foreign_changes_name_what_kubeasz_did_and_what_to_use_instead():
    notes = DeployChecks().filters()["etcd_foreign_changes"]
    template = os.path.join(os.path.dirname(__file__), "../../../../roles/etcd/templates/etcd.service.j2")
    with open(template) as source:
        ours = source.read()
    assert UNIT_MARKER in ours  # the contract: the template carries the marker the rule looks for
    base = {"host": "10.0.0.1", "dirs": ["/var/lib/etcd"], "user": "etcd", "installed": {"dirs": {"/var/lib/etcd": {"changed": True, "changed_below": False}}}}
    # our own unit, nothing handed over: nothing to say; no unit yet (a new member): nothing either
    assert notes(dict(base, unit=ours)) == []
    assert notes(dict(base, unit=None)) == []
    # a unit of an earlier release of this collection, from before the marker comment
    earlier = "\n".join(line for line in ours.splitlines() if UNIT_MARKER not in line)
    assert UNIT_MARKER not in earlier and notes(dict(base, unit=earlier)) == []
    # kubeasz's unit (ezctl add-etcd/del-etcd run its 02.etcd.yml -t restart_etcd)
    kubeasz = "[Service]\nType=notify\nWorkingDirectory=/var/lib/etcd\nExecStart=/opt/kube/bin/etcd --name=etcd-10.0.0.1\n"
    found = notes(dict(base, unit=kubeasz))
    assert len(found) == 1 and found[0].startswith("10.0.0.1: the etcd unit was not written by ezops.etcd")
    assert "ezctl add-etcd" in found[0] and "playbooks/21.addetcd.yml" in found[0]
    # ezctl restore: root-owned data handed to etcd
    found = notes(dict(base, unit=ours, installed={"dirs": {"/var/lib/etcd": {"changed": False, "changed_below": True}}}))
    assert len(found) == 1 and "/var/lib/etcd were not owned by etcd" in found[0]
    assert "ezctl restore" in found[0] and "playbooks/95.restore.yml" in found[0]
    assert len(notes(dict(base, unit=kubeasz, installed={"dirs": {"/var/lib/etcd": {"changed": False, "changed_below": True}}}))) == 2
    with pytest.raises(AnsibleFilterError):
        notes("10.0.0.1")


@pytest.mark.parametrize("count, says", [
    (4, "[etcd] has 4 members. An even count tolerates no more failures than one member fewer (4 members need 3 "
        "for a quorum and tolerate 1 down, like 3)"),
    (2, "(2 members need 2 for a quorum and tolerate 0 down, like 1)"),
    (6, "(6 members need 4 for a quorum and tolerate 2 down, like 5)"),
])
def test_an_even_member_count_is_warned_with_the_quorum_arithmetic(count, says):
    warn = DeployChecks().filters()["etcd_member_count_warning"]
    assert says in warn(count, "etcd") and warn(count).startswith("WARNING: ")


@pytest.mark.parametrize("count", [0, 1, 3, 5, 7])
def test_an_odd_member_count_or_none_gives_no_warning(count):
    assert DeployChecks().filters()["etcd_member_count_warning"](count, "etcd") == ""


def test_the_member_count_warning_refuses_what_is_not_a_number():
    with pytest.raises(AnsibleFilterError):
        DeployChecks().filters()["etcd_member_count_warning"]("three")
