#!/usr/bin/env bash
# Run molecule scenarios on LANES labs side by side (LAB_ID 0, 1, ...: separate containers, subnet
# and .cache/lab<ID>). Each lane takes the next scenario of the list when its last one is done, so
# list the longest first and the lanes finish together.
#   scripts/molecule-lanes.sh faults default membership backup_restore     # LANES=2 by default
#   LANES=1 scripts/molecule-lanes.sh default                              # one lab, LAB_ID 0
# Two lanes keep 2 cores busy: most of a scenario's time is Ansible and etcd CPU, the rest waits
# on etcd (health gates, elections), which the other lane fills.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
(($# > 0)) || { echo "usage: [LANES=N] molecule-lanes.sh SCENARIO..." >&2; exit 2; }
lanes=${LANES:-2}
logs="$root/.cache/molecule-lanes"
mkdir -p "$logs"
queue="$logs/queue"
printf '%s\n' "$@" > "$queue"
: > "$logs/failed"

next_scenario() {  # prints the next scenario and removes it from the queue, or fails when empty
  local line
  exec 9<>"$queue.lock"
  flock 9
  line=$(head -n 1 "$queue")
  [[ -n $line ]] && sed -i 1d "$queue"
  flock -u 9
  [[ -n $line ]] && echo "$line"
}

run_lane() {  # LAB_ID
  local id=$1 scenario start
  # molecule reads the lab's inventory before its create step: write it (no containers yet).
  LAB_ID=$id "$root/scripts/lab/lab.sh" reset >/dev/null || { echo "lane $id: lab reset FAILED" >> "$logs/failed"; return 1; }
  while scenario=$(next_scenario); do
    [[ -s $logs/failed ]] && return 1  # another lane failed: stop taking work
    start=$SECONDS
    echo "lane $id: molecule test -s $scenario ($(date +%T))"
    if ! LAB_ID=$id molecule test -s "$scenario"; then
      echo "lane $id: $scenario FAILED after $((SECONDS - start)) s" | tee -a "$logs/failed"
      return 1
    fi
    echo "lane $id: $scenario passed in $((SECONDS - start)) s"
  done
}

pids=()
for ((id = 1; id < lanes; id++)); do
  run_lane "$id" > "$logs/lane$id.log" 2>&1 &
  pids+=("$!")
done
run_lane 0
rc=$?
for ((id = 1; id < lanes; id++)); do
  wait "${pids[id - 1]}" || rc=1
  echo "----- lane $id: its log, $logs/lane$id.log -----"
  if grep -q "^lane $id: .* FAILED" "$logs/lane$id.log"; then tail -n 400 "$logs/lane$id.log"; else grep -E "^lane $id:" "$logs/lane$id.log"; fi
done
((rc == 0))
