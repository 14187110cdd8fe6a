"""CA rotation on the live lab (playbooks/98.rotate-ca.yml): from the shared kubeasz CA (ca) to a CA of
etcd's own (etcd-ca), with a stand-in kube-apiserver (tests/lab/writer.py under a kube-apiserver unit,
taking kube-apiserver's --etcd-* flags) that writes the whole time with the credentials its unit
gives it. Refusals change nothing; a run killed at a random moment resumes; no write fails; at the
end a certificate of the old CA is refused by etcd. Runs last in the default scenario: it leaves the
lab on the new CA."""

import json
import os
import random
import re
import signal
import subprocess
import time

import pytest

import invalid_input as lab

MEMBERS, CONTAINER = lab.MEMBERS, lab.CONTAINER
APISERVER = MEMBERS[0]
MARKER = os.path.join(lab.SSL, ".rotate-ca.json")
UNIT = "/etc/systemd/system/kube-apiserver.service"
STANDIN = "/var/lib/standin"
MOVED = {"etcd_rotate_ca_clients_moved": True}  # no etcd client here but the stand-in kube-apiserver
SEED = int(os.environ.get("FAULTS_SEED", str(int(time.time()))))


def docker_cp(source, ip, dest):
    subprocess.run(["docker", "cp", source, "%s:%s" % (CONTAINER[ip], dest)], check=True)


def start_standin_apiserver(ip):
    """kube-apiserver as kubeasz writes its unit, with the writer in place of the binary: the controller's
    client certificate of the old CA serves as kubernetes.pem."""
    docker_cp(lab.WRITER, ip, "/usr/local/bin/standin-apiserver.py")
    docker_cp(os.path.join(lab.SSL, "etcd-client.pem"), ip, "/etc/kubernetes/ssl/kubernetes.pem")
    docker_cp(os.path.join(lab.SSL, "etcd-client-key.pem"), ip, "/etc/kubernetes/ssl/kubernetes-key.pem")
    unit = """[Unit]
Description=stand-in kube-apiserver (writes to etcd with its --etcd-* flags)
[Service]
ExecStart=/usr/bin/python3 /usr/local/bin/standin-apiserver.py \\
  --etcd-cafile=/etc/kubernetes/ssl/ca.pem \\
  --etcd-certfile=/etc/kubernetes/ssl/kubernetes.pem \\
  --etcd-keyfile=/etc/kubernetes/ssl/kubernetes-key.pem \\
  --etcd-servers=%s \\
  --etcdctl=/opt/kube/bin/etcdctl --stop-file=%s/stop --report=%s/report-{pid}.json --max-seconds=1500
""" % (",".join("https://%s:2379" % m for m in MEMBERS), STANDIN, STANDIN)
    lab.sh(CONTAINER[ip], "mkdir -p %s && rm -f %s/* && cat > %s <<'EOF'\n%sEOF\nsystemctl daemon-reload && systemctl start kube-apiserver"
           % (STANDIN, STANDIN, UNIT, unit))
    time.sleep(3)
    assert lab.sh(CONTAINER[ip], "systemctl is-active kube-apiserver").strip() == "active"


def standin_reports(ip):
    """Stop the stand-in and read the report of every process it ran (one per restart)."""
    lab.sh(CONTAINER[ip], "touch %s/stop" % STANDIN)
    for _ in range(60):
        if lab.sh(CONTAINER[ip], "systemctl is-active kube-apiserver", check=False).strip() != "active":
            break
        time.sleep(2)
    names = lab.sh(CONTAINER[ip], "ls %s" % STANDIN).split()
    return [json.loads(lab.sh(CONTAINER[ip], "cat %s/%s" % (STANDIN, name))) for name in names if name.startswith("report-")]


def inventory(tmp_path, kube_master=(APISERVER,)):
    return lab.write_inventory(tmp_path / "hosts", kube_master=kube_master,
                               extra_vars={"etcd_membership_apiserver_port": 0})


def unit_flags(ip):
    return dict(re.findall(r"--(etcd-[a-z]+)=(\S+)", lab.sh(CONTAINER[ip], "cat %s" % UNIT)))


