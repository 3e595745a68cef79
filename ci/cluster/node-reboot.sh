#!/usr/bin/env bash
# node-reboot.sh I: "reboots" compute node nI of the cluster cluster-up.sh started: kills every process in its
# namespace, clears what a reboot clears (its slurmd spool and its TmpFS, where PMIx keeps per-step directories
# that would make the next step with the same id fail), brings its link up and starts a fresh slurmd, whose pid
# is recorded for cluster-down.sh.
set -euo pipefail
i=$1
D=${CLUSTER_DIR:-/tmp/duet-cluster}
ip netns pids "sp-n$i" | xargs -r kill -9
rm -rf "$D/state/d/n$i" "$D/tmp/n$i" "$D/state/slurmd-n$i.pid"
mkdir -p "$D/state/d/n$i" "$D/tmp/n$i"
ip -n "sp-n$i" link set eth0 up
"$(dirname "$0")/node.sh" "sp-n$i" "n$i" slurmd -f "$D/etc/slurm.conf" -N "n$i"
for _ in $(seq 1 50); do [ -s "$D/state/slurmd-n$i.pid" ] && break; sleep 0.2; done
echo "slurmd-n$i $(cat "$D/state/slurmd-n$i.pid")" >> "$D/pids"
