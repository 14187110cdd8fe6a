"""Faults on a live lab: each test breaks something the way a bad day does and checks that the
playbooks neither cause an outage nor lose an acknowledged write, and that a re-run completes.

The tests run in file order and share the lab (3 members deployed by converge, one spare host).
Random choices (when to kill ansible-playbook, when to cut a member off) come from FAULTS_SEED,
printed at the start, so a failure can be replayed.
"""

import json
import os
import pathlib
import random
import signal
import ssl
import subprocess
import sys
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../default/tests"))
import invalid_input as lab  # noqa: E402  (the shared harness of the bad-input table)

SEED = int(os.environ.get("FAULTS_SEED", str(int(time.time()))))
RNG = random.Random(SEED)
print("FAULTS_SEED=%d" % SEED)

NET = "ezops-lab%s" % lab.LAB_ID
MEMBERS = lab.MEMBERS
SPARE = "%s.14" % lab.SUBNET
CONTAINER = lab.CONTAINER
SSL = lab.SSL
ETCDCTL = lab.ETCDCTL
BACKUP_DIR = os.path.join(lab.CLUSTER_DIR, "backup")
LOGS = os.path.join(lab.LAB, "faults-logs")


# --- the lab ----------------------------------------------------------------------------------
sh = lab.sh


def etcdctl(args, endpoints=None, timeout=30):
    argv = [ETCDCTL, "--endpoints=" + ",".join("https://%s:2379" % ip for ip in endpoints or MEMBERS),
            "--cacert=%s/ca.pem" % SSL, "--cert=%s/etcd-client.pem" % SSL, "--key=%s/etcd-client-key.pem" % SSL,
            "--command-timeout=5s"] + args
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          env=dict(os.environ, ETCDCTL_API="3"))


def statuses(endpoints=None):
    out = etcdctl(["endpoint", "status", "-w", "json"], endpoints).stdout
    return json.loads(out) if out.strip() else []


def leader(endpoints=None):
    for status in statuses(endpoints):
        if status["Status"]["header"]["member_id"] == status["Status"]["leader"]:
            return status["Endpoint"].split("//")[1].split(":")[0]
    return None


def voters():
    out = etcdctl(["member", "list", "-w", "json"]).stdout
    members = json.loads(out).get("members", []) if out.strip() else []
    return sorted(m["peerURLs"][0].split("//")[1].split(":")[0] for m in members
                  if not m.get("isLearner") and m.get("name"))


