"""94.backup.yml on a bad day (issue 8, faults): the controller's backup directory fills up, and the
member being read dies or hangs in the middle of a backup.

A failed backup must say why with a code (backup_no_space, ...), leave snapshot.db, its sidecars and
every earlier snapshot byte for byte and inode for inode as they were, and leave nothing that looks
like a snapshot (no partial file at all). A member killed in the middle must not fail the backup: the
snapshot comes from another member.

The controller is the machine that runs these tests (root): each test uses a backup directory of
its own (a small tmpfs where space matters), passed with -e etcd_backup_dir, so the lab's own
cluster_dir/backup is never touched, and unmounts and removes it in a finally.
"""

import hashlib
import json
import os
import subprocess
import tempfile
import time

import pytest

from invalid_input import BASE_DIR, PREFIX, PROJECT, SUBNET, Run, run

PLAYBOOK = "94.backup.yml"
MEMBERS = ["%s.%d" % (SUBNET, 10 + i) for i in (1, 2, 3)]
CONTAINERS = dict((member, "%s-%d" % (PREFIX, i)) for i, member in enumerate(MEMBERS, 1))
MEMBER_TMP = "/var/tmp/ezops-etcd-backup"
FILLER = "filler"
ETCDUTL = os.path.join(BASE_DIR, "bin/etcdutl")
PAGE = 4096


# --- helpers ------------------------------------------------------------------------------------
def sh(container, script, check=False):
    return subprocess.run(["docker", "exec", container, "sh", "-c", script], capture_output=True, text=True,
                          check=check, timeout=60).stdout


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def files(directory):
    """name -> (sha256, inode, size, mtime_ns) of everything in the backup dir but the filler."""
    out = {}
    for name in sorted(os.listdir(directory)):
        if name == FILLER:
            continue
        path = os.path.join(directory, name)
        st = os.lstat(path)
        out[name] = (sha256(path), st.st_ino, st.st_size, st.st_mtime_ns)
    return out


