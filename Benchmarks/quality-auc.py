#!/usr/bin/env python3
"""ROC AUC of Duet's per-particle quality scores against a list of known junk rows.

  quality-auc.py PARTICLES.star JUNK.txt

PARTICLES.star: Duet's particles.star (rlnDuetQuality, rlnDuetCorrelation, rlnDuetImageScale,
rlnDuetResidualHotspot); JUNK.txt: `make_messy.py`'s junk list (1-based image numbers and their kind). Prints, for
each score, the AUC of "better score = good particle" over every row and per junk kind (the probability that a
random good row scores better than a random junk row); better is higher, except for the hotspot (lower).
"""
import sys
import numpy as np
import starfile


def auc(good, junk):
    """Mann-Whitney AUC: P(good > junk) + P(tie)/2."""
    scores = np.concatenate([good, junk])
    ranks = np.argsort(np.argsort(scores, kind="mergesort"), kind="mergesort").astype(float) + 1
    # average ranks of ties
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, ranks)
    ranks = (sums / counts)[inverse]
    r_good = ranks[:len(good)].sum()
    return (r_good - len(good) * (len(good) + 1) / 2) / (len(good) * len(junk))


def main():
    particles = starfile.read(sys.argv[1], always_dict=True)["particles"]
    number = particles["rlnImageName"].str.split("@").str[0].astype(int).to_numpy()
    kinds = {}
    for line in open(sys.argv[2]):
        image, kind = line.split()
        kinds[int(image)] = kind
    kind = np.array([kinds.get(n, "good") for n in number])
    for column, sign in [("rlnDuetQuality", 1), ("rlnDuetCorrelation", 1), ("rlnDuetImageScale", 1),
                         ("rlnDuetResidualHotspot", -1)]:
        if column not in particles:
            continue
        score = sign * particles[column].to_numpy(float)
        good = score[kind == "good"]
        line = f"{column}: AUC all junk {auc(good, score[kind != 'good']):.3f}"
        for k in sorted(set(kind) - {"good"}):
            line += f", {k} {auc(good, score[kind == k]):.3f}"
        line += f"  (median good {sign * np.median(good):.3f}, junk {sign * np.median(score[kind != 'good']):.3f})"
        print(line)


main()
