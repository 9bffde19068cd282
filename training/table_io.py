"""Reading "any client table" a user already has, and inferring what each column is.

Users bring CSV exports from Excel or a CRM (often ``;``-separated, cp1251, decimal
commas, thousands separated by spaces, blanks for "unknown") or Parquet files. The
model needs numbers as float64 with NaN for missing and text as ``category``; the
target must become 0/1. Every problem is an :class:`~churn.errors.InputError` naming
the file, column or value, because the person reading it is not the person who wrote
the code.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churn.errors import InputError

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "?"})
POSITIVE_WORDS = {"1", "yes", "true", "y", "t", "да", "churn", "churned"}
NEGATIVE_WORDS = {"0", "no", "false", "n", "f", "нет"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SEPARATORS = ",;\t|"
ENCODINGS = ("utf-8-sig", "cp1251")
SPACES = re.compile(r"[\s\u00a0\u202f']")  # thousands separators: spaces, nbsp, apostrophe
DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")


@dataclass
class PreparedTable:
    X: pd.DataFrame  # float64 numerics, ``category`` text; id and target removed
    y: np.ndarray  # 0/1
    positive: str
    numeric: list[str]
    categorical: list[str]
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it was dropped
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def _sniff_separator(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","


def read_table(path: Path) -> pd.DataFrame:
    """CSV (separator and encoding sniffed, every cell read as text) or Parquet."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"--table: file not found: {path}")
    if not path.is_file():
        raise InputError(f"--table: not a file: {path}")
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            frame = pd.read_parquet(path)
        else:
            frame = _read_csv(path)
    except InputError:
        raise
    except Exception as exc:  # pyarrow / parser errors: say which file, one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"--table: cannot read {path}: {first}") from exc
    if frame.shape[1] == 0 or len(frame) == 0:
        raise InputError(f"--table: {path} has no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        raise InputError(f"--table: duplicate column name(s): {', '.join(duplicated)}")
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"--table: {path} is empty")
    for encoding in ENCODINGS:
        try:
            text = raw[:65536].decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError(f"--table: {path}: unknown text encoding (tried {', '.join(ENCODINGS)})")
    sep = _sniff_separator(text)
    return pd.read_csv(
        path, sep=sep, dtype=str, keep_default_na=False, encoding=encoding, skipinitialspace=False
    )


# --------------------------------------------------------------------------- inference


def _as_text(series: pd.Series) -> pd.Series:
    """Stripped text with missing tokens as NA (object dtype, pandas-version neutral)."""
    text = series.astype(object).where(series.notna(), None)
    text = text.map(lambda v: v if v is None else str(v).strip(), na_action="ignore")
    missing = text.isna() | text.str.lower().isin(MISSING_TOKENS)
    return text.where(~missing, None)


def parse_numeric_text(text: pd.Series) -> pd.Series:
    """ "12.5", "1 234,5", "1,234.5", "-3" -> float; anything else -> NaN."""
    s = (
        text.astype(object)
        .where(text.notna(), None)
        .map(lambda v: v if v is None else SPACES.sub("", v), na_action="ignore")
    )
    s = s.astype("string")
    comma_decimal = s.str.fullmatch(DECIMAL_COMMA.pattern).fillna(False).astype(bool)
    s = s.where(~comma_decimal, s.str.replace(",", ".", regex=False))
    both = s.str.contains(",", regex=False).fillna(False).astype(bool) & s.str.contains(
        ".", regex=False
    ).fillna(False).astype(bool)
    s = s.where(~both, s.str.replace(",", "", regex=False))  # 1,234.5: comma = thousands
    return pd.to_numeric(s, errors="coerce").astype("float64")


def infer_column(series: pd.Series) -> tuple[str, pd.Series]:
    """("numeric", float64) or ("categorical", object text with None) for one column."""
    if pd.api.types.is_bool_dtype(series):
        return "numeric", series.astype("float64")
    if pd.api.types.is_numeric_dtype(series):
        return "numeric", pd.to_numeric(series, errors="coerce").astype("float64")
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime", series
    text = _as_text(series)
    parsed = parse_numeric_text(text)
    present = text.notna()
    if present.any() and parsed[present].notna().all():
        return "numeric", parsed
    return "categorical", text


# --------------------------------------------------------------------------- target


def _target_text(series: pd.Series) -> pd.Series:
    """Target values as stripped strings; 1.0 and "1" both become "1"."""
    if pd.api.types.is_bool_dtype(series):
        return series.map({True: "true", False: "false"}).astype(object)
    if pd.api.types.is_numeric_dtype(series):
        num = pd.to_numeric(series, errors="coerce")
        integral = num.notna() & (num == np.round(num))
        text = num.astype(object).where(num.notna(), None)
        text = text.where(~integral, num.where(integral).astype("Int64").astype(object))
        return text.map(lambda v: v if v is None else str(v), na_action="ignore")
    return _as_text(series)


