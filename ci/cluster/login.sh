#!/usr/bin/env bash
# login.sh CMD...: runs a SLURM client command (sbatch, squeue, scontrol, …) on the head node.
D=${CLUSTER_DIR:-/tmp/duet-cluster}
exec "$(dirname "$0")/node.sh" sp-head head env SLURM_CONF="$D/etc/slurm.conf" "$@"
