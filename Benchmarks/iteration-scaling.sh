#!/usr/bin/env bash
# Whole-iteration speed-up of `duet refine`'s SGD from 1 to 2 threads and from 1 to 2 ranks (issue #14), measured
# in one run on the same checkpoint: each configuration resumes a copy of RUN_DIR's checkpoint, runs the SGD
# iterations left after it (the checkpoint's schedule), and is stopped when the final pose pass begins. Seconds per
# iteration are the elapsed time between the first and the last iteration's progress line over the iterations
# between them (so start-up and reading the particles are left out); per-stage times are the last line's.
#
# usage: Benchmarks/iteration-scaling.sh RUN_DIR [OUT_DIR]
#   RUN_DIR: a `duet refine` output directory with a checkpoint whose schedule has at least 3 SGD iterations left
#   (e.g. a run of `../shared/bench/make_dataset.sh DIR bench` with --checkpoint-interval 50, 100 + 60
#   iterations, stopped after iteration 150).
# Settings (environment, defaults): DUET (.build/release/duet), CONFIGS ("1x1 1x2 2x1": ranks x threads).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
run=$(cd "$1" && pwd)
out=${2:-$(mktemp -d)}
mkdir -p "$out"; out=$(cd "$out" && pwd)
duet=${DUET:-$here/.build/release/duet}
configs=${CONFIGS:-"1x1 1x2 2x1"}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
: > "$out/runs.txt"
for config in $configs; do
    ranks=${config%x*}; threads=${config#*x}
    dir="$out/r${ranks}t${threads}"
    rm -rf "$dir"; mkdir -p "$dir"; cp -r "$run/checkpoint" "$dir/"
    launcher=(); [ "$ranks" != 1 ] && launcher=(mpirun --oversubscribe --bind-to none -np "$ranks")
    echo "iteration-scaling: $ranks rank(s) x $threads thread(s)" >&2
    "${launcher[@]}" "$duet" refine --resume "$dir" --threads "$threads" > "$dir.log" 2>&1 &
    job=$!
    until grep -q "final pose assignment" "$dir.log" 2>/dev/null || ! kill -0 "$job" 2>/dev/null; do sleep 1; done
    # SIGKILL: the final pass and rounds are not measured, and a graceful stop would wait for them.
    pkill -KILL -f "duet refine --resume $dir" 2>/dev/null || true; kill "$job" 2>/dev/null || true
    wait "$job" 2>/dev/null || true
    echo "r${ranks}t${threads} $ranks $threads" >> "$out/runs.txt"
done

python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
rows = []
for line in open(f"{out}/runs.txt"):
    name, ranks, threads = line.split()
    lines = [l for l in open(f"{out}/{name}.log") if l.startswith("iteration")]
    first, last = lines[0], lines[-1]
    number = lambda l: int(re.match(r"iteration\s+(\d+)", l).group(1))
    elapsed = lambda l: float(re.search(r"elapsed\s+([\d.]+) s", l).group(1))
    per_iteration = (elapsed(last) - elapsed(first)) / (number(last) - number(first))
    ms = {k: float(v) / 1000 for k, v in re.findall(r"(\w+) (\d+) ms", last)}
    rows.append((name, int(ranks), int(threads), per_iteration, ms, number(first), number(last)))
base = rows[0][3]
print(f"| ranks | threads | s/iteration (iterations {rows[0][5]}–{rows[0][6]}) | speed-up | search | backproject | "
      "comm | update | align |")
print("|---" * 9 + "|")
for name, ranks, threads, t, ms, _, _ in rows:
    print(f"| {ranks} | {threads} | {t:.2f} | {base / t:.2f} | {ms['search']:.2f} | {ms['backproject']:.2f} | "
          f"{ms['comm']:.2f} | {ms['update']:.2f} | {ms['align']:.2f} |")
PY
