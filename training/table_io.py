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
import io
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


def decode_text(raw: bytes, path: Path) -> tuple[str, str]:
    """(text, encoding) of the whole file: UTF-8 (with or without BOM), else cp1251.

    Decided on every byte, not a prefix: a prefix cut can split a two-byte UTF-8 letter
    (Cyrillic is two bytes), and a UTF-8 file read as cp1251 turns "да" into "Ð´Ð°"
    without any error. cp1251 is the fallback because Excel on a Russian Windows writes it;
    it has no undefined byte but 0x98, so almost any file decodes: UTF-8 is tried first.
    """
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise InputError(f"--table: {path}: unknown text encoding (tried {', '.join(ENCODINGS)})")


def _read_csv(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"--table: {path} is empty")
    text, _ = decode_text(raw, path)
    sep = _sniff_separator(text[:65536])
    return pd.read_csv(
        io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=False
    )


# --------------------------------------------------------------------------- inference


def _as_text(series: pd.Series) -> pd.Series:
    """Stripped text with missing tokens as NA (object dtype, pandas-version neutral)."""
    text = series.astype(object).where(series.notna(), None)
    text = text.map(lambda v: v if v is None else str(v).strip(), na_action="ignore")
    missing = text.isna() | text.str.lower().isin(MISSING_TOKENS)
    return text.where(~missing, None)


