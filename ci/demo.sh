#!/usr/bin/env bash
# The README's first command after setup: builds Duet in release mode and runs the job it exists for, on a
# dataset it makes itself from an atomic model in the repository (demo/models/8zpm.cif, CXCR4, about 40 kDa):
#   1. simulate 2,000 particles from the model's potential (random poses, shifts, CTF, white noise at SNR 0.1);
#   2. `duet refine` under `mpirun -np 2`: two half-sets reconstructed ab initio from their own random starts,
#      gold-standard FSC between them (a few minutes on 2 cores);
#   3. score against the truth: half map A aligned onto the model's map (rotation, shift, hand) and their FSC,
#      beside the same particles reconstructed at their true poses (the best these images allow);
#   4. the file tools: particles to CryoSPARC .cs and back, and a summary of each.
# Everything goes to demo-output/; nothing outside the repository is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # mpirun as root (containers, CI)
mpi=(mpirun --oversubscribe --bind-to none)

out=demo-output
mkdir -p "$out"
swift build -c release --product duet
duet=.build/release/duet
start=$(date +%s)

echo "== 1. simulate particles from an atomic model (known truth)"
$duet simulate --model demo/models/8zpm.cif --box 56 --pixel-size 3 --count 2000 --snr 0.1 --seed 1 \
    --out "$out/sim" --overwrite

echo "== 2. gold-standard ab-initio refinement on 2 MPI ranks"
"${mpi[@]}" -np 2 $duet refine "$out/sim/particles.star" --out "$out/refine" --initial-iterations 60 \
    --final-iterations 30 --threads 1 --overwrite | tee "$out/refine.log"

echo "== 3. the result against the truth"
$duet align "$out/sim/model_map.mrc" "$out/refine/half_map_A.mrc" --out "$out/refine/half_map_A_on_truth.mrc"
$duet fsc "$out/refine/half_map_A_on_truth.mrc" "$out/sim/model_map.mrc" --out "$out/refine/half_map_A_vs_truth" \
    | tee "$out/vs-truth.log"
echo "-- the same particles at their true poses (the best these images allow):"
$duet reconstruct "$out/sim/truth.star" --out "$out/true-poses" --overwrite > /dev/null
$duet fsc "$out/true-poses/half_A.mrc" "$out/sim/model_map.mrc" --out "$out/true-poses/half_A_vs_truth" \
    | tee "$out/true-poses.log"

echo "== 4. file tools: Duet's particles to CryoSPARC .cs and back"
$duet convert "$out/refine/particles.star" "$out/particles.cs"
$duet convert "$out/particles.cs" "$out/particles-from-cs.star"
$duet info "$out/particles.cs"

cat <<EOF
demo finished in $(( $(date +%s) - start )) s (after the build):
  gold-standard FSC   $(grep -m1 '^unmasked FSC' "$out/refine.log"); $(grep -m1 '^masked, phase' "$out/refine.log")
  half map A vs truth $(head -n 1 "$out/vs-truth.log")
  true poses vs truth $(head -n 1 "$out/true-poses.log")
  half maps           $out/refine/half_map_A.mrc, half_map_B.mrc (gold-standard FSC above; fsc.svg, fsc.txt)
  central slices      $out/refine/slices.png
  particles and poses $out/refine/particles.star / particles.cs, log.txt, duet.h5
  against the truth   $out/refine/half_map_A_vs_truth.svg (half map A aligned onto $out/sim/model_map.mrc)
EOF
