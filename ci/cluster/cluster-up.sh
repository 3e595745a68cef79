#!/usr/bin/env bash
# cluster-up.sh [N]: a real SLURM cluster on this one machine: a head node and N compute nodes, each a network
# namespace with its own address (10.200.0.254 and 10.200.0.1…N) on a bridge in namespace sp-sw; slurmctld and
# one slurmd per node run inside them (entered with `nsenter --net`, not `ip netns exec`, which remounts /sys and
# breaks slurmd's cgroup set-up); one munged in the root namespace serves all. Addresses exist only inside the
# namespaces. Every daemon's pid is recorded in $CLUSTER_DIR/pids for cluster-down.sh.
# SLURMD_TIMEOUT (seconds, default 30): how long a silent node stays up before slurmctld marks it DOWN.
# Needs: slurmd slurmctld slurm-client munge, iproute2, util-linux.
set -euo pipefail
N=${1:-3}
D=${CLUSTER_DIR:-/tmp/duet-cluster}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$D/etc" "$D/state/ctld" "$D/log"
: > "$D/pids"
if ! munge -n > /dev/null 2>&1; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged
    echo "munged $(cat /run/munge/munged.pid)" >> "$D/pids"
fi
ip netns add sp-sw
ip -n sp-sw link add br0 type bridge
ip -n sp-sw link set br0 up
add_node() {   # NAMESPACE BRIDGE_PORT ADDRESS
    ip netns add "$1"
    ip link add eth0 netns "$1" type veth peer name "$2" netns sp-sw
    ip -n sp-sw link set "$2" master br0
    ip -n sp-sw link set "$2" up
    ip -n "$1" addr add "$3/24" dev eth0
    ip -n "$1" link set eth0 up
    ip -n "$1" link set lo up
}
add_node sp-head phead 10.200.0.254
for i in $(seq 1 "$N"); do
    add_node "sp-n$i" "p$i" "10.200.0.$i"
    mkdir -p "$D/state/d/n$i" "$D/tmp/n$i"
done
cat > "$D/etc/slurm.conf" <<EOC
ClusterName=duetci
SlurmctldHost=head(10.200.0.254)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$D/state/ctld
SlurmdSpoolDir=$D/state/d/%n
SlurmctldPidFile=$D/state/slurmctld.pid
SlurmdPidFile=$D/state/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
TmpFS=$D/tmp/%n
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=pmix
ReturnToService=2
SlurmdTimeout=${SLURMD_TIMEOUT:-30}
KillWait=5
MinJobAge=300
NodeName=n[1-$N] NodeAddr=10.200.0.[1-$N] CPUs=2 RealMemory=4000 State=UNKNOWN
PartitionName=compute Nodes=n[1-$N] Default=YES MaxTime=60 State=UP
EOC
"$here/node.sh" sp-head head slurmctld -f "$D/etc/slurm.conf"
for i in $(seq 1 "$N"); do "$here/node.sh" "sp-n$i" "n$i" slurmd -f "$D/etc/slurm.conf" -N "n$i"; done
for _ in $(seq 1 50); do
    [ "$(ls "$D"/state/*.pid 2> /dev/null | wc -l)" -ge $((N + 1)) ] && break
    sleep 0.2
done
for f in "$D"/state/*.pid; do echo "$(basename "$f" .pid) $(cat "$f")" >> "$D/pids"; done
for _ in $(seq 1 60); do
    [ "$("$here/login.sh" sinfo -h -o %t 2> /dev/null)" = idle ] && break
    sleep 0.5
done
"$here/login.sh" sinfo
