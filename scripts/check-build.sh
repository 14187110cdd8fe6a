#!/usr/bin/env bash
# Build the collection tarball and check that it carries the collection and leaves out the tests,
# the lab and local caches.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/build
rm -rf "$out" && mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" >/dev/null
tarball=$(ls "$out"/ezops-etcd-*.tar.gz)
listing=$(tar -tzf "$tarball")
for needed in MANIFEST.json FILES.json meta/runtime.yml roles/etcd/tasks/main.yml playbooks/02.etcd.yml \
              plugins/filter/initial_cluster.py; do
  grep -qx "$needed" <<<"$listing" || { echo "check-build: $tarball lacks $needed" >&2; exit 1; }
done
if grep -E '^(tests/|molecule/|scripts/|\.cache/|\.venv/|\.ci/|\.config/|Makefile$)' <<<"$listing"; then
  echo "check-build: $tarball carries test or lab files (listed above); fix build_ignore in galaxy.yml" >&2
  exit 1
fi
echo "check-build: $tarball ($(wc -l <<<"$listing") entries) carries no tests or lab"
