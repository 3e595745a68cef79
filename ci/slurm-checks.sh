#!/usr/bin/env bash
# The slurm/ job scripts under a real SLURM whose 3 nodes are network namespaces (ci/cluster/): a tiny refinement
# on one node (2 ranks, srun), on 3 nodes (srun --mpi=pmix) and on 3 nodes launched by mpirun must all end
# COMPLETED, and the multi-node maps must match the single-node ones (FSC > 0.999 at every shell). The cluster is
# torn down whatever happens. Usage: ci/slurm-checks.sh [DUET_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duet=$(realpath "${1:-build-cmake/duet}")
export CLUSTER_DIR=${CLUSTER_DIR:-/tmp/duet-cluster-ci}
work=$(mktemp -d)
trap 'ci/cluster/cluster-down.sh; rm -rf "$work"' EXIT
ci/cluster/cluster-up.sh 3

python3 -c "import mrcfile, sys, warnings; warnings.simplefilter('ignore'); d = mrcfile.open(sys.argv[1], permissive=True).data.copy(); \
m = mrcfile.new(sys.argv[2], overwrite=True); m.set_data(d); m.voxel_size = 13.1; m.close()" \
    ../shared/data/tomodrgn/10076_classD_32.mrc "$work/truth.mrc"
"$duet" simulate "$work/truth.mrc" --out "$work/data" --count 200 --snr 1 --seed 4 > /dev/null

submit() {   # NAME SCRIPT EXTRA_ENV SBATCH_OPTIONS...: submits, waits (bounded), requires exit 0
    local name=$1 script=$2 extra=$3; shift 3
    local env="ALL,DUET=$duet,DUET_SLURM_DIR=$root/slurm,DUET_PARTICLES=$work/data/particles.star,DUET_OUT=$work/$name"
    env+=",DUET_ARGS=--initial-resolution 80 --initial-iterations 16 --final-iterations 8 --initial-minibatch 50 --align-every 8 --seed 2"
    env+=",OMPI_ALLOW_RUN_AS_ROOT=1,OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1${extra:+,$extra}"
    local start=$SECONDS status=0
    timeout 240 ci/cluster/login.sh sbatch -W --chdir="$work" --output="$work/$name.out" --time=5 \
        --cpus-per-task=1 "--export=$env" "$@" "slurm/$script" > /dev/null || status=$?
    if [ $status -ne 0 ] || [ ! -f "$work/$name/half_map_A.mrc" ]; then
        echo "slurm check $name FAILED (sbatch -W status $status)" >&2
        cat "$work/$name.out" >&2 || true
        exit 1
    fi
    echo "$name: COMPLETED in $((SECONDS - start)) s ($(grep -c '^iteration' "$work/$name.out") progress lines)"
}
submit single refine-single-node.sbatch "" --nodes=1 --ntasks=2
submit multi refine-multi-node.sbatch "" --nodes=3 --ntasks-per-node=1
submit multi-mpirun refine-multi-node.sbatch "DUET_LAUNCHER=mpirun" --nodes=3 --ntasks-per-node=1

python3 - "$work" <<'PY'
import sys, numpy as np, mrcfile
def fsc(a, b):
    fa, fb = np.fft.fftn(a), np.fft.fftn(b)
    k = np.fft.fftfreq(a.shape[0]) * a.shape[0]
    r = np.rint(np.sqrt(k[:, None, None]**2 + k[None, :, None]**2 + k[None, None, :]**2)).astype(int)
    return min(np.real(np.sum(fa[r == s] * np.conj(fb[r == s])))
               / np.sqrt(np.sum(abs(fa[r == s])**2) * np.sum(abs(fb[r == s])**2)) for s in range(1, a.shape[0] // 2))
w = sys.argv[1]
worst = min(fsc(mrcfile.read(f"{w}/single/half_map_{h}.mrc"), mrcfile.read(f"{w}/{run}/half_map_{h}.mrc"))
            for run in ("multi", "multi-mpirun") for h in "AB")
print(f"3-node maps vs single-node maps: lowest FSC {worst:.6f}")
sys.exit(0 if worst > 0.999 else 1)
PY
echo "slurm checks passed"
