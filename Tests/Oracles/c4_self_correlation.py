#!/usr/bin/env python3
"""Test oracle: how C4-symmetric a map is, by scipy's own resampling (independent of Duet's).

  c4_self_correlation.py MAP.mrc

Prints the correlation of the map with itself turned 90 degrees about z (RELION's C4 operator) about the box
centre (index n // 2), to 4 decimals: 1 for a C4-symmetric map.
"""
import sys

try:
    import mrcfile
    import numpy as np
    from scipy import ndimage
except ImportError as error:
    print(error, file=sys.stderr)
    sys.exit(3)

v = mrcfile.read(sys.argv[1]).astype(float)
n = v.shape[0]
c = np.full(3, n // 2, float)
R = np.array([[0., -1, 0], [1, 0, 0], [0, 0, 1]])   # 90 degrees about z, on (x, y, z)
M = np.eye(3)[::-1] @ R @ np.eye(3)[::-1]           # the same on the (z, y, x) indices of the array
w = ndimage.affine_transform(v, M, offset=c - M @ c, order=1)
print(f"{np.corrcoef(v.ravel(), w.ravel())[0, 1]:.4f}")
