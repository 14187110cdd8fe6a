"""Harness for the bad-input table, in the manner of linux-system-roles' tests_invalid_input.yml.

A refusal is proven by its flag, not by message text: every refusal task is ``ezops.etcd.refuse``,
whose result carries ``refusal: <code>``. ``run()`` plays a playbook with the JSON callback and
returns the codes of the refused tasks and Ansible's own changed count; ``lab_state()`` reads what
a refused run must leave alone on every lab member and on the controller, so a test asserts
``lab_state() == before``.
"""

import hashlib
import json
import os
import subprocess
import sys
import time

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY",
                         os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
LAB_ID = os.environ.get("LAB_ID", "0")
LAB = os.path.join(PROJECT, ".cache/lab%s" % LAB_ID)
HOSTS = os.path.join(LAB, "hosts")
BASE_DIR = os.path.join(LAB, "kubeasz")
CLUSTER_DIR = os.path.join(BASE_DIR, "clusters/lab")
PREFIX = "ezops-etcd%s" % LAB_ID.lstrip("0")
SUBNET = "172.29.%d" % (10 + int(LAB_ID))
SSL = os.path.join(CLUSTER_DIR, "ssl")
ETCDCTL = os.path.join(BASE_DIR, "bin/etcdctl")
WRITER = os.path.join(PROJECT, "tests/lab/writer.py")
MEMBERS = ["%s.%d" % (SUBNET, 10 + i) for i in range(1, 4)]
CONTAINER = {"%s.%d" % (SUBNET, 10 + i): "%s-%d" % (PREFIX, i) for i in range(1, 5)}  # the fourth: a spare

# Files whose content and time a refused run must not touch, and directories whose entries it
# must not add to or remove from (a moved-aside or chowned data dir shows up here).
WATCHED_FILES = ["/etc/systemd/system/etcd.service", "/etc/etcd/bootstrap.env", "/etc/etcd/etcdctl.env",
                 "/etc/kubernetes/ssl/ca.pem", "/etc/kubernetes/ssl/etcd.pem",
                 "/etc/kubernetes/ssl/etcd-key.pem", "/opt/kube/bin/etcd", "/opt/kube/bin/etcdctl"]
WATCHED_DIRS = ["/var/lib", "/var/lib/etcd", "/etc/etcd", "/etc/kubernetes/ssl", "/var/tmp", "/tmp"]

_READ = r"""
for f in %(files)s; do
  if [ -e "$f" ]; then echo "F $f $(stat -c '%%Y %%s %%U %%a' "$f") $(sha256sum < "$f" | cut -c1-64)"; else echo "F $f absent"; fi
done
for d in %(dirs)s; do
  [ -d "$d" ] && echo "D $d $(stat -c '%%U %%a' "$d") $(ls -A "$d" | tr '\n' ' ')"
done
echo "S $(systemctl show etcd.service --property=ActiveState,MainPID,ActiveEnterTimestampMonotonic,NeedDaemonReload | tr '\n' ' ')"
ls /etc/systemd/system/etcd.service.d 2>/dev/null | sed 's/^/U /'
""" % {"files": " ".join(WATCHED_FILES), "dirs": " ".join(WATCHED_DIRS)}


def sh(container, script, check=True):
    return subprocess.run(["docker", "exec", container, "sh", "-c", script], capture_output=True,
                          text=True, check=check).stdout


def service(ip):
    """etcd's MainPID and start time on a member: equal before and after means not restarted."""
    return sh(CONTAINER[ip], "systemctl show etcd --property=MainPID,ActiveEnterTimestampMonotonic")


