#!/usr/bin/env bash
# Configure and build Duet with CMake + Ninja into build-cmake/, then smoke-test the binary:
#   duet --help, duet mpi-selftest (singleton MPI, no mpirun) and the same under mpirun with 2 ranks.
# Exits non-zero on the first failure.
#
# Environment knobs (all optional):
#   BUILD_DIR        build directory (default: build-cmake)
#   BUILD_TYPE       CMAKE_BUILD_TYPE (default: Release)
#   JOBS             ninja parallelism (default: number of CPUs)
#   DUET_BUILD_LOCK  lock file taken around configure+build so builds on a shared machine do not overlap
#                    (default: /tmp/duet-build.lock, the convention on the dev box; set to "" to skip locking)
#   NICE             niceness for configure+build (default: 10; the build machines are shared)
#   MPIRUN           MPI launcher (default: mpirun)
#   MPIRUN_FLAGS     launcher flags (default: OpenMPI's --allow-run-as-root --oversubscribe; CI containers run as root
#                    and may have fewer cores than ranks)
set -euo pipefail

cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build-cmake}
BUILD_TYPE=${BUILD_TYPE:-Release}
JOBS=${JOBS:-$(nproc)}
DUET_BUILD_LOCK=${DUET_BUILD_LOCK-/tmp/duet-build.lock}
NICE=${NICE:-10}
MPIRUN=${MPIRUN:-mpirun}
MPIRUN_FLAGS=${MPIRUN_FLAGS:---allow-run-as-root --oversubscribe}

# Configure and build at low priority. If a lock file is set, hold it for both steps so this build does not overlap
# with others on a shared machine; the times printed below do not include waiting for the lock.
if [[ -n "$DUET_BUILD_LOCK" ]] && command -v flock >/dev/null; then
    exec {lock_fd}>"$DUET_BUILD_LOCK"
    if ! flock -n "$lock_fd"; then
        echo "waiting for $DUET_BUILD_LOCK (another build is running)"
        flock "$lock_fd"
    fi
fi

step() { printf '\n=== %s\n' "$*"; }

step "configure ($BUILD_TYPE) into $BUILD_DIR"
start=$SECONDS
nice -n "$NICE" cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE"
configured=$SECONDS

step "build (-j $JOBS)"
nice -n "$NICE" cmake --build "$BUILD_DIR" -- -j "$JOBS"
echo "configure $((configured - start)) s, build $((SECONDS - configured)) s"

# Release the lock before the smoke tests.
if [[ -n "${lock_fd:-}" ]]; then exec {lock_fd}>&-; fi

DUET="$BUILD_DIR/duet"
[[ -x "$DUET" ]] || { echo "error: $DUET was not built" >&2; exit 1; }

tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT

# A singleton MPI process (or mpirun) started from a shell that already holds another MPI job's OMPI_*/PMIX_*
# variables fails silently; make sure the smoke tests start from a clean MPI environment.
for var in $(compgen -e); do
    case "$var" in OMPI_*|PMIX_*|ORTE_*|OPAL_*) unset "$var" ;; esac
done

step "$DUET --help"
"$DUET" --help

# Checks that the self-test wrote a non-empty HDF5 file, then removes it so the next run starts clean.
check_output() {
    [[ -s "$tmpdir/x.h5" ]] || { echo "error: $1 did not write $tmpdir/x.h5" >&2; exit 1; }
    rm -f "$tmpdir/x.h5"
}

step "$DUET mpi-selftest (singleton)"
"$DUET" mpi-selftest --output "$tmpdir/x.h5"
check_output "singleton mpi-selftest"

step "$MPIRUN $MPIRUN_FLAGS -np 2 $DUET mpi-selftest"
# shellcheck disable=SC2086  # MPIRUN_FLAGS is a list of flags
"$MPIRUN" $MPIRUN_FLAGS -np 2 "$DUET" mpi-selftest --output "$tmpdir/x.h5"
check_output "2-rank mpi-selftest"

step "CMake build and smoke tests passed"
