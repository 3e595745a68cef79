#!/usr/bin/env bash
# The README's first command after setup: builds Duet in release mode and runs it on bundled fixtures —
# summarises a real RELION 3.1 particle file, converts it to CryoSPARC .cs and back, and runs the MPI self-test
# (two half-set communicators, allreduce, one HDF5 file written by 4 ranks). Output goes to demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

data=../shared/data
out=demo-output
mkdir -p "$out"
swift build -c release
duet=.build/release/duet

$duet info "$data/cryodrgn/metadata/relion31.6opticsgroups.star"
$duet convert "$data/cryodrgn/metadata/relion31.6opticsgroups.star" "$out/particles.cs"
$duet convert "$out/particles.cs" "$out/particles.star"
$duet info "$out/particles.cs"
$duet info "$data/cryodrgn/real/empiar_10076_7.mrc"
mpirun --oversubscribe -np 4 $duet mpi-selftest --output "$out/mpi-selftest.h5"
echo "demo finished: outputs in $out/"
