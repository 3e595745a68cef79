#!/usr/bin/env bash
# Issue #4's benchmark: `duet abinit` against RELION 3.1's SGD initial model on both simulated presets, `small`
# (2,000 × 64², 3 Å/px, SNR 0.1) and `bench` (10,000 × 96², 2 Å/px, SNR 0.05), each in one run of
# Benchmarks/abinitio-vs-relion.sh (wall time, peak memory, angular error, FSC against the truth, Duet's ratios).
#
# usage: Benchmarks/abinitio-presets.sh OUT_DIR
#   Datasets are made under OUT_DIR/data/PRESET by ../shared/bench/make_dataset.sh unless DATA_DIR/PRESET exists.
#   DUET, THREADS and SGD_ARGS pass through; Duet's schedule per preset is below (DUET_ARGS_SMALL, DUET_ARGS_BENCH).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"; out=$(cd "$1" && pwd)
data=${DATA_DIR:-$out/data}
declare -A duet_args=(
    [small]=${DUET_ARGS_SMALL:-"--initial-iterations 100 --final-iterations 60"}
    [bench]=${DUET_ARGS_BENCH:-"--initial-iterations 100 --final-iterations 60 --max-resolution 5"}
)
for preset in small bench; do
    [ -f "$data/$preset/particles.star" ] || bash "$here/../shared/bench/make_dataset.sh" "$data/$preset" "$preset"
    echo "== $preset (duet ${duet_args[$preset]})"
    DUET_ARGS=${duet_args[$preset]} bash "$here/Benchmarks/abinitio-vs-relion.sh" "$data/$preset" abinit "$out/$preset"
done
