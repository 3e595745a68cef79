#!/usr/bin/env bash
# Runs `duet refine` inside a SLURM allocation; the job scripts beside it (refine-*.sbatch) call it. Resumes by
# itself when the output directory holds a checkpoint (a requeued or resubmitted job continues where it stopped).
#
# Settings (environment; defaults in brackets):
#   DUET_PARTICLES   particle file (.star or .cs)                                  [required unless resuming]
#   DUET_OUT         output directory                                    [duet-refine-$SLURM_JOB_ID]
#   DUET             the duet binary                                       [duet on PATH]
#   DUET_ARGS        further `duet refine` options, e.g. "--initial-iterations 300 --max-resolution 3.5"
#   DUET_LAUNCHER    srun (PMIx, the default) or mpirun (OpenMPI's own launcher, reads the allocation)
#   DUET_THREADS     threads per rank                                  [$SLURM_CPUS_PER_TASK, else 1]
#   DUET_REQUEUE     1: after a SIGTERM stop with a checkpoint, requeue this job (pre-emptible runs)    [0]
#   DUET_DRY_RUN     1: print the command instead of running it                                         [0]
set -euo pipefail

out=${DUET_OUT:-duet-refine-${SLURM_JOB_ID:-local}}
duet=${DUET:-duet}
threads=${DUET_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
ntasks=${SLURM_NTASKS:-1}

# What to run: a new refinement, or the continuation of the one in $out.
if [ -f "$out/checkpoint/checkpoint.json" ]; then
    job=("$duet" refine --resume "$out")
else
    : "${DUET_PARTICLES:?set DUET_PARTICLES to the particle file (or DUET_OUT to a run to resume)}"
    # shellcheck disable=SC2206  # DUET_ARGS is a list of options, split on purpose
    job=("$duet" refine "$DUET_PARTICLES" --out "$out" --threads "$threads" ${DUET_ARGS:-})
fi

# How to start the ranks. srun: --kill-on-bad-exit ends the whole step when one rank dies (SLURM's default lets
# the others hang until the time limit); --cpu-bind=none lets each rank's threads use its CPUs. mpirun: OpenMPI
# reads the allocation itself; --bind-to none for the same reason; root needs --allow-run-as-root.
case ${DUET_LAUNCHER:-srun} in
    srun)   launch=(srun --mpi=pmix --kill-on-bad-exit=1 --cpu-bind=none) ;;
    mpirun) launch=(mpirun -np "$ntasks" --bind-to none)
            [ "$(id -u)" = 0 ] && launch+=(--allow-run-as-root) ;;
    *) echo "duet-run.sh: DUET_LAUNCHER must be srun or mpirun, not '${DUET_LAUNCHER}'" >&2; exit 2 ;;
esac

echo "duet-run.sh: job ${SLURM_JOB_ID:-?} on ${SLURM_JOB_NODELIST:-?}: $ntasks rank(s) x $threads thread(s)"
echo "duet-run.sh: ${launch[*]} ${job[*]}"
[ "${DUET_DRY_RUN:-0}" = 1 ] && exit 0

status=0
"${launch[@]}" "${job[@]}" || status=$?
# 143: the ranks got SIGTERM (pre-emption, or --signal before the time limit) and wrote a checkpoint.
if [ "$status" = 143 ] && [ "${DUET_REQUEUE:-0}" = 1 ] && [ -f "$out/checkpoint/checkpoint.json" ]; then
    echo "duet-run.sh: stopped with a checkpoint; requeueing job $SLURM_JOB_ID to continue"
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$status"
