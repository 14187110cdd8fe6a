#!/usr/bin/env bash
# Install what the lab needs on a fresh Debian 12 machine (Docker engine, debootstrap) and make
# sure a Docker daemon answers. Safe to run again: it does nothing when all is in place.
set -euo pipefail
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v rsync >/dev/null || need+=(rsync)
if ((${#need[@]})); then
  echo "host-deps: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "host-deps: starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/ezops-dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "host-deps: dockerd did not start, see /var/log/ezops-dockerd.log" >&2; exit 1; }
fi
