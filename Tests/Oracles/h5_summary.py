#!/usr/bin/env python3
"""Oracle: prints, as JSON, every dataset of an HDF5 file read with h5py (name -> {shape, dtype, values}) and the
root group's attributes."""
import json
import sys

import h5py
import numpy as np


def plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.ravel().tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


out = {"datasets": {}, "attributes": {}}
with h5py.File(sys.argv[1], "r") as f:
    out["attributes"] = {k: plain(v) for k, v in f.attrs.items()}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out["datasets"][name] = {"shape": list(obj.shape), "dtype": obj.dtype.str,
                                     "values": plain(obj[()]),
                                     "attributes": {k: plain(v) for k, v in obj.attrs.items()}}
    f.visititems(visit)
print(json.dumps(out))
