"""A compact, exact fingerprint of a snapshot table: one hash per column, plus its dtype.

Why: the snapshot built from the signal spec must equal the one built before it, column
for column and value for value, without committing the Parquet. Rows are put in a fixed
order (as_of, client_id); each column's values are serialised canonically (float64 bytes
with one NaN pattern, int64 bytes, timestamps as microseconds, text joined with a
separator and a null marker) and hashed, so a single changed value changes its column's
hash, and the failing column is named.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

NULL = "\x00"
SEP = "\x1f"


def _column_bytes(s: pd.Series) -> bytes:
    if pd.api.types.is_datetime64_any_dtype(s):
        us = s.dt.tz_convert("UTC").astype("datetime64[us, UTC]") if s.dt.tz else s
        return np.asarray(us.astype("int64"), dtype="int64").tobytes()
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
        return np.asarray(s, dtype="int64").tobytes()
    if pd.api.types.is_float_dtype(s):
        x = np.asarray(s, dtype="float64").copy()
        x[np.isnan(x)] = np.nan  # one NaN bit pattern
        x[x == 0] = 0.0  # -0.0 and 0.0 alike
        return x.tobytes()
    text = [NULL if v is None or v is pd.NA or v != v else str(v) for v in s.tolist()]
    return SEP.join(text).encode("utf-8")


def digest(frame: pd.DataFrame) -> dict[str, Any]:
    """{"rows": n, "columns": [[name, dtype, sha256], ...]} in the frame's column order."""
    df = frame.sort_values(["as_of", "client_id"], kind="stable").reset_index(drop=True)
    cols = [
        [name, str(df[name].dtype), hashlib.sha256(_column_bytes(df[name])).hexdigest()]
        for name in df.columns
    ]
    return {"rows": len(df), "columns": cols}


def write_digest(frame: pd.DataFrame, path: Path, about: str) -> None:
    path.write_text(json.dumps({"about": about, **digest(frame)}, indent=1) + "\n")


def compare(frame: pd.DataFrame, path: Path) -> list[str]:
    """What differs from the stored digest (empty: identical), each naming the column."""
    want = json.loads(path.read_text())
    got = digest(frame)
    problems = []
    if got["rows"] != want["rows"]:
        problems.append(f"rows: {got['rows']} != golden {want['rows']}")
    names_got = [c[0] for c in got["columns"]]
    names_want = [c[0] for c in want["columns"]]
    if names_got != names_want:
        problems.append(f"columns: {names_got} != golden {names_want}")
    w = {c[0]: c for c in want["columns"]}
    for name, dtype, h in got["columns"]:
        if name not in w:
            continue
        if dtype != w[name][1]:
            problems.append(f"{name}: dtype {dtype} != golden {w[name][1]}")
        elif h != w[name][2]:
            problems.append(f"{name}: values differ from the golden snapshot")
    return problems
