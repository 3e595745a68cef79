#!/usr/bin/env python3
"""Oracle for Duet's NPY reader/writer: summarise a .npy / .cs file as numpy sees it.

Usage: npy_summary.py [--values] FILE

Prints one JSON object:
  version      [major, minor] from the file's magic
  shape        the array shape
  structured   whether the dtype has named fields
  fields       in order; a plain array is one field named "". Each has
               name, dtype (numpy's dtype.str of the element type, e.g. '<f4', '|S61'), shape (sub-array shape),
               and for numeric fields: sum (float64 sum of all elements), abssum, sample ([[flat index, value], ...]
               at up to 11 evenly spaced positions of the C-ordered column, the value as an exact float.hex
               string), for string fields: first and last
               (values of the first and last row, element 0, decoded as UTF-8 / str; null when there are no rows).
               With --values every field also gets "values": all elements flattened in C order (strings decoded,
               integers as decimal strings so that 64-bit values stay exact, floats and bools as float.hex strings).
Non-finite sums are written as the strings "nan", "inf", "-inf".
"""
import json
import math
import sys

try:
    import numpy as np
except ImportError as exc:  # the Swift tests report this message
    sys.stderr.write("npy_summary.py: numpy is not importable in this python3 (%s): pip install numpy\n" % exc)
    sys.exit(3)


def num(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def exact(x):
    """A float as an exact hexadecimal string (float.hex), e.g. '-0x1.999999a000000p-2', 'inf', 'nan'."""
    return float(x).hex()


def text(v):
    if isinstance(v, bytes):
        return v.rstrip(b"\0").decode("utf-8", "replace")
    return str(v)


def column_summary(name, col, base, sub, with_values):
    out = {"name": name, "dtype": base.str, "shape": list(sub)}
    nrows = col.shape[0] if col.ndim > 0 else 1
    flat = col.reshape(-1)
    if base.kind in "biuf":
        f = flat.astype(np.float64)
        out["sum"] = num(f.sum())
        out["abssum"] = num(np.abs(f).sum())
        n = f.size
        idx = sorted(set(int(i) for i in np.linspace(0, n - 1, 11).astype(np.int64))) if n > 0 else []
        out["sample"] = [[i, exact(f[i])] for i in idx]
        if with_values:
            if base.kind in "iu":
                out["values"] = [str(int(v)) for v in flat]  # strings: exact for 64-bit values
            else:
                out["values"] = [exact(v) for v in f]
    elif base.kind in "SU":
        per_row = max(1, int(np.prod(sub)) if len(sub) else 1)
        if nrows == 0 or flat.size == 0:
            out["first"] = None
            out["last"] = None
        else:
            out["first"] = text(flat[0])
            out["last"] = text(flat[(nrows - 1) * per_row])
        if with_values:
            out["values"] = [text(v) for v in flat]
    else:
        out["unsupported"] = True
    return out


def main(argv):
    with_values = "--values" in argv
    paths = [a for a in argv[1:] if a != "--values"]
    if len(paths) != 1:
        sys.stderr.write("usage: npy_summary.py [--values] FILE\n")
        return 2
    path = paths[0]
    with open(path, "rb") as fh:
        version = list(np.lib.format.read_magic(fh))
    try:  # numpy >= 1.24 refuses headers over 10000 bytes unless told otherwise
        a = np.load(path, allow_pickle=False, max_header_size=1 << 30)
    except TypeError:
        a = np.load(path, allow_pickle=False)
    result = {"version": version, "shape": list(a.shape), "structured": a.dtype.names is not None}
    fields = []
    if a.dtype.names is not None:
        for name in a.dtype.names:
            dt = a.dtype.fields[name][0]
            fields.append(column_summary(name, a[name], dt.base, dt.shape, with_values))
    else:
        fields.append(column_summary("", a, a.dtype, a.shape[1:], with_values))
    result["fields"] = fields
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
