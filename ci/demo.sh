#!/usr/bin/env bash
# The README's first command after setup: builds Duet in release mode and runs it on a generated dataset and on
# bundled fixtures. Simulates 2,000 particles (CTF, shifts, noise at SNR 0.1) from a bundled map, reconstructs
# the two half-sets at the true poses with 4 MPI ranks, scores the map against the truth with an FSC, and shows
# the file tools (info, STAR ↔ .cs conversion). Everything goes to demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

data=../shared/data
out=demo-output
mkdir -p "$out"
swift build -c release --product duet
duet=.build/release/duet

echo "== simulate particles with known truth"
$duet simulate "$data/cryojax/3j9g_potential_ps4_4.mrc" --out "$out/sim" --count 2000 --snr 0.1 --seed 1 --overwrite
$duet info "$out/sim/truth.star"
echo "== reconstruct both half-sets at the true poses on 4 MPI ranks"
mpirun --oversubscribe -np 4 $duet reconstruct "$out/sim/truth.star" --out "$out/reconstruct" --overwrite
echo "== the map against the truth"
$duet fsc "$out/reconstruct/map.mrc" "$data/cryojax/3j9g_potential_ps4_4.mrc" --out "$out/map-vs-truth"
echo "== file tools: convert a real RELION 3.1 particle file to CryoSPARC .cs and back"
$duet convert "$data/cryodrgn/metadata/relion31.6opticsgroups.star" "$out/particles.cs"
$duet convert "$out/particles.cs" "$out/particles.star"
$duet info "$out/particles.cs"
echo "demo finished: maps, FSC tables and plots (.svg) in $out/"
