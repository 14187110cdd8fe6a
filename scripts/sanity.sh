#!/usr/bin/env bash
# Run `ansible-test sanity` on a copy of the working tree laid out as ansible_collections/ezops/etcd
# (the tool refuses any other layout, and resolves symlinks, so the tree is copied, not linked).
# Local Python only (no Docker); tests that need the network or containers are left out.
#   scripts/sanity.sh                 # every applicable test with Python 3.11
#   scripts/sanity.sh --test pep8     # extra arguments go to ansible-test sanity
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.venv/bin"
[[ -x $bin/ansible-test ]] || { echo "sanity: run 'make venv' first" >&2; exit 2; }
python=${SANITY_PYTHON:-3.11}
# ansible-test skips its shellcheck test when the program is missing: install it.
command -v shellcheck >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/ezops/etcd"
mkdir -p "$dest"
# The working tree (not only what git tracks: files may not be committed yet), minus caches and,
# unless SANITY_ALL=1, the lab and molecule tooling, which the built collection does not ship
# (galaxy.yml build_ignore) and ansible-lint covers.
excludes=(--exclude=./.cache --exclude=./.venv --exclude=./.git --exclude=./.pytest_cache
          --exclude=__pycache__ --exclude='*.pyc' --exclude=./tests/output --exclude='./*.tar.gz')
if [[ ${SANITY_ALL:-0} != 1 ]]; then
  excludes+=(--exclude=./molecule --exclude=./bench --exclude=./scripts/lab --exclude=./tests/lab)
fi
tar -C "$root" "${excludes[@]}" -cf - . | tar -C "$dest" -xf -
# ansible-test wants a git repository to list the files; give it one of the copy.
git -C "$dest" init -q
git -C "$dest" add -A
git -C "$dest" -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity

# ansible-test bootstraps pip in its venvs with a get-pip script from ci-files.testing.ansible.com,
# which this network does not reach. Its documented workaround is a script saved in its cache; ours
# installs the pip that Python bundles (ensurepip), then runs pip with the same arguments.
pip_version=$(sed -n 's/^pip==//p' "$("$bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_data/requirements/ansible-test.txt")
get_pip_cache="$HOME/.ansible/test/cache"
mkdir -p "$get_pip_cache"
for version in ${pip_version:-24.2}; do
  shim="$get_pip_cache/get_pip_${version//./_}.py"
  [[ -e $shim ]] && ! grep -q ezops.etcd "$shim" && continue   # a real get-pip: keep it
  cat >"$shim" <<'PY'
"""Stand-in for get-pip.py (written by ezops.etcd scripts/sanity.sh): pip from ensurepip."""
import ensurepip
import os
import runpy
import sys

saved = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
os.environ.clear()
os.environ.update(saved)  # ensurepip hides pip.conf (PIP_CONFIG_FILE=/dev/null): undo that
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", "--upgrade"] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
PY
done

cd "$dest"
export PATH="$bin:$PATH"
# --venv: no containers; ansible-test installs each test's pinned tools (pylint, yamllint,
# voluptuous, ...) from PyPI into virtual environments of its own, cached under ~/.ansible/test.
"$bin/ansible-test" sanity --venv --python "$python" --color no "$@"