def wait_healthy(endpoints=None, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if etcdctl(["endpoint", "health"], endpoints).returncode == 0 and leader(endpoints):
            return
        time.sleep(2)
    raise AssertionError("the cluster %s is not healthy after %d s" % (endpoints or MEMBERS, timeout))


service = lab.service


def cut_off(ip):
    subprocess.run(["docker", "network", "disconnect", NET, CONTAINER[ip]], check=True)


def reconnect(ip):
    subprocess.run(["docker", "network", "connect", "--ip", ip, NET, CONTAINER[ip]], check=True)


def inventory(members, name):
    """An inventory with the given [etcd] members, the other lab hosts in [spare]."""
    path = pathlib.Path(lab.LAB) / ("faults-%s.hosts" % name)
    lab.write_inventory(path, ["%s ansible_host=%s" % (ip, CONTAINER[ip]) for ip in members])
    return str(path)


# --- a client writing the whole time ----------------------------------------------------------
Writer = lab.Writer


# --- ansible-playbook, killed or not ---------------------------------------------------------
def play(playbook, inventory_path=lab.HOSTS, extra=None, name=None, timeout=900):
    """Run a playbook to its end; the log is kept under .cache/lab<ID>/faults-logs."""
    os.makedirs(LOGS, exist_ok=True)
    result = lab.run(playbook, extra, inventory=inventory_path, timeout=timeout)
    with open(os.path.join(LOGS, "%s.json" % (name or playbook)), "w") as out:
        out.write(result.raw + "\n" + result.stderr)
    return result


def play_killed(playbook, earliest, latest, inventory_path=lab.HOSTS, extra=None):
    """Start a playbook and SIGKILL it and all its workers at a random moment; True if it was
    still running when killed."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(lab.PROJECT, ".cache/collections"),
               ANSIBLE_CONFIG=os.path.join(lab.PROJECT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    argv = ["ansible-playbook", "-i", inventory_path, os.path.join(lab.PROJECT, "playbooks", playbook)]
    if extra:
        argv += ["-e", json.dumps(extra)]
    os.makedirs(LOGS, exist_ok=True)
    delay = RNG.uniform(earliest, latest)
    with open(os.path.join(LOGS, "%s-killed.log" % playbook), "w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            proc.wait(timeout=delay)
            print("%s finished (rc %s) before the kill at %.1f s" % (playbook, proc.returncode, delay))
            return False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print("%s killed after %.1f s" % (playbook, delay))
            return True


def succeeded(result):
    assert result.rc == 0, result.tail()
    return result


@pytest.fixture(scope="module", autouse=True)
def lab_healthy():
    wait_healthy()
    yield
    for ip in CONTAINER:
        subprocess.run(["docker", "network", "connect", "--ip", ip, NET, CONTAINER[ip]],
                       capture_output=True, check=False)


# --- the faults ------------------------------------------------------------------------------
def test_recovery_asked_from_a_cut_off_member_is_refused_and_the_majority_keeps_serving():
    # A follower: cutting the leader off would make the majority elect a new one, and a write caught
    # in that election fails in etcd itself, whatever a playbook does.
    cut = [ip for ip in MEMBERS if ip != leader()][0]
    majority = [ip for ip in MEMBERS if ip != cut]
    writer = Writer(majority)
    before = {ip: service(ip) for ip in majority}
    data_dirs = {ip: sh(CONTAINER[ip], "ls -A /var/lib") for ip in MEMBERS}
    cut_off(cut)
    try:
        time.sleep(5)  # the cut-off member notices it has lost its leader
        result = play("97.recover-quorum.yml", extra={"etcd_recover_from": cut}, name="recover-from-cut-off")
    finally:
        reconnect(cut)
    report = writer.stop()
    assert result.rc != 0, result.tail()
    assert result.refusals and result.refusals[0].startswith("recover_"), result.tail()
    assert result.changed == 0, result.tail()
    assert {ip: service(ip) for ip in majority} == before, "a member of the majority was restarted"
    assert {ip: sh(CONTAINER[ip], "ls -A /var/lib") for ip in MEMBERS} == data_dirs
    assert report["failed"] == 0, report
    wait_healthy()


def status_report(result):
    """The text playbooks/status.yml printed (its "Show the status" task)."""
    shown = [res.get("msg", "") for name, _host, res in result.results if name == "Show the status"]
    assert shown, result.tail()
    return shown[0]


def test_status_prints_every_member_when_one_is_down_and_strict_mode_fails():
    down = [ip for ip in MEMBERS if ip != leader()][0]
    sh(CONTAINER[down], "systemctl stop etcd")
    try:
        shown = play("status.yml", name="status-member-down")
        strict = play("status.yml", extra={"etcd_status_strict": True}, name="status-strict-member-down")
    finally:
        sh(CONTAINER[down], "systemctl start etcd")
    assert shown.rc == 0, shown.tail()
    rows = dict((line.split()[0], line) for line in status_report(shown).splitlines() if line.startswith("etcd-"))
    assert sorted(rows) == sorted("etcd-%s" % ip for ip in MEMBERS), rows
    assert "down: " in rows["etcd-%s" % down] and "Connection refused" in rows["etcd-%s" % down], rows
    for ip in MEMBERS:
        if ip != down:
            assert rows["etcd-%s" % ip].endswith(" healthy"), rows
    assert strict.rc != 0 and strict.refusals == ["status_unhealthy"], strict.tail()
    assert down in strict.message("status_unhealthy")
    assert shown.changed == 0 and strict.changed == 0
    wait_healthy()
    healthy = play("status.yml", extra={"etcd_status_strict": True}, name="status-strict-healthy")
    assert healthy.rc == 0, healthy.tail()
    assert status_report(healthy).endswith("No problem found."), status_report(healthy)
    # the days printed are those of the certificate each member serves: the one in its file here
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    views = [res for name, _h, res in healthy.results if name.startswith("Ask every member's client URL")]
    assert len(views) == 3, healthy.tail()
    for view in views:
        assert sorted(view["served_certificates"]) == sorted("https://%s:2379" % ip for ip in MEMBERS), view
        for ip in MEMBERS:
            on_disk = x509.load_pem_x509_certificate(sh(CONTAINER[ip], "cat /etc/kubernetes/ssl/etcd.pem").encode())
            assert view["served_certificates"]["https://%s:2379" % ip]["serial"] == "%x" % on_disk.serial_number


def seed_megabytes(count):
    """Make the database large enough that a snapshot takes a moment: count values of 1 MiB."""
    blob = "x" * (1024 * 1024 - 64)
    for n in range(count):
        put = subprocess.run([ETCDCTL, "--endpoints=https://%s:2379" % MEMBERS[0], "--cacert=%s/ca.pem" % SSL,
                              "--cert=%s/etcd-client.pem" % SSL, "--key=%s/etcd-client-key.pem" % SSL,
                              "put", "/ezops-faults/blob/%03d" % n],
                             input=blob, capture_output=True, text=True, check=False)
        assert put.returncode == 0, put.stderr


def backup_files():
    return {name: os.stat(os.path.join(BACKUP_DIR, name)).st_mtime_ns
            for name in (os.listdir(BACKUP_DIR) if os.path.isdir(BACKUP_DIR) else [])}


def test_member_killed_in_the_middle_of_a_backup_gives_a_good_snapshot_or_a_clear_failure():
    succeeded(play("94.backup.yml", name="backup-first"))
    seed_megabytes(40)
    before = backup_files()
    latest = os.path.join(BACKUP_DIR, "snapshot.db")
    latest_sha = subprocess.run(["sha256sum", latest], capture_output=True, text=True, check=True).stdout.split()[0]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(lab.PROJECT, ".cache/collections"),
               ANSIBLE_CONFIG=os.path.join(lab.PROJECT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.Popen(["ansible-playbook", "-i", lab.HOSTS, os.path.join(lab.PROJECT, "playbooks/94.backup.yml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        for ip in MEMBERS:
            if sh(CONTAINER[ip], "pgrep -f 'snapshot save' || true").strip():
                sh(CONTAINER[ip], "systemctl kill --signal=SIGKILL etcd")
                killed = ip
                break
    out, err = proc.communicate(timeout=600)
    print("killed etcd on %s during the snapshot" % killed if killed else "the snapshot ended before a kill")
    after = backup_files()
    new = sorted(set(after) - set(before))
    partial = [name for name in after if "partial" in name or name.startswith(".")]
    assert not [n for n in partial if n not in before], "a partial file was left: %s" % partial
    if proc.returncode == 0:
        snapshots = [n for n in new if n.endswith(".db")]
        assert snapshots, "the backup succeeded but wrote no new snapshot: %s" % new
        for name in snapshots:
            path = os.path.join(BACKUP_DIR, name)
            digest = subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True).stdout.split()[0]
            with open(path + ".sha256") as sidecar:
                assert sidecar.read().split()[0] == digest
            status = subprocess.run([os.path.join(lab.BASE_DIR, "bin/etcdutl"), "snapshot", "status", path, "-w", "json"],
                                    capture_output=True, text=True, check=False)
            assert status.returncode == 0, status.stderr
    else:
        assert not [n for n in new if n.endswith(".db")], "a failed backup left a snapshot: %s" % new
        digest = subprocess.run(["sha256sum", latest], capture_output=True, text=True, check=True).stdout.split()[0]
        assert digest == latest_sha, "snapshot.db changed in a failed backup"
        assert err.strip() or out.strip()
    wait_healthy()
    etcdctl(["del", "--prefix", "/ezops-faults/blob/"])


def _dir_state(directory):
    """name -> (sha256, inode, size) of everything in a backup dir but the filler."""
    out = {}
    for name in sorted(os.listdir(directory)):
        if name != "filler":
            path = os.path.join(directory, name)
            digest = subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True).stdout.split()[0]
            out[name] = (digest, os.lstat(path).st_ino, os.lstat(path).st_size)
    return out


def _fill(directory, leave):
    """Fill the tmpfs at `directory` until about `leave` bytes stay free (whole pages)."""
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize
    with open(os.path.join(directory, "filler"), "ab") as handle:
        handle.write(b"\0" * max(0, (free - leave) // 4096 * 4096))


@pytest.fixture
def small_backup_dir():
    """A tmpfs with room for about three snapshots, holding one good backup, as etcd_backup_dir."""
    size = max(int(s["Status"]["dbSize"]) for s in statuses())
    directory = os.path.join(lab.LAB, "faults-small-backup")
    os.makedirs(directory, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % (3 * size // 2**20 + 24), "tmpfs", directory],
                   check=True)
    try:
        succeeded(play("94.backup.yml", extra={"etcd_backup_dir": directory}, name="backup-small-first"))
        yield directory
    finally:
        subprocess.run(["umount", directory], check=False)
        os.rmdir(directory)


@pytest.mark.parametrize("check_space", [True, False], ids=["space-checked", "copy-hits-enospc"])
def test_a_full_backup_directory_fails_clearly_and_keeps_snapshot_db(small_backup_dir, check_space):
    # one page short of the snapshot: the space check refuses; without it the copy itself runs out
    size = max(int(s["Status"]["dbSize"]) for s in statuses())
    _fill(small_backup_dir, size // 2)
    before = _dir_state(small_backup_dir)
    assert "snapshot.db" in before
    result = play("94.backup.yml", extra={"etcd_backup_dir": small_backup_dir, "etcd_backup_check_space": check_space},
                  name="backup-full-%s" % check_space)
    assert result.rc != 0, result.tail()
    expected = "backup_no_space" if check_space else "backup_failed"
    assert expected in result.refusals, (result.refusals, result.tail())
    assert "snapshot.db and the earlier snapshots are unchanged" in result.message(expected), result.message(expected)
    assert _dir_state(small_backup_dir) == before, "a failed backup changed or left files in the backup directory"
    for ip in MEMBERS:
        assert not sh(CONTAINER[ip], "ls -A /var/tmp/ezops-etcd-backup 2>/dev/null || true").strip(), ip


def test_deploy_killed_at_a_random_moment_completes_when_run_again():
    writer = Writer(MEMBERS)
    change = {"etcd_snapshot_count": 40000}
    play_killed("02.etcd.yml", 5, 45, extra=change)
    succeeded(play("02.etcd.yml", extra=change, name="deploy-rerun"))
    unit = sh(CONTAINER[MEMBERS[0]], "cat /etc/systemd/system/etcd.service")
    assert "--snapshot-count=40000" in unit
    report = writer.stop()
    assert report["failed"] == 0, report


def test_add_and_remove_killed_at_a_random_moment_complete_when_run_again():
    writer = Writer(MEMBERS)
    four = inventory(MEMBERS + [SPARE], "four")
    play_killed("21.addetcd.yml", 5, 60, inventory_path=four, extra={"NODE_TO_ADD": SPARE})
    succeeded(play("21.addetcd.yml", four, {"NODE_TO_ADD": SPARE}, name="add-rerun"))
    assert voters() == sorted(MEMBERS + [SPARE])
    writer.endpoints(MEMBERS + [SPARE])
    play_killed("31.deletcd.yml", 5, 40, inventory_path=four, extra={"ETCD_TO_DEL": SPARE})
    succeeded(play("31.deletcd.yml", four, {"ETCD_TO_DEL": SPARE}, name="remove-rerun"))
    writer.endpoints(MEMBERS)
    assert voters() == sorted(MEMBERS)
    report = writer.stop()
    assert report["failed"] == 0, report


def test_a_member_cut_off_during_an_add_or_a_remove_stops_safely_and_a_rerun_completes():
    four = inventory(MEMBERS + [SPARE], "four")
    cut = MEMBERS[1]
    for playbook, extra, want in (("21.addetcd.yml", {"NODE_TO_ADD": SPARE}, sorted(MEMBERS + [SPARE])),
                                  ("31.deletcd.yml", {"ETCD_TO_DEL": SPARE}, sorted(MEMBERS))):
        writer = Writer([ip for ip in MEMBERS if ip != cut])
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(lab.PROJECT, ".cache/collections"),
                   ANSIBLE_CONFIG=os.path.join(lab.PROJECT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        argv = ["ansible-playbook", "-i", four, os.path.join(lab.PROJECT, "playbooks", playbook), "-e", json.dumps(extra)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(RNG.uniform(3, 25))
        cut_off(cut)
        try:
            out, err = proc.communicate(timeout=900)
        finally:
            reconnect(cut)
        print("%s with %s cut off: rc %s" % (playbook, cut, proc.returncode))
        if proc.returncode != 0:
            failed = lab.Run(subprocess.CompletedProcess(argv, proc.returncode, out, err))
            messages = [res.get("msg", "") for _n, _h, res in failed.results if res.get("failed")]
            assert any(len(m) > 20 for m in messages), "the run stopped without a message: %s" % failed.tail()
        wait_healthy()
        members_now = voters()
        assert len(members_now) >= 3, "the cluster lost voters: %s" % members_now
        succeeded(play(playbook, four, extra, name="%s-after-cut" % playbook))
        assert voters() == want
        report = writer.stop()
        assert report["missing_count"] == 0, report


def test_backup_and_restore_killed_at_a_random_moment_complete_when_run_again():
    writer = Writer(MEMBERS)
    time.sleep(5)
    report = writer.stop()
    assert report["failed"] == 0, report
    written = key_count("/ezops-writer/")
    play_killed("94.backup.yml", 3, 20)
    succeeded(play("94.backup.yml", name="backup-rerun"))
    marker = "/ezops-faults/after-backup"
    assert etcdctl(["put", marker, "gone-after-restore"]).returncode == 0
    play_killed("95.restore.yml", 10, 70)
    succeeded(play("95.restore.yml", name="restore-rerun"))
    wait_healthy()
    assert etcdctl(["get", marker, "--print-value-only"]).stdout.strip() == ""
    assert key_count("/ezops-writer/") == written, "the restore lost writes acknowledged before the backup"


def key_count(prefix):
    out = etcdctl(["get", prefix, "--prefix", "--keys-only", "--limit=1", "-w", "json"])
    assert out.returncode == 0, out.stderr
    return int(json.loads(out.stdout).get("count", 0))


def _mount_data_dir_on_tmpfs(ip, data_dir="/var/lib/etcd"):
    """Put a member's data on a tmpfs mounted at its data dir, with 48 MiB to spare: room for etcd to
    run, not for a restore (the database and a 64 MiB WAL segment)."""
    used_kib = int(sh(CONTAINER[ip], "du -sk %s | cut -f1" % data_dir).strip())
    size = "size=%dk" % (used_kib + 48 * 1024)
    if sh(CONTAINER[ip], "mountpoint -q %s && echo yes || echo no" % data_dir).strip() == "yes":
        sh(CONTAINER[ip], "mount -o remount,%s %s" % (size, data_dir))  # a re-run on the same lab
        return used_kib
    sh(CONTAINER[ip], "systemctl stop etcd && mv {d} {d}.tmpfs-test && mkdir {d} && "
                      "mount -t tmpfs -o {size},mode=0700 tmpfs {d} && cp -a {d}.tmpfs-test/. {d}/ && "
                      "chown etcd:etcd {d} && rm -rf {d}.tmpfs-test && systemctl start etcd"
                      .format(d=data_dir, size=size))
    wait_healthy()
    return used_kib


def test_a_restore_onto_a_mount_point_checks_room_before_stopping_and_moves_contents_aside():
    """Defect 5: a data dir that is a mount point cannot be renamed, and a restore needs room there."""
    ip = MEMBERS[0]
    data_dir = "/var/lib/etcd"
    used_kib = _mount_data_dir_on_tmpfs(ip, data_dir)
    assert sh(CONTAINER[ip], "mountpoint -q %s && echo yes || echo no" % data_dir).strip() == "yes"
    marker = "/ezops-faults/after-mount-backup"
    assert etcdctl(["del", marker]).returncode == 0
    succeeded(play("94.backup.yml", name="backup-before-mount-restore"))
    assert etcdctl(["put", marker, "gone-after-restore"]).returncode == 0

    # too small for the restored database and etcd's first WAL segment: refused, nothing stopped
    services = dict((m, service(m)) for m in MEMBERS)
    refused = play("95.restore.yml", name="restore-mount-too-small")
    assert refused.rc != 0 and "aside_no_space" in refused.refusals, refused.tail()
    messages = [res.get("msg", "") for _n, _h, res in refused.results if res.get("refusal") == "aside_no_space"]
    assert any(ip in m and "Nothing was stopped" in m for m in messages), messages
    assert dict((m, service(m)) for m in MEMBERS) == services, "a member was stopped or restarted"
    assert etcdctl(["get", marker, "--print-value-only"]).stdout.strip() == "gone-after-restore"

    # with room: restored in place, the old contents kept inside the mount
    sh(CONTAINER[ip], "mount -o remount,size=%dk %s" % (2 * used_kib + 512 * 1024, data_dir))
    earlier = set(sh(CONTAINER[ip], "ls -A %s" % data_dir).split())
    succeeded(play("95.restore.yml", name="restore-mount"))
    wait_healthy()
    assert etcdctl(["get", marker, "--print-value-only"]).stdout.strip() == ""
    assert sh(CONTAINER[ip], "mountpoint -q %s && echo yes || echo no" % data_dir).strip() == "yes"
    entries = sh(CONTAINER[ip], "ls -A %s" % data_dir).split()
    asides = [name for name in entries if name.startswith(".ezops-aside-") and name not in earlier]
    assert len(asides) == 1 and "member" in entries, (entries, earlier)
    assert {"snap", "wal"} <= set(sh(CONTAINER[ip], "ls %s/%s/member" % (data_dir, asides[0])).split())

    # a prune lists it in check mode and removes nothing
    listed = lab.run("prune-aside.yml", {"etcd_prune_keep": 0}, args=["--check"])
    assert listed.rc == 0, listed.tail()
    aside = "%s/%s" % (data_dir, asides[0])
    assert any(aside in str(res.get("msg", "")) for _n, _h, res in listed.results), listed.raw[-2000:]
    assert sh(CONTAINER[ip], "ls -A %s" % data_dir).split() == entries


def put_from_stdin(key, value, endpoint=None):
    return subprocess.run([ETCDCTL, "--endpoints=https://%s:2379" % (endpoint or MEMBERS[0]), "--cacert=%s/ca.pem" % SSL,
                           "--cert=%s/etcd-client.pem" % SSL, "--key=%s/etcd-client-key.pem" % SSL, "put", key],
                          input=value, capture_output=True, text=True, check=False)


def alarms():
    return etcdctl(["alarm", "list"]).stdout.split()


def use_release(version):
    """Put etcd <version>'s binaries in the controller's base_dir/bin, where kubeasz's ezdown leaves them."""
    source = os.path.join(lab.PROJECT, ".cache/etcd", version)
    if not os.path.exists(os.path.join(source, "etcd")):
        subprocess.run([os.path.join(lab.PROJECT, "scripts/fetch-etcd.sh"), version], check=True)
    for name in ("etcd", "etcdctl", "etcdutl"):
        if os.path.exists(os.path.join(source, name)):
            dest = os.path.join(lab.BASE_DIR, "bin", name)
            # renamed into place: the writer runs base_dir/bin/etcdctl meanwhile
            subprocess.run(["install", "-m", "0755", os.path.join(source, name), dest + ".new"], check=True)
            os.replace(dest + ".new", dest)


NOSPACE_QUOTA = 16 * 2**20


def member_versions():
    return sorted(s["Status"]["version"] for s in statuses())


def cluster_versions():
    """The cluster version each member reports in GET /version (etcdctl shows only server versions)."""
    context = ssl.create_default_context(cafile="%s/ca.pem" % SSL)
    context.load_cert_chain("%s/etcd-client.pem" % SSL, "%s/etcd-client-key.pem" % SSL)
    found = {}
    for ip in MEMBERS:
        with urllib.request.urlopen("https://%s:2379/version" % ip, context=context, timeout=5) as reply:
            found[ip] = json.load(reply)["etcdcluster"]
    return found


def test_routine_maintenance_installs_its_timer_whose_run_repeats_the_settings():
    """Routine maintenance (the earlier tests' deleted megabytes go, so the upgrade test's small quota
    fits), scheduled on a member with systemd; the service's command line, run on the controller as
    systemd would (the timer host has no ansible-playbook), reads the settings of the installing run."""
    timer_host, unit = MEMBERS[2], "ezops-etcd-maintenance"
    settings = {"etcd_maintenance_timer": True, "etcd_maintenance_timer_host": timer_host,
                "etcd_maintenance_min_reclaimable_bytes": 3 * 2**20, "etcd_backup_keep": 9}
    succeeded(play("maintenance.yml", extra=settings, name="maintenance-routine"))
    state = sh(CONTAINER[timer_host], "systemctl show %s.timer --property=UnitFileState,ActiveState" % unit).split()
    assert sorted(state) == ["ActiveState=active", "UnitFileState=enabled"], state
    stored = json.loads(sh(CONTAINER[timer_host], "cat /etc/ezops-etcd/%s.vars.json" % unit))
    assert stored["etcd_maintenance_min_reclaimable_bytes"] == 3 * 2**20 and stored["etcd_backup_keep"] == 9, stored
    assert stored["etcd_maintenance_timer"] is False and stored["etcd_backup_timer"] is False, stored
    assert sh(CONTAINER[timer_host], "stat -c %%a /etc/ezops-etcd/%s.vars.json" % unit).strip() == "600"

    service = sh(CONTAINER[timer_host], "cat /etc/systemd/system/%s.service" % unit)
    argv = [line for line in service.splitlines() if line.startswith("ExecStart=")][0][len("ExecStart="):].split(" ")
    local = pathlib.Path(lab.LAB) / ("%s.vars.json" % unit)
    local.write_text(json.dumps(stored))
    argv = [("@%s" % local) if a == "@/etc/ezops-etcd/%s.vars.json" % unit else a for a in argv] + ["--check"]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=os.path.join(lab.PROJECT, "ansible.cfg"))
    env.update(line[len("Environment="):].split("=", 1) for line in service.splitlines() if line.startswith("Environment="))
    scheduled = lab.Run(subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False))
    assert scheduled.rc == 0, scheduled.tail()
    defrag = [res for name, _h, res in scheduled.results if name.startswith("Defragment")][0]
    assert defrag["invocation"]["module_args"]["min_reclaimable_bytes"] == 3 * 2**20, defrag["invocation"]


