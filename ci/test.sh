#!/usr/bin/env bash
# The test command (README, .ci/run): checks the CMake build and, with its release binary, that `duet abinit`
# converges, `duet refine`'s checks and the SLURM checks; then builds Duet and its tests once with SwiftPM and runs
# every test (unit tests, fixture tests against the Python oracles and RELION, real mpirun runs at 1-4 ranks).
set -euo pipefail
cd "$(dirname "$0")/.."

# mpirun as root (CI runs as root) and with more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

bash ci/cmake-build.sh
# Slow check against the release binary CMake just built: ab-initio finds the right structure.
bash ci/abinit-convergence.sh build-cmake/duet
# Slow checks of `duet refine` (rank counts, resume, half-set independence, SIGTERM) on the same binary.
bash ci/refine-checks.sh build-cmake/duet
# A short refine on a small messy stack (real-micrograph noise, junk, offsets), scored against the truth.
bash ci/messy-check.sh build-cmake/duet
# The slurm/ scripts under a real SLURM of 3 namespace nodes: multi-node maps, capped links, faults, requeue.
bash ci/slurm-checks.sh build-cmake/duet
swift build --build-tests
# Every test is XCTest; without Swift Testing the run closes on the XCTest summary, not on "0 tests".
swift test --skip-build --disable-swift-testing