def free(directory):
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def fill(directory, leave):
    """Fill the tmpfs at `directory` until about `leave` bytes (whole pages) stay free."""
    path = os.path.join(directory, FILLER)
    size = os.path.getsize(path) if os.path.exists(path) else 0
    with open(path, "ab") as handle:
        handle.write(b"\0" * max(0, (free(directory) - leave) // PAGE * PAGE))
    assert free(directory) <= leave + PAGE, (free(directory), leave, size)
    return free(directory)


def member_run_dirs():
    """Run directories of the backup left on any member."""
    left = {}
    for member, container in CONTAINERS.items():
        out = sh(container, "ls -d %s/run-* 2>/dev/null || true" % MEMBER_TMP).split()
        if out:
            left[member] = out
    return left


def etcdctl(*args, container=None):
    """etcdctl run inside a member (the controller holds no client certificate of its own)."""
    argv = ["docker", "exec", container or CONTAINERS[MEMBERS[0]], "/opt/kube/bin/etcdctl",
            "--endpoints=" + ",".join("https://%s:2379" % m for m in MEMBERS),
            "--cacert=/etc/kubernetes/ssl/ca.pem", "--cert=/etc/kubernetes/ssl/etcd.pem",
            "--key=/etc/kubernetes/ssl/etcd-key.pem", "--command-timeout=5s"] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def wait_healthy(timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if etcdctl("endpoint", "health").returncode == 0:
            return
        time.sleep(3)
    raise AssertionError("the lab is not healthy %d s after the test: %s" % (timeout, etcdctl("endpoint", "health").stderr))


def db_size():
    """The largest database of the members, which bounds the size of a snapshot."""
    out = etcdctl("endpoint", "status", "-w", "json")
    assert out.returncode == 0, out.stderr
    return max(int(item["Status"]["dbSize"]) for item in json.loads(out.stdout))


def assert_good_snapshot(directory, name):
    path = os.path.join(directory, name)
    with open(path + ".sha256") as handle:
        assert handle.read().split()[0] == sha256(path)
    status = subprocess.run([ETCDUTL, "snapshot", "status", path, "-w", "json"], capture_output=True, text=True, check=False)
    assert status.returncode == 0, status.stderr
    assert os.stat(os.path.join(directory, "snapshot.db")).st_ino == os.stat(path).st_ino
    with open(os.path.join(directory, "snapshot.db.sha256")) as handle:
        assert handle.read().split()[0] == sha256(path)
    with open(os.path.join(directory, "snapshot.db.json")) as handle:
        return json.load(handle)


def assert_nothing_partial(directory):
    hidden = [name for name in os.listdir(directory) if name.startswith(".") or "partial" in name]
    assert hidden == [], "a failed or finished backup left %s in %s" % (hidden, directory)
    assert member_run_dirs() == {}, "run directories left on the members: %s" % member_run_dirs()


@pytest.fixture
def backup_dir():
    directory = tempfile.mkdtemp(prefix="ezops-backup-faults-")
    yield directory
    subprocess.run(["rm", "-rf", "--one-file-system", "--", directory], check=False)


@pytest.fixture
def small_tmpfs(backup_dir):
    """A small tmpfs over the test's backup directory (room for about three snapshots), holding one
    good backup already."""
    mib = max(2, (3 * db_size()) // (1024 * 1024) + 2)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % mib, "tmpfs", backup_dir], check=True)
    try:
        first = run(PLAYBOOK, {"etcd_backup_dir": backup_dir, "etcd_backup_space_margin_mb": 0})
        assert first.rc == 0, first.tail()
        assert_good_snapshot(backup_dir, [n for n in os.listdir(backup_dir) if n.startswith("snapshot_") and n.endswith(".db")][0])
        yield backup_dir
    finally:
        subprocess.run(["umount", backup_dir], check=True)


def snapshot_size(directory):
    with open(os.path.join(directory, "snapshot.db.json")) as handle:
        return int(json.load(handle)["size"])


# --- a full backup directory --------------------------------------------------------------------
def test_a_full_backup_directory_fails_before_the_copy_and_keeps_the_previous_snapshot(small_tmpfs):
    size = snapshot_size(small_tmpfs)
    fill(small_tmpfs, size // 2)
    before = files(small_tmpfs)
    result = run(PLAYBOOK, {"etcd_backup_dir": small_tmpfs})
    assert result.rc != 0, result.tail()
    assert "backup_no_space" in result.refusals, result.tail()
    msg = result.message("backup_no_space")
    assert small_tmpfs in msg and "free" in msg and "needs" in msg and "unchanged" in msg, msg
    assert files(small_tmpfs) == before
    assert_nothing_partial(small_tmpfs)


def test_a_backup_directory_that_fills_during_the_copy_fails_clearly_and_keeps_the_previous_snapshot(small_tmpfs):
    # No check before the copy: the fetch itself runs out of space.
    size = snapshot_size(small_tmpfs)
    fill(small_tmpfs, size // 2)
    before = files(small_tmpfs)
    result = run(PLAYBOOK, {"etcd_backup_dir": small_tmpfs, "etcd_backup_check_space": False})
    assert result.rc != 0, result.tail()
    assert "backup_no_space" in result.refusals, result.tail()
    assert small_tmpfs in result.message("backup_no_space")
    assert files(small_tmpfs) == before
    assert_nothing_partial(small_tmpfs)


def test_a_backup_directory_that_fills_while_the_checksums_are_written_keeps_the_previous_snapshot(small_tmpfs):
    # Room for the copy and one more page: the fetch succeeds, writing the checksum files fails.
    size = snapshot_size(small_tmpfs)
    fill(small_tmpfs, (size + PAGE - 1) // PAGE * PAGE + PAGE)
    before = files(small_tmpfs)
    result = run(PLAYBOOK, {"etcd_backup_dir": small_tmpfs, "etcd_backup_check_space": False})
    assert result.rc != 0, result.tail()
    assert set(result.refusals) & {"backup_no_space", "backup_failed"}, result.tail()
    assert files(small_tmpfs) == before, "snapshot.db or an earlier snapshot changed, or a new file was left"
    assert_nothing_partial(small_tmpfs)


def test_a_hidden_partial_file_of_a_killed_run_is_removed_and_never_listed(small_tmpfs):
    stale = os.path.join(small_tmpfs, ".snapshot_20200101000000.db.partial.age")
    with open(stale, "wb") as handle:
        handle.write(b"half a snapshot")
    result = run(PLAYBOOK, {"etcd_backup_dir": small_tmpfs, "etcd_backup_space_margin_mb": 0})
    assert result.rc == 0, result.tail()
    assert not os.path.exists(stale)
    assert_nothing_partial(small_tmpfs)


# --- the member being read dies or hangs ---------------------------------------------------------
def start_backup(backup_dir, extra=None):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT, ".cache/collections"),
               ANSIBLE_CONFIG=os.path.join(PROJECT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_NOCOLOR="1")
    extra_vars = dict({"etcd_backup_dir": backup_dir}, **(extra or {}))
    argv = ["ansible-playbook", "-i", os.path.join(PROJECT, ".cache/lab%s/hosts" % os.environ.get("LAB_ID", "0")),
            os.path.join(PROJECT, "playbooks", PLAYBOOK), "-e", json.dumps(extra_vars)]
    return argv, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def when_a_run_dir_appears(proc, act, timeout=300):
    """Poll the members until one holds this run's directory (created just before the snapshot), then act on it."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        for member, container in CONTAINERS.items():
            if sh(container, "ls -d %s/run-* 2>/dev/null || true" % MEMBER_TMP).strip():
                act(container)
                return member
        time.sleep(0.1)
    return None


def finish(argv, proc, timeout=900):
    out, err = proc.communicate(timeout=timeout)
    return Run(subprocess.CompletedProcess(argv, proc.returncode, out, err))


def test_the_member_being_read_killed_in_the_middle_still_gives_a_good_snapshot(backup_dir):
    argv, proc = start_backup(backup_dir)
    killed = None
    try:
        killed = when_a_run_dir_appears(proc, lambda c: sh(c, "systemctl kill --signal=SIGKILL etcd", check=True))
        result = finish(argv, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        if killed:
            sh(CONTAINERS[killed], "systemctl start etcd")
        wait_healthy()
    print("killed etcd on %s when its run directory appeared" % killed)
    assert killed, "no member created a run directory: %s" % result.tail()
    # its host still answers, so the other members' etcd are asked: the backup completes
    assert result.rc == 0, result.tail()
    names = [n for n in os.listdir(backup_dir) if n.startswith("snapshot_") and n.endswith(".db")]
    assert len(names) == 1, names
    meta = assert_good_snapshot(backup_dir, names[0])
    print("snapshot served by %s (%s)" % (meta["source_member"], meta["source_endpoint"]))
    assert meta["source_endpoint"] in ["https://%s:2379" % m for m in MEMBERS]
    assert_nothing_partial(backup_dir)


def test_a_member_whose_host_hangs_in_the_middle_is_left_for_another(backup_dir):
    paused = []

    def pause(container):
        subprocess.run(["docker", "pause", container], check=True)
        paused.append(container)

    # short timeouts: the paused member's task in flight is given up after (5 + 10) * 3 + 30 s
    argv, proc = start_backup(backup_dir, {"etcd_backup_save_timeout": 5, "__etcd_backup_step_timeout": 30})
    member = None
    try:
        member = when_a_run_dir_appears(proc, pause)
        result = finish(argv, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        for container in paused:
            subprocess.run(["docker", "unpause", container], check=True)
        if member:
            # what the hung try left on the paused member (its clean-up could not reach it), once the
            # module it was running there has ended
            time.sleep(15)
            sh(CONTAINERS[member], "rm -rf %s/run-*" % MEMBER_TMP)
        wait_healthy()
    assert member, "no member created a run directory: %s" % result.tail()
    print("paused %s when its run directory appeared" % member)
    # a task in flight on the paused host is given up at its timeout, and the next member is tried
    assert result.rc == 0, result.tail()
    names = [n for n in os.listdir(backup_dir) if n.startswith("snapshot_") and n.endswith(".db")]
    assert len(names) == 1, names
    meta = assert_good_snapshot(backup_dir, names[0])
    print("snapshot served by %s (%s)" % (meta["source_member"], meta["source_endpoint"]))
    assert [n for n in os.listdir(backup_dir) if n.startswith(".") or "partial" in n] == []
    assert member_run_dirs() == {}


def test_a_passed_deadline_fails_clearly_and_writes_nothing(backup_dir):
    # The deadline passes while the members are asked for their status: no member is tried.
    result = run(PLAYBOOK, {"etcd_backup_dir": backup_dir, "etcd_backup_deadline": 1})
    assert result.rc != 0, result.tail()
    assert "backup_save_failed" in result.refusals, result.tail()
    assert "unchanged" in result.message("backup_save_failed")
    assert os.listdir(backup_dir) == []
    assert member_run_dirs() == {}
