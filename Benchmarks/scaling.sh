#!/usr/bin/env bash
# Strong scaling of `duet refine` on one dataset: the same run (same seed, same schedule) at 1, 2, 3 and 4 MPI
# ranks (and 1 rank with all threads), in one run on this machine. Prints, per configuration, the wall time, peak
# memory per rank, speed-up and efficiency against the 1-rank 1-thread run measured in the same run, the mean
# seconds per SGD iteration in each stage (pose search, back-projection, communication, update, alignment, I/O,
# from duet.h5's history: mean over ranks; communication includes waiting for slower ranks) and the lowest FSC
# of its half maps against the 1-rank run's (the maps must not depend on the rank count).
#
# usage: Benchmarks/scaling.sh DATASET_DIR [OUT_DIR]
# Settings (environment, with defaults): DUET (.build/release/duet), RANKS ("1 2 3 4"), THREADS_ONE_RANK
#   (nproc: the extra 1-rank run with threads; empty to skip), DUET_ARGS ("--initial-iterations 40
#   --final-iterations 10 --max-resolution 5 --seed 1": a short schedule; per-iteration costs are what matter).
# Ranks beyond the machine's cores share cores (--oversubscribe): on a small machine those rows measure the
# overhead of more ranks, not a speed-up. Run in release mode on an otherwise idle machine.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=$(cd "$1" && pwd); out=${2:-$(mktemp -d)}
mkdir -p "$out"; out=$(cd "$out" && pwd)
duet=${DUET:-$here/.build/release/duet}
ranks_list=${RANKS:-"1 2 3 4"}
threads_one=${THREADS_ONE_RANK-$(nproc)}
args=${DUET_ARGS:-"--initial-iterations 40 --final-iterations 10 --max-resolution 5 --seed 1"}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
: > "$out/runs.txt"

run() {   # RANKS THREADS
    local name="r$1t$2"
    echo "scaling: $1 rank(s) x $2 thread(s)" >&2
    # shellcheck disable=SC2086  # $args is a list of options
    /usr/bin/time -f "%e %M" -o "$out/$name.time" mpirun --oversubscribe --bind-to none -np "$1" \
        "$duet" refine "$data/particles.star" --out "$out/$name" --overwrite --threads "$2" $args > "$out/$name.log" 2>&1
    echo "$name $1 $2 $(cat "$out/$name.time")" >> "$out/runs.txt"
}
for n in $ranks_list; do run "$n" 1; done
[ -n "$threads_one" ] && [ "$threads_one" != 1 ] && run 1 "$threads_one"

PYTHONPATH="$here/Tests/Oracles" python3 - "$out" <<'PY'
import sys, numpy as np, h5py
from half_map_fsc import lowest_half_map_fsc
out = sys.argv[1]
runs = [line.split() for line in open(f"{out}/runs.txt")]
stages = ["search", "backproject", "comm", "update", "align", "io"]

base = next(r for r in runs if r[1] == "1" and r[2] == "1")
base_wall = float(base[3])
print("| ranks | threads | wall s | speed-up | efficiency | peak MB/rank | s/iteration: " + " | ".join(stages)
      + " | lowest FSC vs 1 rank |")
print("|---" * (7 + len(stages)) + "|")
for name, ranks, threads, wall, kb in runs:
    with h5py.File(f"{out}/{name}/duet.h5", "r") as f:
        per_stage = [float(np.mean(f[f"history/seconds_{s}"][()])) for s in stages]
    fsc = lowest_half_map_fsc(f"{out}/{base[0]}", f"{out}/{name}")
    cores = int(ranks) * int(threads)
    speedup = base_wall / float(wall)
    print(f"| {ranks} | {threads} | {float(wall):.0f} | {speedup:.2f} | {speedup / cores:.2f} | {int(kb) // 1024} | "
          + " | ".join(f"{s:.3f}" for s in per_stage) + f" | {fsc:.6f} |")
print()
for name, *_ in runs:
    total = [l for l in open(f"{out}/{name}.log") if "whole run" in l]
    print(f"{name}: {total[-1].strip() if total else '(no summary)'}")
PY