def test_rolling_upgrade_with_a_writer_keeps_old_binaries_and_a_downgrade_is_refused():
    start = os.environ.get("ETCD_VERSION", "3.5.16")
    assert member_versions() == [start] * 3
    before = backup_files()
    writer = Writer(MEMBERS)
    use_release("3.5.30")
    # a flag change rides along in the same rolling restart, as it often does: the NOSPACE test's quota
    result = play("93.upgrade.yml", extra={"etcd_quota_backend_bytes": NOSPACE_QUOTA}, name="upgrade")
    report = writer.stop()
    succeeded(result)
    assert member_versions() == ["3.5.30"] * 3
    assert report["failed"] == 0, report
    assert [n for n in set(backup_files()) - set(before) if n.endswith(".db")], "no backup was taken first"
    for ip in MEMBERS:
        kept = sh(CONTAINER[ip], "ls /opt/kube/bin").split()
        assert {"etcd-%s" % start, "etcdctl-%s" % start} <= set(kept), (ip, kept)
        assert sh(CONTAINER[ip], "/opt/kube/bin/etcd-%s --version" % start).splitlines()[0].endswith(start)

    use_release(start)
    services = dict((ip, service(ip)) for ip in MEMBERS)
    try:
        refused = play("93.upgrade.yml", extra={"etcd_quota_backend_bytes": NOSPACE_QUOTA}, name="upgrade-downgrade")
    finally:
        use_release("3.5.30")
    assert refused.rc != 0 and refused.refusals == ["upgrade_downgrade"], refused.tail()
    assert "newer than %s" % start in refused.message("upgrade_downgrade")
    assert refused.changed == 0
    assert dict((ip, service(ip)) for ip in MEMBERS) == services


