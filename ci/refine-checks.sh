#!/usr/bin/env bash
# Slow checks of `duet refine` against a release binary (each run is seconds of compute in release, minutes in a
# debug build, so they are not XCTests). On 300 particles simulated (SNR 1) from a bundled 32³ map:
#   1. the same seed gives the same half maps at 1, 2, 3 and 4 ranks (FSC > 0.999 at every shell);
#   2. --resume of a copy, from the checkpoint half way, gives the same half maps as the uninterrupted run; a damaged
#      state file is refused;
#   3. independence: replacing half B's images by pure noise leaves half A's map bit-identical, and a set of
#      pure noise claims no gold-standard resolution better than 30 Å;
#   4. SIGTERM under mpirun, and SIGINT (Ctrl-C) to one process, leave a checkpoint, and resuming it ends with the
#      uninterrupted run's maps; SIGHUP to the ranks under mpirun leaves a checkpoint too;
#   5. kill -9 of one rank ends the job within seconds; resuming its last checkpoint gives the same maps;
#   6. relion_reconstruct --ctf --subset 1 on Duet's particles.star reproduces half map A (FSC ≥ 0.99 to 0.8 Nyquist:
#      the images' contrast scales travel in rlnCtfScalefactor);
#   7. the outputs load in mrcfile (validate), starfile and h5py;
#   8. the 1-rank run against the truth, scored by Tests/Oracles (pose_error.py, half_map_fsc.py): median angular
#      error ≤ 10°, the average of the halves (aligned onto the truth) at FSC 0.5 ≤ 40 Å, gold-standard FSC 0.143
#      not more than 10 % more optimistic than that.
# Usage: ci/refine-checks.sh [DUET_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
duet=$(realpath "${1:-build-cmake/duet}")
map=Tests/Fixtures/tomodrgn/10076_classD_32.mrc
oracles=$(pwd)/Tests/Oracles   # half_map_fsc.py: the FSC per shell, numpy only
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun --oversubscribe --bind-to none)

python3 -c "import mrcfile, sys, warnings; warnings.simplefilter('ignore'); d = mrcfile.open(sys.argv[1], permissive=True).data.copy(); \
m = mrcfile.new(sys.argv[2], overwrite=True); m.set_data(d); m.voxel_size = 13.1; m.close()" "$map" "$work/truth.mrc"
"$duet" simulate "$work/truth.mrc" --out "$work/data" --count 300 --snr 1 --seed 4 > /dev/null
# A column Duet does not interpret, which its particle outputs must keep row for row.
python3 - "$work/data/particles.star" <<'EOF'
import sys, starfile
d = starfile.read(sys.argv[1], always_dict=True)
d["particles"]["rlnMicrographName"] = [f"mic{i // 10:03d}.mrc" for i in range(len(d["particles"]))]
starfile.write(d, sys.argv[1], overwrite=True)
EOF
refine=(refine --initial-resolution 80 --initial-iterations 20 --final-iterations 10 --initial-minibatch 60
        --align-every 10 --checkpoint-every 15 --seed 2)

same_maps() {   # DIR1 DIR2 LABEL: half maps agree (FSC > 0.999 at every shell)
    PYTHONPATH="$oracles" python3 - "$1" "$2" "$3" <<'EOF'
import sys
from half_map_fsc import lowest_half_map_fsc
worst = lowest_half_map_fsc(sys.argv[1], sys.argv[2])
print(f"{sys.argv[3]}: lowest FSC between the runs' half maps {worst:.6f}")
sys.exit(0 if worst > 0.999 else 1)
EOF
}

start_two_ranks() {   # NAME: starts a 2-rank run into $work/NAME in the background (pid in $launcher), returns
                      # once it has logged iteration 20 (after the checkpoint at 15)
    "${mpi[@]}" -np 2 "$duet" "${refine[@]}" "$work/data/particles.star" --out "$work/$1" > "$work/$1.log" 2>&1 &
    launcher=$!
    for _ in $(seq 1 600); do
        grep -q "iteration   20/30" "$work/$1.log" 2>/dev/null && break
        sleep 0.1
    done
}

echo "== 1, 2, 3 and 4 ranks"
"$duet" "${refine[@]}" "$work/data/particles.star" --out "$work/np1" | tail -n 4
for n in 2 3 4; do
    "${mpi[@]}" -np $n "$duet" "${refine[@]}" "$work/data/particles.star" --out "$work/np$n" > "$work/np$n.log"
    same_maps "$work/np1" "$work/np$n" "$n ranks vs 1 rank"
