"""/etc/profile.d/etcdctl.sh as roles/etcd/templates/etcdctl.sh.j2 renders it: flagless etcdctl gets
the member's settings, and a command that passes its own flags (every command of kubeasz's and
etcd's docs) is not refused for a flag shadowing its ETCDCTL_* variable (issue 9)."""

import json
import os
import subprocess

import jinja2
import pytest

TEMPLATE = os.path.join(os.path.dirname(__file__), "../../../roles/etcd/templates/etcdctl.sh.j2")
SETTINGS = {"ETCDCTL_API": "3", "ETCDCTL_ENDPOINTS": "https://10.0.0.1:2379",
            "ETCDCTL_CACERT": "/etc/kubernetes/ssl/ca.pem", "ETCDCTL_CERT": "/etc/kubernetes/ssl/etcd.pem",
            "ETCDCTL_KEY": "/etc/kubernetes/ssl/etcd-key.pem"}
# Like etcdctl 3.4+: a flag and its variable together are refused; otherwise print what it got.
FAKE = r"""#!/usr/bin/env python3
import json, os, sys
for flag, var in (("endpoints", "ETCDCTL_ENDPOINTS"), ("cacert", "ETCDCTL_CACERT"), ("cert", "ETCDCTL_CERT"),
                  ("key", "ETCDCTL_KEY")):
    if var in os.environ and any(a == "--" + flag or a.startswith("--" + flag + "=") for a in sys.argv[1:]):
        sys.exit('Error: conflicting environment variable "%s" is shadowed by corresponding command-line flag' % var)
print(json.dumps({"args": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith("ETCDCTL_")}}))
"""


@pytest.fixture
def profile(tmp_path):
    bin_dir, env_file = tmp_path / "bin", tmp_path / "etcdctl.env"
    bin_dir.mkdir()
    (bin_dir / "etcdctl").write_text(FAKE)
    (bin_dir / "etcdctl").chmod(0o755)
    env_file.write_text("".join("%s=%s\n" % item for item in SETTINGS.items()))
    with open(TEMPLATE) as handle:
        text = jinja2.Template(handle.read()).render(ansible_managed="Ansible managed", etcd_bin_dir=str(bin_dir),
                                                     __etcd_etcdctl_env=str(env_file))
    script = tmp_path / "etcdctl.sh"
    script.write_text(text)
    return script


def run(profile, shell, command):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["PATH"] = "/usr/bin:/bin"
    out = subprocess.run([shell, "-c", ". %s; %s" % (profile, command)], capture_output=True, text=True, env=env,
                         check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_flagless_etcdctl_gets_the_members_settings(profile, shell):
    got = run(profile, shell, "etcdctl endpoint health")
    assert got == {"args": ["endpoint", "health"], "env": SETTINGS}


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_the_docs_commands_with_their_own_flags_work(profile, shell):
    got = run(profile, shell, "ETCDCTL_API=3 etcdctl --endpoints=https://10.0.0.9:2379 --cacert /c.pem --cert=/e.pem "
                              "--key=/k.pem member list")
    assert got["args"][-2:] == ["member", "list"]
    assert got["env"] == {"ETCDCTL_API": "3"}


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_only_the_flags_given_replace_settings_and_nothing_leaks_into_the_shell(profile, shell):
    got = run(profile, shell, "etcdctl --endpoints=https://10.0.0.9:2379 get /a")
    assert got["env"] == {k: v for k, v in SETTINGS.items() if k != "ETCDCTL_ENDPOINTS"}
    leaked = subprocess.run([shell, "-c", ". %s; etcdctl version >/dev/null; env" % profile], capture_output=True,
                            text=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    assert "ETCDCTL_" not in leaked
