#!/usr/bin/env bash
# Slow check of robustness on a real-looking stack (issue #13), against a release binary: a small messy set
# (ci/make-messy.py: real-micrograph noise, 25 % junk, pick offsets N(0, 3 px), contrast and B-factor spread; 1,200
# particles, box 64, 3 Å/px) refined by `mpirun -np 2 duet refine` on a short schedule, then scored against the truth
# on the good rows only, with the independent oracles in Tests/Oracles:
#   1. the right structure: median angular error (pose_error.py) below MAX_ERROR_DEG;
#   2. the gold-standard FSC is not more optimistic than the truth (issue #13's rule): its unmasked 0.143
#      resolution (fsc.star, rlnFourierShellCorrelationUnmaskedMaps) is no better than MIN_GOLD_RATIO × the
#      resolution at which the average of the half maps (aligned onto the truth by `duet align`) reaches FSC 0.5
#      against the truth (both over the whole box; the masked headline is printed too);
#   3. the quality score (rlnDuetQuality) ranks good rows above junk rows: ROC AUC above MIN_AUC.
# The limits are today's results with a margin (measured with the cropped SGD update: 4.15°, unmasked 10.94 Å
# against 9.49 Å from the truth (ratio 1.15; masked headline 6.69 Å), AUC 0.92; before it 13.17°, 14.67 Å from the
# truth, AUC 0.86; random poses give a median error near 126° and AUC 0.5), so that a regression in robustness
# fails; issue #13's pose and resolution targets (3°, 1.3× the true-pose map) are for the full messy set and
# schedule.
# Usage: ci/messy-check.sh [DUET_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
duet=$(realpath "${1:-build-cmake/duet}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MAX_ERROR_DEG=${MAX_ERROR_DEG:-10}
MIN_GOLD_RATIO=${MIN_GOLD_RATIO:-0.9}
MIN_AUC=${MIN_AUC:-0.85}

python3 ci/make-messy.py "$duet" "$work/data" --n 1200 --box 64 --apix 3.0 --snr 0.1 --seed 11
mpirun --oversubscribe --bind-to none -np 2 "$duet" refine "$work/data/particles.star" --out "$work/refine" \
    --initial-iterations 40 --final-iterations 20 --seed 3 > "$work/refine.log"
tail -n 6 "$work/refine.log"

# The good rows of the result, and the average of the half maps aligned onto the truth.
python3 - "$work" <<'EOF'
import sys, starfile, mrcfile
work = sys.argv[1]
key = lambda df: df["rlnImageName"].str.split("@").str[0].astype(int)
result = starfile.read(f"{work}/refine/particles.star", always_dict=True)
good = set(key(starfile.read(f"{work}/data/truth.star", always_dict=True)["particles"]))
result["particles"] = result["particles"][key(result["particles"]).isin(good)]
starfile.write(result, f"{work}/good.star")
a = mrcfile.read(f"{work}/refine/half_map_A.mrc"); b = mrcfile.read(f"{work}/refine/half_map_B.mrc")
with mrcfile.new(f"{work}/average.mrc") as m:
    m.set_data((a + b) / 2); m.voxel_size = 3.0
EOF
"$duet" align "$work/data/truth.mrc" "$work/average.mrc" --out "$work/average_on_truth.mrc" > /dev/null
error=$(python3 Tests/Oracles/pose_error.py "$work/good.star" "$work/data/truth.star" \
    | python3 -c "import json, sys; print(round(json.load(sys.stdin)['median_deg'], 2))")
truth05=$(python3 - "$work" <<'EOF'
import sys
sys.path.insert(0, "Tests/Oracles")
import mrcfile
from half_map_fsc import fsc
work, box, pixel = sys.argv[1], 64, 3.0
curve = fsc(mrcfile.read(f"{work}/average_on_truth.mrc"), mrcfile.read(f"{work}/data/truth.mrc"))
shell = next((s + (curve[s - 1] - 0.5) / (curve[s - 1] - curve[s]) for s in range(1, len(curve)) if curve[s] < 0.5),
             box // 2)   # curve[i] is shell i + 1; Nyquist if it never crosses
print(round(box * pixel / shell, 2))
EOF
)
read -r gold headline < <(python3 - "$work/refine/fsc.star" <<'EOF'
import sys, starfile
star = starfile.read(sys.argv[1], always_dict=True)
fsc, res = star["fsc"]["rlnFourierShellCorrelationUnmaskedMaps"].to_numpy(), star["fsc"]["rlnAngstromResolution"].to_numpy()
s = next((s for s in range(1, len(fsc)) if fsc[s] < 0.143), len(fsc) - 1)
t = (fsc[s - 1] - 0.143) / (fsc[s - 1] - fsc[s]) if fsc[s] < 0.143 else 0   # linear in spatial frequency
print(round(1 / ((1 - t) / res[s - 1] + t / res[s]), 2), float(star["general"]["rlnFinalResolution"]))
EOF
)
auc=$(python3 Benchmarks/quality-auc.py "$work/refine/particles.star" "$work/data/junk.txt" | grep rlnDuetQuality)
echo "median angular error $error° (limit $MAX_ERROR_DEG°); average of the halves FSC 0.5 vs truth at $truth05 Å;"
echo "gold-standard FSC 0.143 unmasked at $gold Å (must be ≥ $MIN_GOLD_RATIO × $truth05 Å; masked headline $headline Å);"
echo "$auc (limit $MIN_AUC)"
python3 - "$error" "$MAX_ERROR_DEG" "$gold" "$truth05" "$MIN_GOLD_RATIO" "$auc" "$MIN_AUC" <<'EOF'
import re, sys
error, limit, gold, truth05, ratio, auc_line, min_auc = sys.argv[1:]
auc = float(re.search(r"AUC all junk ([0-9.]+)", auc_line).group(1))
failures = []
if float(error) >= float(limit): failures.append(f"median angular error {error}° ≥ {limit}°")
if float(gold) < float(ratio) * float(truth05): failures.append(f"unmasked gold-standard FSC claims {gold} Å, truth FSC 0.5 is {truth05} Å")
if auc <= float(min_auc): failures.append(f"quality score AUC {auc} ≤ {min_auc}")
if failures:
    sys.exit("messy check FAILED: " + "; ".join(failures))
print("messy check passed")
EOF
