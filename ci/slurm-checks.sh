#!/usr/bin/env bash
# The slurm/ job scripts under a real SLURM whose 3 nodes are network namespaces (ci/cluster/), on a tiny dataset:
#   single        1 node, 2 ranks (srun)                                  -> COMPLETED: the reference maps
#   multi         3 nodes (srun --mpi=pmix)                               -> COMPLETED, maps match single
#   multi-mpirun  3 nodes launched by OpenMPI's mpirun                    -> COMPLETED, maps match single
#   capped        3 nodes, every link capped at 20 Mbit/s (tc tbf)        -> COMPLETED, maps match, more time in
#                                                                            communication than `multi`
#   kill          3 nodes, kill -9 of one rank mid-run                    -> FAILED within seconds
#   preempt       pre-emptible script, SIGTERM to the ranks mid-run       -> checkpoint, requeued, COMPLETED,
#                                                                            maps match single
#   link-down     pre-emptible script, node 3's link goes down mid-run    -> node DOWN, job requeued; node 3
#                                                                            "rebooted"; resumes, COMPLETED, maps match
# Maps "match" when the FSC against the single-node maps exceeds 0.999 at every shell. Every wait is bounded; the
# cluster is torn down whatever happens. Usage: ci/slurm-checks.sh [DUET_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duet=$(realpath "${1:-build-cmake/duet}")
export CLUSTER_DIR=${CLUSTER_DIR:-/tmp/duet-cluster-ci}
export SLURMD_TIMEOUT=10
work=$(mktemp -d)
trap 'ci/cluster/cluster-down.sh; rm -rf "$work"' EXIT
ci/cluster/cluster-up.sh 3 > /dev/null
login=ci/cluster/login.sh

python3 -c "import mrcfile, sys, warnings; warnings.simplefilter('ignore'); d = mrcfile.open(sys.argv[1], permissive=True).data.copy(); \
m = mrcfile.new(sys.argv[2], overwrite=True); m.set_data(d); m.voxel_size = 13.1; m.close()" \
    Tests/Fixtures/tomodrgn/10076_classD_32.mrc "$work/truth.mrc"
"$duet" simulate "$work/truth.mrc" --out "$work/data" --count 160 --snr 1 --seed 4 > /dev/null

fail() {
    echo "slurm check FAILED: $*" >&2
    tail -n 8 "$CLUSTER_DIR"/log/slurmd-n*.log >&2
    exit 1
}
# sbatch_job NAME SCRIPT EXTRA_ENV SBATCH_OPTIONS...: submits without waiting; prints the job id.
sbatch_job() {
    local name=$1 script=$2 extra=$3; shift 3
    local env="ALL,DUET=$duet,DUET_SLURM_DIR=$root/slurm,DUET_PARTICLES=$work/data/particles.star,DUET_OUT=$work/$name"
    env+=",DUET_ARGS=--initial-resolution 80 --initial-iterations 12 --final-iterations 6 --initial-minibatch 50"
    env+=" --align-every 6 --checkpoint-every 4 --noise-initial-sigma-scale 1 --seed 2"
    env+=",OMPI_ALLOW_RUN_AS_ROOT=1,OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1${extra:+,$extra}"
    $login sbatch --parsable --chdir="$work" --output="$work/$name.out" --time=5 --cpus-per-task=1 \
        "--export=$env" "$@" "slurm/$script"
}
# submit NAME SCRIPT EXTRA_ENV SBATCH_OPTIONS...: submits, waits (bounded), requires exit 0 and the outputs.
submit() {
    local name=$1 start=$SECONDS id
    id=$(sbatch_job "$@")
    completed "$name" "$id" 0
    echo "$name: COMPLETED in $((SECONDS - start)) s; $(grep 'whole run' "$work/$name.out")"
}
# completed NAME ID RESTARTS: waits (bounded) for the job to end; requires COMPLETED after at least RESTARTS
# restarts, with its outputs.
completed() {
    wait_for 240 job_ended "$2" || fail "$1: job $2 still $(job_state "$2") after 240 s"
    [ "$(job_state "$2")" = COMPLETED ] && [ "$(job_field "$2" Restarts)" -ge "$3" ] && [ -f "$work/$1/half_map_A.mrc" ] \
        || { cat "$work/$1.out" >&2; fail "$1: job $2 ended $(job_state "$2") after $(job_field "$2" Restarts) restart(s)"; }
}
job_field() { $login scontrol show job "$1" -o | tr ' ' '\n' | sed -n "s/^$2=//p"; }
job_state() { job_field "$1" JobState; }
job_ended() { case $(job_state "$1") in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) ;; *) false ;; esac; }
# wait_for SECONDS COMMAND...: polls COMMAND every 0.5 s until it succeeds; fails after SECONDS.
wait_for() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.5; done
}
# node_processes I NAME: pids of the processes called NAME in node nI's namespace.
node_processes() { for p in $(ip netns pids "sp-n$1"); do [ "$(cat "/proc/$p/comm" 2> /dev/null)" = "$2" ] && echo "$p"; done; }
job_state_is() { [ "$(job_state "$1")" = "$2" ]; }
# release ID: SLURM holds a requeued job for 120 s (BeginTime), so that its first run has left every node before
# it starts again under the same job and step ids (slurmd refuses a job it is still killing, and PMIx a step whose
# directory still exists). The test waits for exactly that (no slurmstepd left on any node, nodes idle) and then
# lets it start, as an admin can.
nodes_idle() { [ "$($login sinfo -h -o %t | sort -u)" = idle ]; }
no_stepd() { for i in 1 2 3; do [ -z "$(node_processes "$i" slurmstepd)" ] || return 1; done; }
release() {
    wait_for 60 nodes_idle || fail "job $1: nodes not idle after its requeue: $($login sinfo -h -o '%t %N')"
    wait_for 60 no_stepd || fail "job $1: slurmstepd of its first run still running after 60 s"
    sleep 2
    $login scontrol update "jobid=$1" StartTime=now
}
logged_iteration() { grep -q "^iteration *$2/" "$work/$1.out" 2> /dev/null; }
comm_seconds() { sed -n 's/.*comm \([0-9]*\) s.*whole run.*/\1/p' "$work/$1.out" | tail -n 1; }