def raise_corrupt_alarm(ip):
    """What etcd's corruption check does when members' hashes differ (etcdctl can only disarm)."""
    import pyetcd  # pylint: disable=import-outside-toplevel
    from pyetcd import etcdrpc  # pylint: disable=import-outside-toplevel
    client = pyetcd.client(host=ip, port=2379, ca_cert="%s/ca.pem" % SSL, cert_cert="%s/etcd-client.pem" % SSL,
                           cert_key="%s/etcd-client-key.pem" % SSL, timeout=10)
    member_id = int([s for s in statuses([ip])][0]["Status"]["header"]["member_id"])
    request = etcdrpc.AlarmRequest(action=etcdrpc.AlarmRequest.ACTIVATE, memberID=member_id, alarm=2)  # CORRUPT: newer than this client's proto
    client.maintenancestub.Alarm(request, 10, credentials=client.call_credentials, metadata=client.metadata)


def test_maintenance_refuses_a_corrupt_alarm_and_changes_nothing():
    ip = MEMBERS[1]
    before = backup_files()
    sizes = sorted(int(s["Status"]["dbSize"]) for s in statuses())
    raise_corrupt_alarm(ip)
    try:
        assert "alarm:CORRUPT" in " ".join(alarms())
        refused = play("maintenance.yml", name="maintenance-corrupt")
        assert refused.rc != 0 and refused.refusals[:1] == ["maintenance_corrupt"], refused.tail()
        assert "docs/disaster-recovery.md" in refused.message("maintenance_corrupt")
        assert refused.changed == 0
        assert "alarm:CORRUPT" in " ".join(alarms()), "the CORRUPT alarm was disarmed"
        assert backup_files() == before
        assert sorted(int(s["Status"]["dbSize"]) for s in statuses()) == sizes
    finally:
        etcdctl(["alarm", "disarm"])
    wait_healthy()


