#!/usr/bin/env bash
# Installs what Duet needs on a fresh Debian 12 machine: OpenMPI, FFTW3 (with MPI), parallel HDF5, CMake/Ninja,
# RELION (its relion_project and relion_reconstruct are the reference the tests compare against), SLURM and munge
# (daemons are never started by apt here; ci/cluster/ starts its own),
# and the Python packages the tests use as independent oracles (never needed by `duet` itself).
set -euo pipefail

packages=(libopenmpi-dev openmpi-bin libfftw3-dev libfftw3-mpi-dev libhdf5-openmpi-dev hdf5-tools
          pkg-config cmake ninja-build relion procps
          slurm-wlm slurmd slurmctld slurm-client munge iproute2)   # the test cluster of ci/slurm-checks.sh
# The machine's own Python is used when there is one; Debian's otherwise.
command -v python3 >/dev/null || packages+=(python3 python3-pip)

apt_retry() {
    # Another apt may hold the lock for a while on a shared machine: retry instead of failing.
    for attempt in $(seq 1 30); do
        if DEBIAN_FRONTEND=noninteractive "$@"; then return 0; fi
        echo "apt busy or failed (attempt $attempt), retrying in 10 s" >&2
        sleep 10
    done
    return 1
}

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
apt_retry $SUDO apt-get update -qq
apt_retry $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

# gemmi: the model-potential oracle (Tests/Oracles/model_potential.py); pandas: starfile's tables.
oracles=(numpy scipy mrcfile starfile h5py cryosparc-tools gemmi pandas)
imports="import numpy, scipy, mrcfile, starfile, h5py, cryosparc.dataset, gemmi, pandas"
if ! python3 -c "$imports" 2>/dev/null; then
    # Debian's own Python refuses system-wide installs unless told (PEP 668).
    python3 -m pip install -q --root-user-action=ignore --disable-pip-version-check "${oracles[@]}" \
        || python3 -m pip install -q --root-user-action=ignore --disable-pip-version-check --break-system-packages "${oracles[@]}"
fi
python3 -c "$imports" || { echo "Python test oracles failed to install" >&2; exit 1; }
echo "dependencies installed"
