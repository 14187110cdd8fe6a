#!/usr/bin/env bash
# The local lab: LAB_SIZE systemd containers on a private Docker network with fixed addresses,
# and a kubeasz-style inventory for them in .cache/lab<LAB_ID>/hosts.
#   lab.sh up        start (or keep) the containers, write the inventory and the kubeasz base_dir
#   lab.sh down      remove the containers and the network (the controller files stay)
#   lab.sh reset     down, and forget the controller files (CA, certificates, backups) too; the
#                    inventory stays, so molecule finds it before its create step
# Environment: LAB_SIZE (3) containers, LAB_MEMBERS (= LAB_SIZE) of them in [etcd], ETCD_VERSION (3.5.16),
# LAB_ID (0; another digit 1-9 gives an independent lab: containers ezops-etcd<ID>-N,
# subnet 172.29.<10+ID>.0/24, files in .cache/lab<ID>).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
id=${LAB_ID:-0}
[[ $id =~ ^[0-9]$ ]] || { echo "lab: LAB_ID must be one digit 0-9, not '$id'" >&2; exit 2; }
lab="$root/.cache/lab$id"
size=${LAB_SIZE:-3}
members=${LAB_MEMBERS:-$size}
version=${ETCD_VERSION:-3.5.16}
image=${LAB_IMAGE:-ezops-etcd-lab:bookworm-1}
net=ezops-lab$id
subnet_prefix=172.29.$((10 + id))
prefix=ezops-etcd${id#0}

ip_of() { echo "$subnet_prefix.$((10 + $1))"; }

up() {
  docker network inspect "$net" >/dev/null 2>&1 ||
    docker network create --subnet "$subnet_prefix.0/24" "$net" >/dev/null
  for i in $(seq 1 "$size"); do
    name="$prefix-$i"
    state=$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null || echo absent)
    case $state in
      true) continue ;;
      false) docker start "$name" >/dev/null; continue ;;
    esac
    docker run -d --name "$name" --hostname "$name" --network "$net" --ip "$(ip_of "$i")" \
      --cap-add SYS_ADMIN --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
      --label ezops.lab="lab$id" "$image" /lib/systemd/systemd >/dev/null
  done
  for i in $(seq 1 "$size"); do wait_booted "$prefix-$i"; done
  base_dir
  inventory
  echo "lab: $size containers up, $members in [etcd], etcd $version; inventory $lab/hosts"
}

wait_booted() {
  for _ in $(seq 60); do
    state=$(docker exec "$1" systemctl is-system-running 2>/dev/null || true)
    [[ $state == running || $state == degraded ]] && return 0
    sleep 1
  done
  echo "lab: $1 did not finish booting (systemctl is-system-running: $state)" >&2
  return 1
}

# The kubeasz layout on the controller: base_dir/bin holds the binaries the etcd role installs.
base_dir() {
  mkdir -p "$lab/kubeasz/bin" "$lab/kubeasz/clusters/lab"
  for bin in etcd etcdctl etcdutl; do
    src="$root/.cache/etcd/$version/$bin"
    if [[ -x $src ]]; then
      cmp -s "$src" "$lab/kubeasz/bin/$bin" || install -m 0755 "$src" "$lab/kubeasz/bin/$bin"
    else
      rm -f "$lab/kubeasz/bin/$bin"
    fi
  done
}

inventory() {
  {
    echo "# Written by scripts/lab/lab.sh: a kubeasz-style inventory of the local lab."
    echo "[etcd]"
    for i in $(seq 1 "$members"); do echo "$(ip_of "$i") ansible_host=$prefix-$i"; done
    echo
    echo "# Lab containers not (yet) in [etcd]: candidates for 21.addetcd.yml."
    echo "[spare]"
    for i in $(seq $((members + 1)) "$size"); do echo "$(ip_of "$i") ansible_host=$prefix-$i"; done
    echo
    echo "[kube_master]"
    echo
    echo "[kube_node]"
    echo
    echo "[all:vars]"
    echo "ansible_connection=community.docker.docker"
    echo "ansible_python_interpreter=/usr/bin/python3"
    echo "bin_dir=\"/opt/kube/bin\""
    echo "base_dir=\"$lab/kubeasz\""
    echo "cluster_dir=\"{{ base_dir }}/clusters/lab\""
    echo "ca_dir=\"/etc/kubernetes/ssl\""
    echo "ETCD_DATA_DIR=\"/var/lib/etcd\""
    echo "ETCD_WAL_DIR=\"\""
  } > "$lab/hosts.partial"
  mv "$lab/hosts.partial" "$lab/hosts"
}

down() {
  mapfile -t ids < <(docker ps -aq --filter label=ezops.lab="lab$id")
  ((${#ids[@]} == 0)) || docker rm -f "${ids[@]}" >/dev/null
  docker network rm "$net" >/dev/null 2>&1 || true
  echo "lab: down"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  reset) down; rm -rf "$lab/kubeasz/clusters"; mkdir -p "$lab"; inventory ;;
  *) echo "usage: lab.sh up|down|reset" >&2; exit 2 ;;
esac