def test_maintenance_clears_nospace_from_a_hot_key_and_keeps_every_key():
    """docs/nospace.md: a key rewritten until the backend quota (NOSPACE_QUOTA since the upgrade test) is
    full, the quota raised under the alarm, then playbooks/maintenance.yml."""
    for ip in MEMBERS:
        assert "--quota-backend-bytes=%d" % NOSPACE_QUOTA in sh(CONTAINER[ip], "cat /etc/systemd/system/etcd.service")
    wait_healthy()
    blob = "h" * (1024 * 1024 - 64)
    for attempt in range(64):
        put = put_from_stdin("/ezops-faults/hot", blob)
        if put.returncode != 0:
            break
    assert "database space exceeded" in put.stderr, (attempt, put.stderr)
    assert "alarm:NOSPACE" in " ".join(alarms())
    # the quota can be raised while the alarm is active (every health check fails meanwhile)
    raised = {"etcd_quota_backend_bytes": 32 * 2**20, "etcd_health_accept_nospace": True}
    succeeded(play("02.etcd.yml", extra=raised, name="deploy-raise-quota-under-nospace"))
    for ip in MEMBERS:
        assert "--quota-backend-bytes=%d" % (32 * 2**20) in sh(CONTAINER[ip], "cat /etc/systemd/system/etcd.service")
    assert "alarm:NOSPACE" in " ".join(alarms())
    keys_before = key_count("")
    size_before = max(int(s["Status"]["dbSize"]) for s in statuses())
    snapshots_before = [n for n in backup_files() if n.startswith("snapshot_")]

    checked = lab.run("maintenance.yml", args=["--check"])
    assert checked.rc == 0, checked.tail()
    assert "alarm:NOSPACE" in " ".join(alarms()), "check mode disarmed the alarm"
    assert max(int(s["Status"]["dbSize"]) for s in statuses()) == size_before, "check mode defragmented"

    result = play("maintenance.yml", name="maintenance-nospace")
    assert result.rc == 0, result.tail()
    assert [n for n in backup_files() if n.startswith("snapshot_")] != snapshots_before, "no backup was taken first"
    assert alarms() == []
    defrag = [res for name, _h, res in result.results if name.startswith("Defragment")][0]
    leader_item = [e for e in defrag["endpoints"] if e["is_leader"]][0]
    assert leader_item["defragmented"] and leader_item.get("leader_moved_to"), defrag["endpoints"]
    assert put_from_stdin("/ezops-faults/after-maintenance-%d" % time.time_ns(), "ok").returncode == 0
    keys_after = key_count("")
    assert keys_after == keys_before + 1, (keys_before, keys_after)
    size_after = max(int(s["Status"]["dbSize"]) for s in statuses())
    assert size_after < size_before // 2, (size_before, size_after)