# A number, once spaces are removed, is one of these shapes. EN = decimal point with
# optional comma thousands, EU = decimal comma with optional dot thousands.
_EXP = r"(?:[eE][+-]?\d+)?"
_SHAPES: dict[str, tuple[re.Pattern[str], frozenset[str]]] = {
    "int": (re.compile(r"[+-]?\d+" + _EXP), frozenset({"en", "eu"})),
    # "1,234" / "1.234": one 3-digit group after the separator, no leading zero: either a
    # thousands separator or a decimal with three decimals; the column decides.
    "comma_group": (re.compile(r"[+-]?[1-9]\d{0,2},\d{3}"), frozenset({"en", "eu"})),
    "dot_group": (re.compile(r"[+-]?[1-9]\d{0,2}\.\d{3}"), frozenset({"en", "eu"})),
    "en_decimal": (re.compile(r"[+-]?\d*\.\d+" + _EXP), frozenset({"en"})),
    "en_grouped": (re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?"), frozenset({"en"})),
    "eu_decimal": (re.compile(r"[+-]?\d*,\d+" + _EXP), frozenset({"eu"})),
    "eu_grouped": (re.compile(r"[+-]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d*)?"), frozenset({"eu"})),
}
_STYLE_NAMES = {
    "en": "decimal point (comma = thousands)",
    "eu": "decimal comma (point = thousands)",
}


@dataclass
class InferredColumn:
    kind: str  # "numeric" | "categorical" | "datetime"
    values: pd.Series  # float64 (numeric), object text with None (categorical), as is
    note: str | None = None  # how an ambiguous number format was decided


def _shape_of(value: str) -> str | None:
    for name, (pattern, _) in _SHAPES.items():
        if pattern.fullmatch(value):
            return name
    return None


def _to_float(values: pd.Series, style: str) -> pd.Series:
    if style == "en":
        plain = values.str.replace(",", "", regex=False)
    else:
        plain = values.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(plain, errors="coerce").astype("float64")


def parse_numeric_text(text: pd.Series, name: str = "column") -> tuple[pd.Series, str | None]:
    """Numbers written as text, one number format per column, or all NaN if not numeric.

    Spaces, non-breaking spaces and apostrophes are thousands separators everywhere. A
    column is then either decimal-point (``1,234.5``: comma groups thousands) or
    decimal-comma (``1.234,5``: point groups thousands), never a mix: the format is the
    one every value fits. "1,234" fits both; when every value of a column fits both, the
    separator is read as a thousands separator (a decimal part of exactly three digits in
    every value is far less likely than a thousands group) and the returned note says so.
    A column whose values are all numbers but fit no single format (``12,5`` next to
    ``1,234.5``) is an :class:`InputError` naming the column and one value of each kind:
    guessing would silently turn one of them into a number a thousand times off.
    Returns (float64 values, note or None); a value that is not a number makes the whole
    column NaN (the caller then treats it as text).
    """
    compact = (
        text.astype(object)
        .where(text.notna(), None)
        .map(lambda v: v if v is None else SPACES.sub("", v), na_action="ignore")
    )
    present = compact.dropna()
    nothing = pd.Series(np.nan, index=text.index, dtype="float64")
    if present.empty:
        return nothing, None
    shapes = {v: _shape_of(v) for v in present.unique()}
    if any(shape is None for shape in shapes.values()):
        return nothing, None
    styles = frozenset({"en", "eu"})
    witness: dict[str, str] = {}
    for value, shape in shapes.items():
        allowed = _SHAPES[shape][1]
        if len(allowed) == 1:
            witness.setdefault(next(iter(allowed)), value)
        styles = styles & allowed
    if not styles:
        raise InputError(
            f"column {name}: mixes number formats: {witness['eu']!r} is written with a "
            f"{_STYLE_NAMES['eu']}, {witness['en']!r} with a {_STYLE_NAMES['en']}; "
            "export the column with one number format"
        )
    strings = compact.astype("string")
    if len(styles) == 1:
        return _to_float(strings, next(iter(styles))), None
    grouped = [v for v, shape in shapes.items() if shape in ("comma_group", "dot_group")]
    if not grouped:  # integers only
        return _to_float(strings, "en"), None
    has_comma = any("," in v for v in grouped)
    has_dot = any("." in v for v in grouped)
    if has_comma and has_dot:  # "1,234" and "5.678" in one column: both thousands?
        raise InputError(
            f"column {name}: uses both ',' ({next(v for v in grouped if ',' in v)!r}) and "
            f"'.' ({next(v for v in grouped if '.' in v)!r}) between digit groups; "
            "export the column with one number format"
        )
    sep = "," if has_comma else "."
    note = (
        f"column {name}: every value fits both number formats (e.g. {grouped[0]!r}); "
        f"read {sep!r} as a thousands separator"
    )
    return _to_float(strings, "en" if has_comma else "eu"), note


def infer_column(series: pd.Series, name: str = "column") -> InferredColumn:
    """Numeric (float64), categorical (object text with None) or datetime, for one column."""
    if pd.api.types.is_bool_dtype(series):
        return InferredColumn("numeric", series.astype("float64"))
    if pd.api.types.is_numeric_dtype(series):
        return InferredColumn("numeric", pd.to_numeric(series, errors="coerce").astype("float64"))
    if pd.api.types.is_datetime64_any_dtype(series):
        return InferredColumn("datetime", series)
    text = _as_text(series)
    parsed, note = parse_numeric_text(text, name)
    present = text.notna()
    if present.any() and parsed[present].notna().all():
        return InferredColumn("numeric", parsed, note)
    return InferredColumn("categorical", text)


def _is_row_id(values: pd.Series) -> bool:
    """Whole numbers, none missing, a different one on every row: an id, not a signal."""
    if values.isna().any() or len(values) < 2:
        return False
    return bool((values == np.round(values)).all() and values.nunique() == len(values))


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
    X, numeric, categorical, dropped = _features(frame, target, id_col, max_category_share, notes)
    return PreparedTable(X, y, positive_value, numeric, categorical, dropped, notes)


def _features(
    frame: pd.DataFrame,
    target: str,
    id_col: str | None,
    max_category_share: float,
    notes: list[str],
) -> tuple[pd.DataFrame, list[str], list[str], dict[str, str]]:
    out: dict[str, pd.Series] = {}
    numeric, categorical, all_missing = [], [], []
    dropped: dict[str, str] = {}
    if id_col is not None:
        dropped[id_col] = "id column"
    for col in frame.columns:
        if col in (target, id_col):
            continue
        inferred = infer_column(frame[col], col)
        kind, values = inferred.kind, inferred.values
        if inferred.note:
            notes.append(inferred.note)
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
        elif kind == "numeric" and _is_row_id(values):
            dropped[col] = "whole numbers, a different one on every row: an id, not a signal"
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
