#!/usr/bin/env bash
# Cost of an SGD iteration at box 128, 192 and 256 (issue #14), measured in one run: `duet abinit` on a stack
# simulated from the bundled PDB 1BD2 at 1 Å/px (COUNT particles per box), one iteration at the initial 35 Å and
# FINAL iterations at MAX_RES Å, at each thread count and rank count. Prints, per run, the seconds per iteration in
# each stage at MAX_RES (rank 0's, from the last progress line: pose search, back-projection, communication between
# ranks, update: the volume step, real-space constraints, noise model), the update's share, the process's
# user and system CPU seconds and its peak resident memory (per rank), and the speed-up of each run's whole
# iteration against the 1-thread 1-rank run of the same box. The map at MAX_RES starts from a random volume, so
# posteriors are broad there: back-projection costs more than in a converged run; the update and memory are what
# this benchmark is for.
#
# usage: Benchmarks/box-sizes.sh [OUT_DIR]
# Settings (environment, defaults): DUET (.build/release/duet), BOXES ("128 192 256"), CONFIGS ("1x1 1x2 2x1":
#   ranks x threads; 2 ranks run under mpirun and divide the one set's minibatch and update, one rank per core),
#   COUNT (400), MINIBATCH (90), FINAL (2), MAX_RES (3).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d)}
mkdir -p "$out"; out=$(cd "$out" && pwd)
duet=${DUET:-$here/.build/release/duet}
boxes=${BOXES:-"128 192 256"}; configs=${CONFIGS:-"1x1 1x2 2x1"}
count=${COUNT:-400}; minibatch=${MINIBATCH:-90}; final=${FINAL:-2}; max_res=${MAX_RES:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
gunzip -c "$here/demo/models/1bd2.cif.gz" > "$out/1bd2.cif"
: > "$out/runs.txt"
for box in $boxes; do
    [ -f "$out/data$box/particles.star" ] || "$duet" simulate --model "$out/1bd2.cif" --box "$box" --pixel-size 1 \
        --count "$count" --snr 0.05 --seed 1 --out "$out/data$box" > /dev/null
    for config in $configs; do
        ranks=${config%x*}; threads=${config#*x}
        name="b${box}r${ranks}t${threads}"
        echo "box-sizes: box $box, $ranks rank(s) x $threads thread(s)" >&2
        launcher=(); [ "$ranks" != 1 ] && launcher=(mpirun --oversubscribe --bind-to none -np "$ranks")
        /usr/bin/time -f "%e %U %S %M" -o "$out/$name.time" "${launcher[@]}" "$duet" abinit \
            "$out/data$box/particles.star" --out "$out/$name" --overwrite --threads "$threads" \
            --initial-iterations 1 --final-iterations "$final" --initial-minibatch "$minibatch" \
            --final-minibatch "$minibatch" --minibatch-switch 0 --max-resolution "$max_res" --seed 1 \
            > "$out/$name.log" 2>&1
        echo "$name $box $ranks $threads $(cat "$out/$name.time")" >> "$out/runs.txt"
    done
done

python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
rows = []
for line in open(f"{out}/runs.txt"):
    name, box, ranks, threads, wall, user, system, kb = line.split()
    last = [l for l in open(f"{out}/{name}/log.txt") if l.startswith("iteration")][-1]
    ms = {k: float(v) for k, v in re.findall(r"(\w+) (\d+) ms", last)}
    iteration = sum(ms.values()) / 1000
    rows.append((int(box), int(ranks), int(threads), ms, iteration, float(user), float(system), int(kb)))
print("| box | ranks | threads | s/iteration: search | backproject | comm | update | whole | update share | speed-up | "
      "user s | system s | system/user | peak MB/rank |")
print("|---" * 14 + "|")
for box, ranks, threads, ms, iteration, user, system, kb in rows:
    base = next((r[4] for r in rows if r[0] == box and r[1] == 1 and r[2] == 1), None)   # no 1x1 run: no speed-up
    print(f"| {box} | {ranks} | {threads} | {ms['search'] / 1000:.2f} | {ms['backproject'] / 1000:.2f} | "
          f"{ms['comm'] / 1000:.2f} | {ms['update'] / 1000:.2f} | {iteration:.2f} | {ms['update'] / 1000 / iteration:.1%} | "
          f"{f'{base / iteration:.2f}' if base else '–'} | {user:.0f} | {system:.1f} | {system / user:.1%} | {kb // 1024} |")
PY