FOREIGN_NOTES = "Say what another tool changed on this member, and what this run did about it"


def foreign_notes(result):
    """{host: the notes it printed}; every member ran the task, printing or skipping it."""
    found = [(host, res) for name, host, res in result.results if name.endswith(FOREIGN_NOTES)]
    assert sorted(host for host, _res in found) == MEMBERS, found
    return dict((host, res["msg"]) for host, res in found if not res.get("skipped"))


def not_owned_by_etcd(ip):
    return sh(CONTAINER[ip], "find /var/lib/etcd ! -user etcd").split()


def kubeasz_unit(ip, cluster):
    """kubeasz's roles/etcd/templates/etcd.service.j2 as its 02.etcd.yml renders it for a member: etcd as
    root, no sandbox, the flags on the command line."""
    flags = ["--name=etcd-%s" % ip, "--cert-file=/etc/kubernetes/ssl/etcd.pem", "--key-file=/etc/kubernetes/ssl/etcd-key.pem",
             "--peer-cert-file=/etc/kubernetes/ssl/etcd.pem", "--peer-key-file=/etc/kubernetes/ssl/etcd-key.pem",
             "--trusted-ca-file=/etc/kubernetes/ssl/ca.pem", "--peer-trusted-ca-file=/etc/kubernetes/ssl/ca.pem",
             "--initial-advertise-peer-urls=https://%s:2380" % ip, "--listen-peer-urls=https://%s:2380" % ip,
             "--listen-client-urls=https://%s:2379,http://127.0.0.1:2379" % ip, "--advertise-client-urls=https://%s:2379" % ip,
             "--initial-cluster-token=etcd-cluster-0", "--initial-cluster=%s" % cluster, "--initial-cluster-state=new",
             "--data-dir=/var/lib/etcd", "--wal-dir=", "--snapshot-count=50000", "--auto-compaction-retention=1",
             "--auto-compaction-mode=periodic", "--max-request-bytes=10485760", "--quota-backend-bytes=%d" % (32 * 2**20)]
    return ("[Unit]\nDescription=Etcd Server\nAfter=network.target\nAfter=network-online.target\nWants=network-online.target\n"
            "Documentation=https://github.com/coreos\n\n[Service]\nType=notify\nWorkingDirectory=/var/lib/etcd\n"
            "ExecStart=/opt/kube/bin/etcd \\\n  " + " \\\n  ".join(flags) + "\nRestart=always\nRestartSec=15\n"
            "LimitNOFILE=65536\nOOMScoreAdjust=-999\n\n[Install]\nWantedBy=multi-user.target\n")


