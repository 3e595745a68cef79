#!/usr/bin/env python3
"""Test oracle: how far estimated particle poses are from the true ones, independent of Duet's code.

  pose_error.py ESTIMATED.star TRUTH.star
      Matches particles by image number and stack file name, builds each rotation from RELION's ZYZ Euler angles (rlnAngleRot, Tilt,
      Psi), and removes the global rotation G an ab-initio map is free to have (R_est ~ R_true G, fitted by the
      SVD projection of sum R_true^T R_est onto SO(3)), for both hands (the mirrored map has poses
      J R_true J G, J = diag(1, 1, -1)). Prints one JSON object: the better hand, the median and 90th percentile
      angular error in degrees, the fraction under 10 degrees, and the number of particles matched.
      Exit status 3 when numpy, pandas or starfile is missing.
"""
import json
import sys

try:
    import numpy as np
    import pandas as pd
    import starfile
except ImportError as error:
    print(error, file=sys.stderr)
    sys.exit(3)


def relion_matrices(rot_deg, tilt_deg, psi_deg):
    """RELION's Euler_angles2matrix: A = Rz(psi) Ry(tilt) Rz(rot), Rz(t) = [[c, s, 0], [-s, c, 0], [0, 0, 1]]."""
    a, b, g = (np.radians(np.asarray(v, dtype=float)) for v in (rot_deg, tilt_deg, psi_deg))
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    m = np.empty((len(a), 3, 3))
    m[:, 0] = np.stack([cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb], axis=1)
    m[:, 1] = np.stack([-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb], axis=1)
    m[:, 2] = np.stack([sc, ss, cb], axis=1)
    return m


def nearest_rotation(m):
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1, 1, d]) @ vt


def errors_deg(true, estimated):
    g = nearest_rotation(np.einsum("nji,njk->ik", true, estimated))   # sum of R_true^T R_est
    residual = np.einsum("nij,jk,nlk->nil", true, g, estimated)       # R_true G R_est^T
    cosine = np.clip((np.trace(residual, axis1=1, axis2=2) - 1) / 2, -1, 1)
    return np.degrees(np.arccos(cosine))


def particles(path):
    """The particle table indexed by image number @ stack file name (paths differ between files written in
    different directories)."""
    table = starfile.read(path, always_dict=True)
    block = table.get("particles", next(iter(table.values())))
    keys = [f"{int(name.split('@')[0])}@{name.split('@')[-1].split('/')[-1]}" for name in block["rlnImageName"]]
    return block.set_index(pd.Index(keys))


if __name__ == "__main__":
    estimated, truth = particles(sys.argv[1]), particles(sys.argv[2])
    names = [name for name in estimated.index if name in truth.index]
    e, t = estimated.loc[names], truth.loc[names]
    r_est = relion_matrices(e["rlnAngleRot"], e["rlnAngleTilt"], e["rlnAnglePsi"])
    r_true = relion_matrices(t["rlnAngleRot"], t["rlnAngleTilt"], t["rlnAnglePsi"])
    j = np.diag([1.0, 1.0, -1.0])
    candidates = {"same": errors_deg(r_true, r_est), "mirrored": errors_deg(j @ r_true @ j, r_est)}
    hand, errors = min(candidates.items(), key=lambda item: np.median(item[1]))
    print(json.dumps({"hand": hand, "median_deg": float(np.median(errors)),
                      "p90_deg": float(np.percentile(errors, 90)),
                      "fraction_under_10_deg": float(np.mean(errors < 10)), "matched": len(names)}))
