#!/usr/bin/env bash
# Unpack etcd, etcdctl (and etcdutl where the version has it) from Debian's packages into
# .cache/etcd/<version>/, without installing them or starting anything. No internet needed beyond
# the Debian mirror that this machine's apt already uses.
#   scripts/fetch-etcd.sh 3.5.16        # one of the versions listed in SUITE_OF below
set -euo pipefail
version=${1:?usage: fetch-etcd.sh VERSION (3.4.23, 3.5.16 or 3.5.30)}
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.cache/etcd/$version"

declare -A SUITE_OF=([3.4.23]=bookworm [3.5.16]=trixie [3.5.30]=sid)
suite=${SUITE_OF[$version]:-}
if [[ -z $suite ]]; then
  echo "fetch-etcd: no Debian suite is known to carry etcd $version; choose one of: ${!SUITE_OF[*]}" >&2
  exit 2
fi
if [[ -x $dest/etcd && -x $dest/etcdctl ]]; then
  exit 0
fi

# The mirror is the one this machine's apt already uses (deb822 or one-line format).
mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [[ -z $mirror ]]; then
  mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[[ -n $mirror ]] || { echo "fetch-etcd: no Debian mirror found in the apt configuration" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/sources" "$work/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" > "$work/sources/etcd.list"
apt_opts=(-o "Dir::Etc::sourcelist=$work/sources/etcd.list" -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::archives=$work/debs"
          -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
apt-get "${apt_opts[@]}" update -qq
(cd "$work/debs" && apt-get "${apt_opts[@]}" download etcd-server etcd-client)
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done

got=$("$work/root/usr/bin/etcd" --version | awk '/etcd Version/ {print $3}')
if [[ $got != "$version" ]]; then
  echo "fetch-etcd: Debian $suite now carries etcd $got, not $version; update SUITE_OF in $0" >&2
  exit 2
fi
mkdir -p "$dest.partial"
for bin in etcd etcdctl etcdutl; do
  [[ -x $work/root/usr/bin/$bin ]] && install -m 0755 "$work/root/usr/bin/$bin" "$dest.partial/$bin"
done
rm -rf "$dest" && mv "$dest.partial" "$dest"
echo "fetch-etcd: etcd $version in $dest: $(cd "$dest" && echo *)"