submit single refine-single-node.sbatch "" --nodes=1 --ntasks=2
submit multi refine-multi-node.sbatch "" --nodes=3 --ntasks-per-node=1
submit multi-mpirun refine-multi-node.sbatch "DUET_LAUNCHER=mpirun" --nodes=3 --ntasks-per-node=1

for i in 1 2 3; do tc -n "sp-n$i" qdisc add dev eth0 root tbf rate 20mbit burst 32kb latency 400ms; done
submit capped refine-multi-node.sbatch "" --nodes=3 --ntasks-per-node=1
for i in 1 2 3; do tc -n "sp-n$i" qdisc del dev eth0 root; done
[ "$(comm_seconds capped)" -gt "$(comm_seconds multi)" ] \
    || fail "capped links: communication $(comm_seconds capped) s, not more than $(comm_seconds multi) s uncapped"
echo "capped: communication $(comm_seconds capped) s at 20 Mbit/s against $(comm_seconds multi) s uncapped"

# A rank killed mid-run ends the job (srun --kill-on-bad-exit) instead of leaving the others waiting.
id=$(sbatch_job kill refine-multi-node.sbatch "" --nodes=3 --ntasks-per-node=1)
wait_for 120 logged_iteration kill 1 || fail "kill: no progress"
kill -9 $(node_processes 2 duet)
start=$SECONDS
wait_for 30 job_ended "$id" || fail "kill: job $id still $(job_state "$id") 30 s after kill -9 of a rank"
[ "$(job_state "$id")" = FAILED ] || fail "kill: job $id ended $(job_state "$id"), not FAILED"
echo "kill: job FAILED $((SECONDS - start)) s after kill -9 of the rank on n2"

# Pre-emption: SIGTERM to the ranks (what --signal=TERM@… sends): checkpoint, exit 143, the job requeues itself
# and the requeued job resumes.
id=$(sbatch_job preempt refine-preemptible.sbatch "" --nodes=3 --ntasks=3 --ntasks-per-node=1)
wait_for 120 logged_iteration preempt 10 || fail "preempt: no progress"
$login scancel --signal=TERM "$id"
start=$SECONDS
wait_for 60 job_state_is "$id" PENDING || fail "preempt: job $id not requeued ($(job_state "$id"))"
release "$id"
completed preempt "$id" 1
grep -q "stopped by SIGTERM" "$work/preempt.out" || fail "preempt: the ranks did not stop on SIGTERM"
echo "preempt: stopped by SIGTERM, requeued, resumed and COMPLETED $((SECONDS - start)) s later"

# A node whose link goes down: SLURM marks it DOWN and requeues the job; the node is "rebooted" (its processes
# killed, link up, slurmd started afresh) and the requeued job resumes from the last checkpoint.
id=$(sbatch_job link-down refine-preemptible.sbatch "" --nodes=3 --ntasks=3 --ntasks-per-node=1)
wait_for 120 test -f "$work/link-down/checkpoint/checkpoint.json" || fail "link-down: no checkpoint"
ip -n sp-n3 link set eth0 down
start=$SECONDS
node_down() { $login sinfo -h -n n3 -o %t | grep -q down; }
wait_for 90 node_down || fail "link-down: n3 not marked DOWN within 90 s"
echo "link-down: n3 DOWN $((SECONDS - start)) s after its link went down; job $(job_state "$id")"
ci/cluster/node-reboot.sh 3
wait_for 60 job_state_is "$id" PENDING || fail "link-down: job $id not requeued ($(job_state "$id"))"
release "$id"
completed link-down "$id" 1
echo "link-down: requeued job resumed and COMPLETED $((SECONDS - start)) s after the link went down"

# Every multi-node, capped, pre-empted and requeued run gives the single-node run's maps (FSC > 0.999 at every shell).
(cd "$work" && python3 "$root/Tests/Oracles/half_map_fsc.py" single multi multi-mpirun capped preempt link-down)
echo "slurm checks passed"
