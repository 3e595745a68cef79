#!/usr/bin/env python3
"""Oracle for Duet's STAR reader: summarises what the `starfile` package reads from STAR files.

Usage: star_summary.py FILE [FILE ...]

Prints one JSON object per file, one per line (with one FILE the output is a single JSON object):

    {"path": FILE,
     "blocks": [{"name": "particles",          # text after data_ (dict key of starfile.read)
                 "kind": "loop",               # "loop" (DataFrame), "pairs" (dict) or "empty" (None)
                 "rows": 17,                   # DataFrame rows; 1 for "pairs"; 0 for "empty"
                 "columns": ["rlnImageName", ...],   # DataFrame columns or dict keys, in order
                 "sums": {"rlnDefocusU": 123.4, ...},  # up to 3 numeric columns (first, middle, last
                                                       # numeric column without NaN): float sum
                 "first_row": ["1@a.mrcs", "15301.1", ...]},  # first row as strings; null for NaN
                ...]}

If starfile cannot read a file the object is {"path": FILE, "error": "..."} and the exit status is 1.
If starfile (or pandas) cannot be imported, the script prints a message to stderr and exits with status 3.
Blocks appear in the order of starfile's dict: a name repeated in the file appears once, at its first position,
with the content of its last occurrence.
"""
import json
import math
import sys


def value_text(value):
    """A cell as text: ints as digits, floats with repr (round-trip exact), NaN as None, strings unchanged."""
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return None if math.isnan(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if value is None:
        return None
    return str(value)


def is_number(value):
    if hasattr(value, "item"):
        value = value.item()
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def pick_three(names):
    """First, middle and last of a list (without repeats)."""
    if len(names) <= 3:
        return list(names)
    return [names[0], names[len(names) // 2], names[-1]]


def summarise_block(name, block, pandas):
    if block is None:
        return {"name": name, "kind": "empty", "rows": 0, "columns": [], "sums": {}, "first_row": []}
    if isinstance(block, dict):
        columns = list(block.keys())
        numeric = [key for key in columns
                   if is_number(block[key]) and not (isinstance(block[key], float) and math.isnan(block[key]))]
        sums = {key: float(block[key]) for key in pick_three(numeric)}
        return {"name": name, "kind": "pairs", "rows": 1, "columns": columns, "sums": sums,
                "first_row": [value_text(block[key]) for key in columns]}
    frame = block
    columns = [str(column) for column in frame.columns]
    numeric = []
    for column in frame.columns:
        series = frame[column]
        if pandas.api.types.is_numeric_dtype(series) and not pandas.api.types.is_bool_dtype(series):
            if len(series) > 0 and not series.isna().any():
                numeric.append(column)
    sums = {str(column): float(frame[column].astype("float64").sum()) for column in pick_three(numeric)}
    first_row = [value_text(v) for v in frame.iloc[0].tolist()] if len(frame) > 0 else []
    return {"name": name, "kind": "loop", "rows": int(len(frame)), "columns": columns, "sums": sums,
            "first_row": first_row}


def main(argv):
    if len(argv) < 2:
        print("usage: star_summary.py FILE [FILE ...]", file=sys.stderr)
        return 2
    try:
        import pandas
        import starfile
    except ImportError as error:
        print(f"star_summary.py: cannot import the Python 'starfile' package ({error}); "
              f"install it with: python3 -m pip install starfile", file=sys.stderr)
        return 3
    status = 0
    for path in argv[1:]:
        try:
            blocks = starfile.read(path, always_dict=True)
            summary = {"path": path,
                       "blocks": [summarise_block(str(name), block, pandas) for name, block in blocks.items()]}
        except Exception as error:  # noqa: BLE001 - any failure to read is reported, not raised
            summary = {"path": path, "error": f"{type(error).__name__}: {error}".replace("\n", " ")}
            status = 1
        print(json.dumps(summary, allow_nan=False))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
