#!/usr/bin/env bash
# Run molecule scenarios in two lanes side by side, each on its own lab (LAB_ID 0 and 1: separate
# containers, subnet and .cache/lab<ID>), each lane's scenarios one after the other. Much of a
# scenario's time is spent waiting on etcd (health gates, elections, timeouts), so two lanes finish
# well before one on 2 cores.
#   scripts/molecule-lanes.sh "default membership" "backup_restore faults"
# An empty second lane runs everything in the first, on LAB_ID 0.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lane_a=${1:?usage: molecule-lanes.sh "SCENARIOS OF LANE A" ["SCENARIOS OF LANE B"]}
lane_b=${2:-}
logs="$root/.cache/molecule-lanes"
mkdir -p "$logs"

run_lane() {  # LAB_ID scenario...
  local id=$1; shift
  # molecule reads the lab's inventory before its create step: write it (no containers yet).
  LAB_ID=$id "$root/scripts/lab/lab.sh" reset >/dev/null || return 1
  for scenario in "$@"; do
    local start=$SECONDS
    echo "lane $id: molecule test -s $scenario"
    if ! LAB_ID=$id molecule test -s "$scenario"; then
      echo "lane $id: $scenario FAILED after $((SECONDS - start)) s"
      return 1
    fi
    echo "lane $id: $scenario passed in $((SECONDS - start)) s"
  done
}

pid_b=
if [[ -n $lane_b ]]; then
  # shellcheck disable=SC2086  # the lane is a list of scenario names
  run_lane 1 $lane_b > "$logs/lane1.log" 2>&1 &
  pid_b=$!
fi
# shellcheck disable=SC2086
run_lane 0 $lane_a
rc_a=$?
rc_b=0
if [[ -n $pid_b ]]; then
  wait "$pid_b"
  rc_b=$?
  echo "----- lane 1 ($lane_b): its log, $logs/lane1.log -----"
  if ((rc_b == 0)); then grep -E '^lane 1:' "$logs/lane1.log"; else tail -n 400 "$logs/lane1.log"; fi
fi
((rc_a == 0 && rc_b == 0))
