#!/usr/bin/env python3
"""Test oracle for Duet's MRC reader and writer, built on the independent `mrcfile` package.

Usage:
  mrc_summary.py FILE [FILE ...]
      Prints one JSON object {FILE: summary} where summary has, from mrcfile.open(FILE, permissive=True):
        shape        data shape in FILE order (sections, rows, columns); 2-D files give (rows, columns)
        nx, ny, nz   header dimensions (columns, rows, sections)
        mode, ispg, nsymbt, exttyp, mapc, mapr, maps, nversion, machst (list of 4 ints), has_map_id
        voxel_size_x cella.x / mx as mrcfile reports it (0 when unset)
        sum, abs_sum sum and sum of |x| of all data as float64
        first_sum    float64 sum of the first section (the whole image for a 2-D file)
        samples      [{"s": section, "r": row, "c": column, "value": float}] at fixed positions, indices in FILE
                     order, NOT permuted by mapc/mapr/maps (mrcfile does not apply the axis order)
      A file mrcfile cannot open gives {"error": message}.
  mrc_summary.py --validate FILE
      Prints {"valid": bool, "messages": text} from mrcfile.validate.
  mrc_summary.py --make-variants SOURCE DIR
      Writes the mode/byte-order variants described in Tests/Fixtures/mrc_robustness/PROVENANCE.md, made from the
      float32 stack SOURCE (voxel size 1.31 Å), into DIR, and prints {"files": {name: path}}.
"""
import json
import os
import sys
import warnings

import mrcfile
import numpy as np


def summary(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mrcfile.open(path, permissive=True) as mrc:
            h = mrc.header
            data = np.asarray(mrc.data)
            if data.ndim == 2:
                data3 = data[np.newaxis, :, :]
            else:
                data3 = data
            flat = data3.reshape(-1).astype(np.float64)
            n = flat.size
            positions = sorted(set([0, n - 1, n // 2, n // 3, (7 * n) // 11, (13 * n) // 17]
                                   + [int(i) for i in np.random.default_rng(12345).integers(0, n, 6)]))
            samples = []
            for p in positions:
                s, r, c = np.unravel_index(p, data3.shape)
                samples.append({"s": int(s), "r": int(r), "c": int(c), "value": float(flat[p])})
            return {
                "shape": [int(x) for x in data.shape],
                "nx": int(h.nx), "ny": int(h.ny), "nz": int(h.nz),
                "mode": int(h.mode), "ispg": int(h.ispg), "nsymbt": int(h.nsymbt),
                "exttyp": bytes(h.exttyp).decode("ascii", "replace").rstrip("\x00 "),
                "mapc": int(h.mapc), "mapr": int(h.mapr), "maps": int(h.maps),
                "nversion": int(h.nversion),
                "machst": [int(b) for b in bytes(h.machst)],
                "has_map_id": bytes(h.map) == b"MAP ",
                "voxel_size_x": float(mrc.voxel_size.x),
                "sum": float(flat.sum()),
                "abs_sum": float(np.abs(flat).sum()),
                "first_sum": float(data3[0].astype(np.float64).sum()),
                "samples": samples,
            }


def validate(path):
    import io
    text = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        valid = bool(mrcfile.validate(path, print_file=text))
    return {"valid": valid, "messages": text.getvalue()}


def make_variants(source, directory):
    with mrcfile.open(source, permissive=True) as mrc:
        x = np.asarray(mrc.data, dtype=np.float32).copy()
    variants = {
        "mode2_float32_littleendian.mrcs": x.astype("<f4"),
        "mode2_float32_bigendian.mrcs": x.astype(">f4"),
        "mode1_int16_scaled1000.mrcs": np.round(1000.0 * x).astype(np.int16),
        "mode12_float16.mrcs": x.astype(np.float16),
        "mode0_int8_scaled20.mrcs": np.clip(np.round(20.0 * x), -128, 127).astype(np.int8),
        "mode6_uint16_offset.mrcs": np.round(1000.0 * x + 32768.0).astype(np.uint16),
    }
    files = {}
    for name, data in variants.items():
        path = os.path.join(directory, name)
        with mrcfile.new(path, overwrite=True) as mrc:
            mrc.set_data(data)
            mrc.set_image_stack()
            mrc.voxel_size = 1.31
        files[name] = path
    path = os.path.join(directory, "mode2_as_volume_ispg1.mrc")
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(x)
        mrc.set_volume()
        mrc.voxel_size = 1.31
    files["mode2_as_volume_ispg1.mrc"] = path
    return {"files": files}


def main(argv):
    if len(argv) >= 3 and argv[1] == "--validate":
        print(json.dumps(validate(argv[2])))
    elif len(argv) == 4 and argv[1] == "--make-variants":
        print(json.dumps(make_variants(argv[2], argv[3])))
    elif len(argv) >= 2 and not argv[1].startswith("--"):
        out = {}
        for path in argv[1:]:
            try:
                out[path] = summary(path)
            except Exception as error:  # reported to the Swift test, which decides
                out[path] = {"error": "%s: %s" % (type(error).__name__, error)}
        print(json.dumps(out))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
