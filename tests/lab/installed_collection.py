# Copyright: ezops.etcd contributors
# Apache License 2.0 (see galaxy.yml)
"""Build the collection tarball and install it into a fresh path, as users get it (ansible-galaxy
collection build, then install). Used by the integration tests and the default scenario."""
from __future__ import annotations

import glob
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def install(base, callback="ansible.posix.json"):
    """Build and install under ``base`` (a directory that is not the checkout) -> the environment that
    runs ansible-playbook with only the installed copy (an ansible.cfg that knows nothing of the checkout)."""
    base = str(base)
    subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", base, ROOT],
                   check=True, capture_output=True, text=True)
    tarball = glob.glob(os.path.join(base, "ezops-etcd-*.tar.gz"))
    assert len(tarball) == 1, tarball
    collections = os.path.join(base, "collections")
    config = os.path.join(base, "ansible.cfg")
    with open(config, "w") as out:
        out.write("[defaults]\nstdout_callback = %s\nhost_key_checking = False\ninterpreter_python = auto_silent\n"
                  "[connection]\npipelining = True\n" % callback)
    # only the fresh path: the checkout's link in .cache/collections would count as "already installed";
    # community.crypto comes with the ansible package (Galaxy is not reachable), so no dependency resolution
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_CONFIG=config,
               ANSIBLE_ROLES_PATH=os.path.join(base, "no-roles"))
    subprocess.run(["ansible-galaxy", "collection", "install", "--force", "--no-deps", "--offline", "-p", collections,
                    tarball[0]], check=True, capture_output=True, text=True, env=env, cwd=base)
    return env
