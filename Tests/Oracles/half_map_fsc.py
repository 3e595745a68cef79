#!/usr/bin/env python3
"""Test oracle: Fourier shell correlation computed with numpy alone (independent of Duet's own FSC).

As a module: `fsc(a, b)` gives the FSC of two cubic maps at integer shells 1 … n/2 − 1 (radius rounded to the
nearest shell, full FFT); `lowest_half_map_fsc(dir1, dir2)` the lowest FSC at any shell between the two runs'
`half_map_A.mrc` and between their `half_map_B.mrc`.

As a command:
  half_map_fsc.py REFERENCE_DIR DIR [DIR ...]
      Prints, for each DIR, the lowest FSC of its half maps against REFERENCE_DIR's; exit status 1 when any is
      0.999 or less (the maps of the same run must not depend on how it was run).
"""
import sys

import mrcfile
import numpy as np


def fsc(a, b):
    fa, fb = np.fft.fftn(a), np.fft.fftn(b)
    n = a.shape[0]
    k = np.fft.fftfreq(n) * n
    r = np.rint(np.sqrt(k[:, None, None]**2 + k[None, :, None]**2 + k[None, None, :]**2)).astype(int).ravel()
    numerator = np.bincount(r, np.real(fa * np.conj(fb)).ravel())
    power_a = np.bincount(r, (abs(fa)**2).ravel())
    power_b = np.bincount(r, (abs(fb)**2).ravel())
    return (numerator / np.sqrt(power_a * power_b))[1:n // 2]


def lowest_half_map_fsc(dir1, dir2):
    return min(float(fsc(mrcfile.read(f"{dir1}/half_map_{h}.mrc"), mrcfile.read(f"{dir2}/half_map_{h}.mrc")).min())
               for h in "AB")


if __name__ == "__main__":
    reference, runs = sys.argv[1], sys.argv[2:]
    ok = True
    for run in runs:
        worst = lowest_half_map_fsc(reference, run)
        print(f"{run}: lowest FSC of its half maps against {reference}'s: {worst:.6f}")
        ok &= worst > 0.999
    sys.exit(0 if ok else 1)