def containers():
    out = subprocess.run(["docker", "ps", "--format", "{{.Names}}", "--filter", "label=ezops.lab=lab%s" % LAB_ID],
                         capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


def _controller_state():
    state = {}
    for top in (CLUSTER_DIR,):
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                with open(path, "rb") as handle:
                    state[path] = hashlib.sha256(handle.read()).hexdigest()
            for name in dirs:
                state[os.path.join(root, name) + "/"] = "dir"
    return state


def lab_state():
    """Everything a refused run must leave as it was: members' files, services, and the controller."""
    state = {"controller": _controller_state()}
    for name in containers():
        state[name] = subprocess.run(["docker", "exec", name, "sh", "-c", _READ],
                                     capture_output=True, text=True, check=True).stdout.splitlines()
    return state


class Run(object):
    """One ansible-playbook run, read from the JSON callback."""

    def __init__(self, completed):
        self.rc = completed.returncode
        self.stderr = completed.stderr
        self.raw = completed.stdout
        start = completed.stdout.find("{")
        try:
            self.data = json.loads(completed.stdout[start:]) if start >= 0 else {}
        except ValueError:
            self.data = {}
        self.results = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                for host, res in task.get("hosts", {}).items():
                    self.results.append((task["task"]["name"], host, res))

    @property
    def refusals(self):
        """The refusal codes of the tasks that refused (ezops.etcd.refuse), in order."""
        return [res["refusal"] for _name, _host, res in self.results if res.get("failed") and res.get("refusal")]

    def message(self, code):
        for _name, _host, res in self.results:
            if res.get("refusal") == code:
                return res.get("msg", "")
        return ""

    @property
    def changed(self):
        """Ansible's own count of changed results over every host (the stats block)."""
        return sum(stats.get("changed", 0) for stats in self.data.get("stats", {}).values())

    def tail(self, lines=30):
        failed = ["%s | %s | %s" % (name, host, res.get("msg", "")) for name, host, res in self.results if res.get("failed")]
        return "rc=%s failed=%s stderr=%s" % (self.rc, failed[-5:], "\n".join(self.stderr.splitlines()[-lines:]))


def run(playbook, extra_vars=None, inventory=HOSTS, args=(), timeout=900):
    """Play playbooks/<playbook> against the lab (or the given inventory path) and read the result."""
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT, ".cache/collections"),
               ANSIBLE_CONFIG=os.path.join(PROJECT, "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_NOCOLOR="1")
    argv = ["ansible-playbook", "-i", str(inventory), os.path.join(PROJECT, "playbooks", playbook)]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    argv += list(args)
    completed = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    return Run(completed)


def write_inventory(path, etcd_lines=None, extra_vars=None, kube_master=()):
    """A kubeasz-style inventory of the lab's members (or the given [etcd] lines), with extra [all:vars];
    kube_master: lab addresses listed under [kube_master]."""
    if etcd_lines is None:
        etcd_lines = ["%s.%d ansible_host=%s-%d" % (SUBNET, 10 + i, PREFIX, i) for i in range(1, 4)]
    masters = ["%s ansible_host=%s" % (ip, CONTAINER[ip]) for ip in kube_master]
    lines = ["[etcd]"] + list(etcd_lines) + ["", "[kube_master]"] + masters + ["", "[kube_node]", "", "[all:vars]",
             "ansible_connection=community.docker.docker", "ansible_python_interpreter=/usr/bin/python3",
             'bin_dir="/opt/kube/bin"', 'base_dir="%s"' % BASE_DIR, 'cluster_dir="{{ base_dir }}/clusters/lab"',
             'ca_dir="/etc/kubernetes/ssl"', 'ETCD_DATA_DIR="/var/lib/etcd"', 'ETCD_WAL_DIR=""']
    for key, value in (extra_vars or {}).items():
        lines.append("%s=%s" % (key, value))
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_refused(result, code, fix, before, after):
    """The run failed by refusing with `code`, its message names `fix`, and nothing changed anywhere."""
    assert result.rc != 0, result.tail()
    assert code in result.refusals, "expected refusal %r, got %r; %s" % (code, result.refusals, result.tail())
    assert fix in result.message(code), "refusal %r does not name the fix %r: %s" % (code, fix, result.message(code))
    assert result.changed == 0, "a refused run changed %d results: %s" % (result.changed, result.tail())
    assert after == before


class Writer(object):
    """tests/lab/writer.py in the background; its endpoints can change while it runs."""

    count = 0

    def __init__(self, endpoints):
        Writer.count += 1
        self.dir = os.path.join(LAB, "writer-%d" % Writer.count)
        os.makedirs(self.dir, exist_ok=True)
        for name in ("stop", "report.json"):
            if os.path.exists(os.path.join(self.dir, name)):
                os.remove(os.path.join(self.dir, name))
        self.endpoints(endpoints)
        self.proc = subprocess.Popen(
            [sys.executable, WRITER, "--endpoints-file=%s/endpoints" % self.dir, "--cacert=%s/ca.pem" % SSL,
             "--cert=%s/etcd-client.pem" % SSL, "--key=%s/etcd-client-key.pem" % SSL, "--etcdctl=" + ETCDCTL,
             "--stop-file=%s/stop" % self.dir, "--report=%s/report.json" % self.dir, "--max-seconds=1500"])
        time.sleep(3)

    def endpoints(self, ips):
        with open(os.path.join(self.dir, "endpoints.partial"), "w") as out:
            out.write(",".join("https://%s:2379" % ip for ip in ips))
        os.replace(os.path.join(self.dir, "endpoints.partial"), os.path.join(self.dir, "endpoints"))

    def stop(self):
        open(os.path.join(self.dir, "stop"), "w").close()
        self.proc.wait(timeout=180)
        with open(os.path.join(self.dir, "report.json")) as source:
            report = json.load(source)
        print("writer report:", json.dumps({k: v for k, v in report.items() if k != "failures"}))
        assert report["acked"] >= 10, report
        assert report["read_back_ok"], report
        assert report["missing_count"] == 0, report
        return report