def encode_target(series: pd.Series, name: str, positive: str | None) -> tuple[np.ndarray, str]:
    """0/1 labels and the positive value; rows with a missing target must be removed first."""
    text = _target_text(series)
    values = sorted(text.dropna().unique().tolist(), key=str)
    if len(values) < 2:
        raise InputError(f"--target {name}: one class only ({values[0]!r}); need two")
    if positive is not None:
        wanted = positive.strip()
        if wanted not in values:
            lower = {v.lower(): v for v in values}
            if wanted.lower() not in lower:
                raise InputError(
                    f"--positive {positive!r}: not a value of {name}; seen {_show(values)}"
                )
            wanted = lower[wanted.lower()]
        return (text == wanted).to_numpy(dtype=int), wanted
    if len(values) > 2:
        raise InputError(
            f"--target {name}: {len(values)} distinct values {_show(values)}; "
            "pass --positive VALUE (that value against the rest)"
        )
    lowered = {v.lower() for v in values}
    hits = [v for v in values if v.lower() in POSITIVE_WORDS]
    if len(hits) == 1 and (lowered - {hits[0].lower()}) <= NEGATIVE_WORDS:
        return (text == hits[0]).to_numpy(dtype=int), hits[0]
    raise InputError(f"--target {name}: values {_show(values)}; pass --positive VALUE")


def _show(values: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return f"[{shown}{', …' if len(values) > limit else ''}]"


# --------------------------------------------------------------------------- table


def prepare_table(
    frame: pd.DataFrame,
    *,
    target: str | None,
    positive: str | None,
    id_col: str | None,
    max_category_share: float,
) -> PreparedTable:
    """Features (typed) and 0/1 target from a raw flat table; raises InputError on bad input."""
    if not target:
        raise InputError("--target: required with --table (the column to predict)")
    columns = list(frame.columns)
    if target not in columns:
        raise InputError(f"--target {target}: not a column; columns are {_show(columns, 30)}")
    if id_col is not None and id_col not in columns:
        raise InputError(f"--id {id_col}: not a column; columns are {_show(columns, 30)}")
    if id_col == target:
        raise InputError(f"--id {id_col}: is also the --target")
    if id_col is not None:
        repeated = frame[id_col][frame[id_col].duplicated(keep=False)].dropna().unique()
        if len(repeated):
            raise InputError(
                f"--id {id_col}: {len(repeated)} id(s) appear on more than one row (e.g. "
                f"{_show([str(v) for v in repeated[:3]])}); the table needs one row per client"
            )
    notes: list[str] = []
    target_text = _target_text(frame[target])
    keep = target_text.notna().to_numpy()
    if not keep.all():
        notes.append(f"{int((~keep).sum())} row(s) with a missing {target} left out")
        frame = frame.loc[keep].reset_index(drop=True)
    if len(frame) == 0:
        raise InputError(f"--target {target}: every value is missing")
    y, positive_value = encode_target(frame[target], target, positive)
    X, numeric, categorical, dropped = _features(frame, target, id_col, max_category_share)
    return PreparedTable(X, y, positive_value, numeric, categorical, dropped, notes)


def _features(
    frame: pd.DataFrame, target: str, id_col: str | None, max_category_share: float
) -> tuple[pd.DataFrame, list[str], list[str], dict[str, str]]:
    out: dict[str, pd.Series] = {}
    numeric, categorical, all_missing = [], [], []
    dropped: dict[str, str] = {}
    if id_col is not None:
        dropped[id_col] = "id column"
    for col in frame.columns:
        if col in (target, id_col):
            continue
        kind, values = infer_column(frame[col])
        present = values.notna()
        if not present.any():
            all_missing.append(col)
        elif kind == "datetime":
            dropped[col] = "date/time column (derive numeric features from it first)"
        elif values[present].nunique() < 2:
            dropped[col] = "constant"
        elif kind == "categorical" and values.nunique() > max_category_share * len(values):
            dropped[col] = (
                f"text with {values.nunique()} distinct values in {len(values)} rows: id-like"
            )
        elif kind == "numeric":
            numeric.append(col)
            out[col] = values
        else:
            categorical.append(col)
            levels = sorted(values.dropna().unique().tolist())
            out[col] = pd.Series(pd.Categorical(values, categories=levels), index=frame.index)
    if all_missing:
        raise InputError(f"column(s) with no values at all: {', '.join(all_missing)}; drop them")
    if not out:
        raise InputError("--table: no usable feature columns left " + _show(list(dropped)))
    return pd.DataFrame(out, index=frame.index), numeric, categorical, dropped