def test_ezctl_restore_and_ezctl_add_etcd_are_repaired_and_named_by_the_next_deploy():
    """kubeasz's tools on our members. ezctl restore (roles/cluster-restore) copies restored data in as
    root and restarts etcd, which runs as etcd here and cannot read it; ezctl add-etcd and del-etcd run
    kubeasz's 02.etcd.yml -t restart_etcd, which writes kubeasz's unit (etcd as root) on every member and
    restarts them all. The next 02.etcd.yml repairs both and says what happened."""
    quota = {"etcd_quota_backend_bytes": 32 * 2**20}  # the NOSPACE test's: no flag change rides along
    assert put_from_stdin("/ezops-faults/before-ezctl-backup", "kept").returncode == 0
    succeeded(play("94.backup.yml", name="backup-before-ezctl-restore"))
    assert put_from_stdin("/ezops-faults/after-ezctl-backup", "gone").returncode == 0
    cluster = ",".join("etcd-%s=https://%s:2380" % (ip, ip) for ip in MEMBERS)
    for ip in MEMBERS:
        sh(CONTAINER[ip], "systemctl stop etcd && rm -rf /var/lib/etcd/member /etcd_backup && mkdir /etcd_backup")
        subprocess.run(["docker", "cp", os.path.join(BACKUP_DIR, "snapshot.db"), "%s:/etcd_backup/snapshot.db" % CONTAINER[ip]],
                       check=True)
        # kubeasz's restore line, with the --data-dir that etcdutl 3.5.30 requires
        sh(CONTAINER[ip], "cd /etcd_backup && /opt/kube/bin/etcdutl snapshot restore snapshot.db --data-dir etcd-%s.etcd "
                          "--name etcd-%s --initial-cluster %s --initial-cluster-token etcd-cluster-0 "
                          "--initial-advertise-peer-urls https://%s:2380 && cp -rf etcd-%s.etcd/member /var/lib/etcd/"
                          % (ip, ip, cluster, ip, ip))
    for ip in MEMBERS:
        subprocess.run(["docker", "exec", "-d", CONTAINER[ip], "systemctl", "restart", "etcd"], check=True)
    time.sleep(10)
    for ip in MEMBERS:
        assert sh(CONTAINER[ip], "systemctl is-active etcd", check=False).strip() != "active", ip
        assert not_owned_by_etcd(ip), ip

    result = succeeded(play("02.etcd.yml", extra=quota, name="deploy-after-ezctl-restore"))
    wait_healthy()
    notes = foreign_notes(result)
    assert sorted(notes) == MEMBERS, notes
    for ip in MEMBERS:
        assert len(notes[ip]) == 1 and "ezctl restore" in notes[ip][0] and "95.restore.yml" in notes[ip][0], notes[ip]
        assert not_owned_by_etcd(ip) == [], ip
    assert key_count("/ezops-faults/before-ezctl-backup") == 1
    assert key_count("/ezops-faults/after-ezctl-backup") == 0, "not the snapshot's data"

    for ip in MEMBERS:
        sh(CONTAINER[ip], "cat > /etc/systemd/system/etcd.service <<'EOF'\n%sEOF" % kubeasz_unit(ip, cluster))
    for ip in MEMBERS:
        subprocess.run(["docker", "exec", "-d", CONTAINER[ip], "sh", "-c", "systemctl daemon-reload && systemctl restart etcd"],
                       check=True)
    time.sleep(5)
    wait_healthy()
    assert sh(CONTAINER[MEMBERS[0]], "ps -o user= -C etcd").split() == ["root"]
    assert put_from_stdin("/ezops-faults/under-kubeasz-unit", "kept").returncode == 0
    result = succeeded(play("02.etcd.yml", extra=quota, name="deploy-after-ezctl-add-etcd"))
    wait_healthy()
    notes = foreign_notes(result)
    assert sorted(notes) == MEMBERS, notes
    for ip in MEMBERS:
        assert [n for n in notes[ip] if "not written by ezops.etcd" in n and "21.addetcd.yml" in n], notes[ip]
        assert "User=etcd" in sh(CONTAINER[ip], "cat /etc/systemd/system/etcd.service")
        assert sh(CONTAINER[ip], "ps -o user= -C etcd").split() == ["etcd"], ip
        assert not_owned_by_etcd(ip) == [], ip
    assert key_count("/ezops-faults/under-kubeasz-unit") == 1
    again = succeeded(play("02.etcd.yml", extra=quota, name="deploy-after-ezctl-again"))
    assert foreign_notes(again) == {}