done

echo "== against the truth, scored independently (Tests/Oracles): poses, map, and an honest gold-standard FSC"
# The map the gold-standard FSC speaks for is the average of the halves (half B is already in half A's frame).
python3 -c "import mrcfile, sys; a, b = (mrcfile.read(f'{sys.argv[1]}/half_map_{h}.mrc') for h in 'AB'); \
m = mrcfile.new(sys.argv[2], overwrite=True); m.set_data((a + b) / 2); m.voxel_size = 13.1; m.close()" \
    "$work/np1" "$work/np1_average.mrc"
"$duet" align "$work/truth.mrc" "$work/np1_average.mrc" --out "$work/np1_average_on_truth.mrc" > /dev/null
python3 - "$work" "$oracles" <<'EOF'
import json, subprocess, sys
work, oracles = sys.argv[1], sys.argv[2]
sys.path.insert(0, oracles)
import mrcfile
from half_map_fsc import fsc
poses = json.loads(subprocess.check_output([sys.executable, f"{oracles}/pose_error.py", f"{work}/np1/particles.star",
                                            f"{work}/data/truth.star"]))
box, pixel = 32, 13.1
def resolution(curve, threshold):   # Å where the curve first crosses the threshold (shells interpolated; Nyquist if never)
    for s in range(1, len(curve)):
        if curve[s] < threshold:
            shell = s + (curve[s - 1] - threshold) / (curve[s - 1] - curve[s])   # curve[i] is shell i + 1
            return box * pixel / shell
    return box * pixel / (box // 2)
truth = resolution(fsc(mrcfile.read(f"{work}/np1_average_on_truth.mrc"), mrcfile.read(f"{work}/truth.mrc")), 0.5)
gold = resolution(fsc(mrcfile.read(f"{work}/np1/half_map_A.mrc"), mrcfile.read(f"{work}/np1/half_map_B.mrc")), 0.143)
print(f"median angular error {poses['median_deg']:.2f}° ({poses['hand']} hand, {poses['matched']} particles); "
      f"average of the halves vs truth FSC 0.5 at {truth:.1f} Å; gold-standard FSC 0.143 at {gold:.1f} Å")
problems = []
if poses["median_deg"] > 10: problems.append("median angular error above 10°")
if truth > 40: problems.append("the map against the truth coarser than 40 Å at FSC 0.5")
if gold < 0.9 * truth: problems.append("gold-standard FSC more than 10 % more optimistic than the truth's 0.5")
if problems: sys.exit("truth check FAILED: " + "; ".join(problems))
EOF

echo "== resume from the checkpoint at iteration 15"
cp -r "$work/np1" "$work/resumed"
# The copy's own state files are used, not those of the run it was copied from (its checkpoint.json names np1):
# with np1's gone, a damaged copy is refused and an intact one resumes.
mv "$work/np1/checkpoint" "$work/np1-checkpoint"
cp -r "$work/resumed/checkpoint" "$work/resumed-checkpoint"
state=$(ls "$work/resumed/checkpoint/"*.sgd | head -n 1)
printf 'garbage%.0s' $(seq 1 600) | dd of="$state" bs=1 seek=2000 conv=notrunc status=none
if "$duet" refine --resume "$work/resumed" > "$work/damaged.log" 2>&1; then
    echo "a damaged checkpoint was accepted" >&2; exit 1
fi
grep -q "duet: error: .*$(basename "$state") is damaged" "$work/damaged.log" || { cat "$work/damaged.log" >&2; exit 1; }
echo "damaged checkpoint refused: $(cat "$work/damaged.log")"
rm -r "$work/resumed/checkpoint" && mv "$work/resumed-checkpoint" "$work/resumed/checkpoint"
"$duet" refine --resume "$work/resumed" > /dev/null
cmp "$work/np1/half_map_A.mrc" "$work/resumed/half_map_A.mrc"
cmp "$work/np1/half_map_B.mrc" "$work/resumed/half_map_B.mrc"
echo "resumed run: half maps bit-identical to the uninterrupted run"

echo "== independence: half B replaced by pure noise"
python3 - "$work" <<'EOF'
import sys, numpy as np, mrcfile, starfile
work = sys.argv[1]
star = starfile.read(f"{work}/np1/particles.star", always_dict=True)
# Keep duet's split, drop its poses, and point half B at a stack of pure noise.
p = star["particles"].drop(columns=[c for c in star["particles"].columns if c.startswith(("rlnAngle", "rlnOrigin"))])
stack = mrcfile.read(f"{work}/data/particles.mrcs")
noise = np.random.default_rng(7).normal(size=stack.shape).astype(np.float32)
mrcfile.write(f"{work}/noise.mrcs", noise, voxel_size=13.1, overwrite=True)
inputs = p.copy()
inputs["rlnImageName"] = [n.split("@")[0] + "@" + f"{work}/data/particles.mrcs" for n in p["rlnImageName"]]
starfile.write({"optics": star["optics"], "particles": inputs}, f"{work}/split.star")
b = p["rlnRandomSubset"] == 2
inputs.loc[b, "rlnImageName"] = [n.split("@")[0] + "@" + f"{work}/noise.mrcs" for n in p.loc[b, "rlnImageName"]]
starfile.write({"optics": star["optics"], "particles": inputs}, f"{work}/split_noiseB.star")
EOF
"$duet" "${refine[@]}" "$work/split.star" --out "$work/split" > /dev/null
"$duet" "${refine[@]}" "$work/split_noiseB.star" --out "$work/noiseB" > "$work/noiseB.log"
grep -i "fsc" "$work/noiseB.log"   # the run reports its FSC (fails the check when it does not)
cmp "$work/split/half_map_A.mrc" "$work/noiseB/half_map_A.mrc"
echo "half A bit-identical whatever half B contains"

echo "== pure noise: no gold-standard resolution claim better than 30 Å"
# Geometry of a 64³ map at 4.4 Å/px (Nyquist 8.8 Å); every image replaced by white noise.
"$duet" simulate Tests/Fixtures/cryojax/3j9g_potential_ps4_4.mrc --out "$work/noise" --count 400 --snr 1 --seed 6 > /dev/null
python3 - "$work/noise/particles.mrcs" <<'EOF'
import sys, numpy as np, mrcfile
shape = mrcfile.read(sys.argv[1]).shape
mrcfile.write(sys.argv[1], np.random.default_rng(11).normal(size=shape).astype(np.float32), voxel_size=4.4, overwrite=True)
EOF
"$duet" refine "$work/noise/particles.star" --out "$work/noise/out" --initial-iterations 20 --final-iterations 10 \
    --initial-minibatch 60 --align-every 10 --seed 3 > /dev/null
python3 - "$work/noise/out/fsc.txt" <<'EOF'
import sys, re
text = open(sys.argv[1]).read()
claims = {kind: float(value) for kind, value in
          re.findall(r"# resolution at FSC 0.143, (unmasked|masked)[^:]*: ([0-9.]+|inf) A", text)}
print("pure noise: GS-FSC 0.143 at " + ", ".join(f"{v:.1f} Å {k}" for k, v in claims.items()))
sys.exit(0 if len(claims) == 2 and min(claims.values()) >= 30 else 1)
EOF

echo "== SIGTERM under mpirun, then --resume"
start_two_ranks term
# As SLURM does when it pre-empts a job step: SIGTERM to every rank (mpirun itself would kill its ranks at once).
pkill -TERM -P $launcher
status=0; wait $launcher || status=$?
if [ $status -eq 0 ]; then echo "SIGTERM: the run did not stop" >&2; exit 1; fi
test -f "$work/term/checkpoint/checkpoint.json" || { echo "SIGTERM left no checkpoint" >&2; cat "$work/term.log" >&2; exit 1; }
echo "stopped at: $(grep -o '"iteration" : [0-9]*' "$work/term/checkpoint/checkpoint.json")"
"${mpi[@]}" -np 2 "$duet" refine --resume "$work/term" > /dev/null
same_maps "$work/np2" "$work/term" "SIGTERM + resume vs uninterrupted"

echo "== SIGHUP (a closed terminal) to the ranks under mpirun: checkpoint, message, exit status 129"
start_two_ranks hup
pkill -HUP -P $launcher
status=0; wait $launcher || status=$?
if [ $status -ne 129 ]; then echo "SIGHUP: exit status $status, not 129" >&2; cat "$work/hup.log" >&2; exit 1; fi
grep -q "stopped by SIGHUP" "$work/hup.log" || { echo "SIGHUP: no message" >&2; exit 1; }
test -f "$work/hup/checkpoint/checkpoint.json" || { echo "SIGHUP left no checkpoint" >&2; exit 1; }

echo "== SIGINT (Ctrl-C) to one process, then --resume"
"$duet" "${refine[@]}" "$work/data/particles.star" --out "$work/int" > "$work/int.log" 2>&1 &
single=$!
for _ in $(seq 1 600); do grep -q "iteration   20/30" "$work/int.log" 2>/dev/null && break; sleep 0.1; done
kill -INT $single
status=0; wait $single || status=$?
if [ $status -ne 130 ]; then echo "SIGINT: exit status $status, not 130" >&2; cat "$work/int.log" >&2; exit 1; fi
grep -q "stopped by SIGINT" "$work/int.log" || { echo "SIGINT: no message" >&2; exit 1; }
test -f "$work/int/checkpoint/checkpoint.json" || { echo "SIGINT left no checkpoint" >&2; exit 1; }
"$duet" refine --resume "$work/int" > /dev/null
same_maps "$work/np1" "$work/int" "SIGINT + resume vs uninterrupted"

echo "== kill -9 of one rank, then --resume"
start_two_ranks killed
killed_at=$(date +%s)
pkill -KILL -n -P $launcher
for _ in $(seq 1 300); do kill -0 $launcher 2>/dev/null || break; sleep 0.1; done
if kill -0 $launcher 2>/dev/null; then echo "kill -9: the job still runs 30 s later" >&2; kill -KILL $launcher; exit 1; fi
status=0; wait $launcher || status=$?
[ $status -ne 0 ] || { echo "kill -9: the job reported success" >&2; exit 1; }
echo "kill -9 of one rank: job ended with status $status after $(( $(date +%s) - killed_at )) s"
"${mpi[@]}" -np 2 "$duet" refine --resume "$work/killed" > /dev/null
same_maps "$work/np2" "$work/killed" "kill -9 + resume vs uninterrupted"

echo "== relion_reconstruct reproduces half map A"
( cd "$work/np2" && relion_reconstruct --i particles.star --o relion_half1.mrc --ctf --subset 1 --angpix 13.1 > relion.log )
PYTHONPATH="$oracles" python3 - "$work/np2" <<'EOF'
import sys, mrcfile
from half_map_fsc import fsc
d = sys.argv[1]
curve = fsc(mrcfile.read(f"{d}/half_map_A.mrc"), mrcfile.read(f"{d}/relion_half1.mrc"))
upto = int(0.8 * len(curve))   # shells 1 ... 0.8 x Nyquist
print(f"half map A vs relion_reconstruct --subset 1: lowest FSC up to 0.8 Nyquist {curve[:upto].min():.4f}")
sys.exit(0 if curve[:upto].min() >= 0.99 else 1)
EOF

echo "== outputs load in other tools"
python3 - "$work/np2" "$work/data/particles.star" <<'EOF'
import sys, h5py, mrcfile, starfile
from cryosparc.dataset import Dataset
d = sys.argv[1]
for name in ("half_map_A", "half_map_B", "mask"):
    assert mrcfile.validate(f"{d}/{name}.mrc"), name
p = starfile.read(f"{d}/particles.star", always_dict=True)["particles"]
assert set(p["rlnRandomSubset"]) == {1, 2} and "rlnAngleRot" in p
inputs = starfile.read(sys.argv[2], always_dict=True)["particles"]
micrograph = {int(name.split("@")[0]): m for name, m in zip(inputs["rlnImageName"], inputs["rlnMicrographName"])}
assert all(micrograph[int(name.split("@")[0])] == m for name, m in zip(p["rlnImageName"], p["rlnMicrographName"])), \
    "an input column was not kept row for row"
ess = p["rlnDuetPoseESS"]   # 1/Σw² ≥ 1; at SNR 1 after the refinement rounds the posteriors are sharp
assert ess.notna().all() and (ess >= 1 - 1e-6).all() and ess.median() <= 3, ess.describe()
assert set(p["rlnDuetLastIteration"]) == {30}
cs = Dataset.load(f"{d}/particles.cs")
assert len(cs) == len(p) and set(cs["alignments3D/split"]) == {0, 1}, len(cs)
assert (abs(cs["alignments3D/pose_ess"] - ess.to_numpy()) < 1e-3).all() and set(cs["duet/last_iteration"]) == {30}
with h5py.File(f"{d}/duet.h5") as f:
    n = f["particles/halfSet"].shape[0]
    assert n == 300, n
    assert f["maps/half_map_A"].shape == (32, 32, 32)
    assert len(f["history/iteration"]) == 30
print(f"mrcfile, starfile, cryosparc-tools and h5py read the outputs ({len(p)} posed particles)")
EOF
echo "refine checks passed"
