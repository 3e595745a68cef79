#!/usr/bin/env python3
"""Oracle for `duet mpi-selftest`: reads its HDF5 file with h5py and checks every value against what N ranks
with R rows for rank 0 (rank r writes R + r rows) must have written. Prints 'ok' or raises."""
import sys

import h5py
import numpy as np

path, ranks, rows_per_rank = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
counts = [rows_per_rank + r for r in range(ranks)]
total = sum(counts)
with h5py.File(path, "r") as f:
    assert f.attrs["creator"] == b"duet mpi-selftest", f.attrs["creator"]
    p = f["particles"]
    expected_rank = np.repeat(np.arange(ranks), counts)
    assert p["worldRank"].dtype == np.int32 and p["worldRank"].shape == (total,)
    assert (p["worldRank"][:] == expected_rank).all(), p["worldRank"][:]
    rows = np.arange(total)
    assert (p["halfSet"][:] == rows % 2).all()
    assert (p["imageIndex"][:] == rows).all()
    assert [n.decode() for n in p["imagePath"][:]] == [f"rank{r}.mrcs" for r in expected_rank]
    assert np.allclose(p["defocusU_A"][:], 10000 + rows) and np.allclose(p["defocusAngle_deg"][:], rows / 10)
    assert np.allclose(p["angleRot_deg"][:], rows, atol=1e-9), p["angleRot_deg"][:5]
    assert np.allclose(p["angleTilt_deg"][:], 10 + rows / 2, atol=1e-9)
    assert np.allclose(p["anglePsi_deg"][:], -rows, atol=1e-9)
    assert np.allclose(p["shiftX_A"][:], rows * 0.25) and np.allclose(p["shiftY_A"][:], -rows * 0.25)
    assert (p["pixelSize_A"][:] == 1.5).all() and (p["opticsGroup"][:] == 1).all()
    v = f["volumes/test"]
    assert v.shape == (8, 7, 6) and v.dtype == np.float32
    assert np.array_equal(v[:].ravel(), np.arange(6 * 7 * 8, dtype=np.float32))
    assert v.attrs["pixelSize_A"] == 1.5
print("ok")