def etcdctl_put(cacert, cert, key):
    """A write from the controller with the given files; returns (rc, stderr)."""
    done = subprocess.run([lab.ETCDCTL, "--endpoints=https://%s:2379" % MEMBERS[0], "--cacert=" + cacert, "--cert=" + cert,
                           "--key=" + key, "--command-timeout=5s", "put", "/ezops-rotate-check", "x"],
                          capture_output=True, text=True, env=dict(os.environ, ETCDCTL_API="3"), check=False)
    return done.returncode, done.stderr


def killed_run(playbook, extra_vars, inventory_path, after):
    """Start a run and SIGKILL it and its children after `after` seconds (an operator's Ctrl-C, a dead laptop)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(lab.PROJECT, ".cache/collections"),
               ANSIBLE_CONFIG=os.path.join(lab.PROJECT, "ansible.cfg"))
    proc = subprocess.Popen(["ansible-playbook", "-i", str(inventory_path), os.path.join(lab.PROJECT, "playbooks", playbook),
                             "-e", json.dumps(extra_vars)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        proc.wait(timeout=after)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    start_standin_apiserver(APISERVER)
    return inventory(tmp_path_factory.mktemp("rotate"))


def test_bad_requests_and_an_apiserver_that_cannot_be_switched_are_refused_before_anything_changes(apiserver, tmp_path):
    before = lab.lab_state()
    lab.assert_refused(lab.run("98.rotate-ca.yml", {"etcd_rotate_ca_until": "halfway"}, inventory=apiserver),
                       "rotate_ca_bad_until", "trust, apiservers, certs, done", before, lab.lab_state())
    lab.assert_refused(lab.run("98.rotate-ca.yml", {"etcd_rotate_ca_to": "ca"}, inventory=apiserver),
                       "rotate_ca_bad_names", "etcd_rotate_ca_to=etcd-ca", before, lab.lab_state())
    # the members' certificates would change before the operator said the other clients moved
    lab.assert_refused(lab.run("98.rotate-ca.yml", inventory=apiserver), "rotate_ca_clients_not_confirmed",
                       "etcd_rotate_ca_clients_moved=true", before, lab.lab_state())
    # a second kube_master whose kube-apiserver unit has no --etcd-* flags (here: none at all)
    two = inventory(tmp_path, kube_master=(APISERVER, MEMBERS[1]))
    refused = lab.run("98.rotate-ca.yml", MOVED, inventory=two)
    lab.assert_refused(refused, "rotate_ca_apiserver_flags", "etcd_rotate_ca_until=apiservers", before, lab.lab_state())
    assert MEMBERS[1] in refused.message("rotate_ca_apiserver_flags")
    assert not os.path.exists(os.path.join(lab.SSL, "etcd-ca.pem")) and not os.path.exists(MARKER)


def test_the_rotation_refuses_to_start_while_a_member_is_down(apiserver):
    down = MEMBERS[2]
    lab.sh(CONTAINER[down], "systemctl stop etcd")
    try:
        before = lab.lab_state()
        refused = lab.run("98.rotate-ca.yml", MOVED, inventory=apiserver)
        lab.assert_refused(refused, "rotate_ca_unhealthy", "playbooks/status.yml", before, lab.lab_state())
        assert not os.path.exists(MARKER)
    finally:
        lab.sh(CONTAINER[down], "systemctl start etcd")
        time.sleep(5)


def test_rotation_to_a_dedicated_etcd_ca_killed_and_resumed_without_a_failed_write(apiserver):
    old_ca = os.path.join(lab.SSL, "ca.pem")
    kept_before = dict((ip, lab.sh(CONTAINER[ip], "ls /etc/kubernetes/ssl").count("etcd.pem.")) for ip in MEMBERS)
    # the first phase alone, as asked
    first = lab.run("98.rotate-ca.yml", {"etcd_rotate_ca_until": "trust"}, inventory=apiserver)
    assert first.rc == 0, first.tail()
    assert json.load(open(MARKER))["done"] == ["trust"]
    for ip in MEMBERS:
        assert "--trusted-ca-file=/etc/kubernetes/ssl/etcd-ca-bundle.pem" in lab.sh(CONTAINER[ip], "cat /etc/systemd/system/etcd.service")
    assert unit_flags(APISERVER)["etcd-certfile"] == "/etc/kubernetes/ssl/kubernetes.pem"
    # a deploy meanwhile would make the members trust one CA again: refused until the rotation is done
    before = lab.lab_state()
    lab.assert_refused(lab.run("02.etcd.yml"), "rotate_ca_unfinished", "98.rotate-ca.yml", before, lab.lab_state())
    # then the rest, killed at a random moment and run again
    after = random.Random(SEED).uniform(0, 30)
    print("FAULTS_SEED=%d: killing the run after %.1f s" % (SEED, after))
    killed_run("98.rotate-ca.yml", MOVED, apiserver, after)
    resumed = lab.run("98.rotate-ca.yml", MOVED, inventory=apiserver)
    assert resumed.rc == 0, resumed.tail()
    record = json.load(open(MARKER))
    assert (record["from"], record["to"], sorted(record["done"])) == ("ca", "etcd-ca", ["apiservers", "certs", "done", "trust"])
    reports = standin_reports(APISERVER)
    print("stand-in apiserver:", [{k: r[k] for k in ("acked", "failed", "retried", "missing_count", "seconds")} for r in reports])
    assert len(reports) >= 3, "the stand-in kube-apiserver was not restarted onto its new credentials twice"
    assert sum(r["acked"] for r in reports) >= 50
    assert [r["failed"] for r in reports] == [0] * len(reports), [r["failures"] for r in reports]
    assert all(r["read_back_ok"] and r["missing_count"] == 0 for r in reports)
    # one member at a time: never two endpoints down in two health samples in a row. Every process
    # that ran through a phase sampled; the one started by the last restart may live only seconds
    # (until standin_reports stops it), so it is not held to a count of samples.
    assert all(r["max_unhealthy_sustained"] <= 1 for r in reports), reports
    assert all(r["health_samples"] >= 10 for r in reports if r["seconds"] >= 20), reports
    assert sum(r["seconds"] >= 20 for r in reports) >= 2, reports
    # the apiserver now uses a client certificate of the new CA and verifies the members with it alone
    assert unit_flags(APISERVER) == {
        "etcd-cafile": "/etc/kubernetes/ssl/etcd-ca.pem", "etcd-certfile": "/etc/kubernetes/ssl/apiserver-etcd-client.pem",
        "etcd-keyfile": "/etc/kubernetes/ssl/apiserver-etcd-client-key.pem",
        "etcd-servers": ",".join("https://%s:2379" % m for m in MEMBERS)}
    # etcd refuses a client certificate of the old CA; one of the new CA writes
    kept = os.path.join(lab.LAB, "old-client")
    os.makedirs(kept, exist_ok=True)
    for name in ("kubernetes.pem", "kubernetes-key.pem"):
        subprocess.run(["docker", "cp", "%s:/etc/kubernetes/ssl/%s" % (CONTAINER[APISERVER], name), kept], check=True)
    new_ca = os.path.join(lab.SSL, "etcd-ca.pem")
    # the same endpoint and CA file, only the client certificate differs (etcd resets the TLS handshake)
    rc, err = etcdctl_put(new_ca, os.path.join(kept, "kubernetes.pem"), os.path.join(kept, "kubernetes-key.pem"))
    assert rc != 0, "etcd still accepts a client certificate of the old CA"
    assert etcdctl_put(new_ca, os.path.join(lab.SSL, "etcd-client.pem"), os.path.join(lab.SSL, "etcd-client-key.pem"))[0] == 0
    for ip in MEMBERS:
        unit = lab.sh(CONTAINER[ip], "cat /etc/systemd/system/etcd.service")
        assert "--trusted-ca-file=/etc/kubernetes/ssl/etcd-ca.pem" in unit
        # kubeasz's ca.pem, which Kubernetes uses, is untouched; the old member certificate is kept
        assert lab.sh(CONTAINER[ip], "cat /etc/kubernetes/ssl/ca.pem") == open(old_ca).read()
        assert lab.sh(CONTAINER[ip], "ls /etc/kubernetes/ssl").count("etcd.pem.") == kept_before[ip] + 1


def test_after_the_rotation_a_rerun_does_nothing_and_a_deploy_with_the_old_ca_name_is_refused(apiserver):
    again = lab.run("98.rotate-ca.yml", MOVED, inventory=apiserver)
    assert again.rc == 0 and again.changed == 0, again.tail()
    before = lab.lab_state()
    lab.assert_refused(lab.run("02.etcd.yml"), "certs_not_from_trusted_ca", "etcd_pki_ca_name: etcd-ca", before, lab.lab_state())
    converged = lab.run("02.etcd.yml", {"etcd_pki_ca_name": "etcd-ca"})
    assert converged.rc == 0 and converged.changed == 0, converged.tail()
