#!/usr/bin/env bash
# Build the lab's base image locally (no registry here): a minimal Debian bookworm root with
# systemd as PID 1 and python3 for Ansible, imported with `docker import`. Cached by tag.
set -euo pipefail
tag=${LAB_IMAGE:-ezops-etcd-lab:bookworm-1}
docker image inspect "$tag" >/dev/null 2>&1 && exit 0

mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
root=$(mktemp -d /var/tmp/ezops-lab-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "image: debootstrap bookworm into $root (about a minute)"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,python3,iproute2,procps,ca-certificates,curl \
  bookworm "$root" "$mirror" >/dev/null
# A container has no consoles, udev or time sync to manage: mask what only slows boot or fails.
for unit in systemd-udevd.service systemd-udev-trigger.service getty.target console-getty.service \
            systemd-timesyncd.service systemd-resolved.service apt-daily.timer apt-daily-upgrade.timer; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import --change 'CMD ["/lib/systemd/systemd"]' - "$tag" >/dev/null
echo "image: built $tag"