def test_clean_refuses_without_confirmation_then_backs_up_stops_and_moves_data_aside():
    """playbooks/99.clean.yml (last: it takes the cluster down)."""
    services = dict((ip, service(ip)) for ip in MEMBERS)
    for extra in ({}, {"etcd_clean_confirm": "10.255.0.1"}):
        refused = play("99.clean.yml", extra=extra, name="clean-unconfirmed")
        assert refused.rc != 0 and refused.refusals == ["clean_not_confirmed"], refused.tail()
        assert "-e etcd_clean_confirm=%s" % MEMBERS[0] in refused.message("clean_not_confirmed")
        assert refused.changed == 0
    assert dict((ip, service(ip)) for ip in MEMBERS) == services, "a refused clean stopped a member"

    before = backup_files()
    # the mount-point test left member 1's data dir on a tmpfs: its contents move inside it instead
    mounted = dict((ip, sh(CONTAINER[ip], "mountpoint -q /var/lib/etcd && echo yes || echo no").strip() == "yes")
                   for ip in MEMBERS)
    parent = dict((ip, "/var/lib/etcd" if mounted[ip] else "/var/lib") for ip in MEMBERS)
    prefix = dict((ip, ".ezops-aside-" if mounted[ip] else "etcd.") for ip in MEMBERS)
    earlier = dict((ip, set(sh(CONTAINER[ip], "ls -A %s" % parent[ip]).split())) for ip in MEMBERS)
    succeeded(play("99.clean.yml", extra={"etcd_clean_confirm": MEMBERS[0]}, name="clean"))
    assert [n for n in set(backup_files()) - set(before) if n.startswith("snapshot_") and n.endswith(".db")], \
        "no last backup was taken"
    for ip in MEMBERS:
        state = sh(CONTAINER[ip], "systemctl is-active etcd; systemctl is-enabled etcd", check=False).split()
        assert state == ["inactive", "disabled"], (ip, state)
        entries = sh(CONTAINER[ip], "ls -A %s" % parent[ip]).split()
        asides = [n for n in entries if n.startswith(prefix[ip]) and n not in earlier[ip]]
        assert len(asides) == 1, (ip, mounted[ip], entries)
        assert "wal" in sh(CONTAINER[ip], "ls %s/%s/member" % (parent[ip], asides[0])).split(), (ip, asides)
        gone = "member" if mounted[ip] else "etcd"
        assert gone not in entries, (ip, entries)
    again = play("99.clean.yml", extra={"etcd_clean_confirm": MEMBERS[0]}, name="clean-again")
    assert again.rc == 0 and again.changed == 0, again.tail()


def test_a_new_3_4_cluster_upgrades_to_3_5_with_a_writer_and_the_cluster_version_follows():
    """After 99.clean (the test above), a new cluster on 3.4.23 is deployed and upgraded to 3.5.16 while a
    client writes; 3.5.16 to 3.5.30 is the upgrade test above."""
    use_release("3.4.23")
    succeeded(play("02.etcd.yml", name="deploy-3.4"))
    wait_healthy()
    assert member_versions() == ["3.4.23"] * 3
    assert set(cluster_versions().values()) == {"3.4.0"}
    before = backup_files()
    writer = Writer(MEMBERS)
    use_release("3.5.16")
    result = play("93.upgrade.yml", name="upgrade-3.4-to-3.5")
    report = writer.stop()
    succeeded(result)
    assert report["failed"] == 0, report
    assert member_versions() == ["3.5.16"] * 3
    # the playbook waited for it: no member reports the old cluster version once it has finished
    assert set(cluster_versions().values()) == {"3.5.0"}
    assert [n for n in set(backup_files()) - set(before) if n.endswith(".db")], "no backup was taken first"
    for ip in MEMBERS:
        assert {"etcd-3.4.23", "etcdctl-3.4.23"} <= set(sh(CONTAINER[ip], "ls /opt/kube/bin").split()), ip

    # the deploy applies the policy too: 3.4 binaries would stop every 3.5 member for good
    services = dict((ip, service(ip)) for ip in MEMBERS)
    use_release("3.4.23")
    try:
        refused = play("02.etcd.yml", name="deploy-minor-downgrade")
    finally:
        use_release("3.5.16")
    assert refused.rc != 0 and refused.refusals == ["deploy_downgrade"], refused.tail()
    assert refused.changed == 0
    assert dict((ip, service(ip)) for ip in MEMBERS) == services
    assert member_versions() == ["3.5.16"] * 3
