"""Read a subscription + activity export into the canonical tables, checked like the centre's.

:func:`read_source` maps the spec's files and columns onto the canonical tables
(:mod:`features.generic.contract`), parsing types column by column (vectorised);
:func:`check_tables` applies the contract checks (types, keys, unknown customers, times in
order and not in the future) and returns every problem as a :class:`Violation`;
:func:`import_source` writes the tables to a temporary directory beside ``out`` and moves
them into place only when clean, so a failed import leaves ``out`` as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from churn.errors import InputError, ValidationFailed
from features.generic.contract import GENERIC_TABLES
from features.generic.spec import SourceSpec
from features.violation import Violation, rows

MAX_EXAMPLES = 5


def _read_file(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".xlsx", ".xls"):
        return pd.read_excel(path, engine="calamine")
    if suffix in (".csv", ".txt"):
        return pd.read_csv(path, sep=None, engine="python", encoding="utf-8-sig")
    raise InputError(f"{path}: unknown file type {suffix!r} (use .parquet, .csv, .xlsx or .xls)")


_ISO = r"^\s*\d{4}-\d{1,2}-\d{1,2}"


def _parse_ts(values: pd.Series, day_first: bool | None) -> tuple[pd.Series, pd.Series]:
    """UTC instants, and where the value reads as two different dates.

    ISO values (``2024-01-31 ...``) are unambiguous and always read year-month-day; others
    (``03.01.2024``, ``1/2/2024``) are read both ways: with ``day_first`` unset, a value
    that differs is ambiguous (the caller names it) rather than silently guessed.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        out = pd.to_datetime(values, utc=True)
        return out.astype("datetime64[us, UTC]"), pd.Series(False, index=values.index)
    text = values.astype("str").where(values.notna())
    iso = text.str.match(_ISO).fillna(False).astype(bool)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    out[iso] = pd.to_datetime(text[iso], format="ISO8601", utc=True, errors="coerce")
    ambiguous = pd.Series(False, index=values.index)
    rest = ~iso & text.notna()
    if rest.any():
        month = pd.to_datetime(
            text[rest], format="mixed", dayfirst=False, utc=True, errors="coerce"
        )
        day = pd.to_datetime(text[rest], format="mixed", dayfirst=True, utc=True, errors="coerce")
        out[rest] = day if day_first else month
        if day_first is None:
            ambiguous[rest] = month.notna() & day.notna() & (month != day)
    return out.astype("datetime64[us, UTC]"), ambiguous


class _Reader:
    """Reads the spec's files once each and collects parse problems as violations."""

    def __init__(self, src: Path, day_first: bool | None = None) -> None:
        self.src = Path(src)
        self.day_first = day_first
        self.cache: dict[str, pd.DataFrame] = {}
        self.problems: list[Violation] = []

    def frame(self, table: str, file: str, columns: dict[str, str | None]) -> pd.DataFrame | None:
        path = self.src / file
        if not path.is_file():
            self.problems.append(Violation(table, "", "missing_file", f"{path}: file not found"))
            return None
        if file not in self.cache:
            self.cache[file] = _read_file(path)
        raw = self.cache[file]
        missing = [s for s in columns.values() if s is not None and s not in raw.columns]
        for source in missing:
            self.problems.append(
                Violation(table, source, "missing_column", f"{file}: no column {source!r}")
            )
        return None if missing else raw

    def parse(self, table: str, file: str, col: str, source: str, values: pd.Series, kind: str):
        """``values`` as the contract type; unparseable values become a violation."""
        if kind == "ts":
            out, ambiguous = _parse_ts(values, self.day_first)
            if ambiguous.any():
                idx = np.flatnonzero(ambiguous.to_numpy())
                shown = [
                    {"row": int(i) + 2, "value": str(values.iloc[i])[:40]}
                    for i in idx[:MAX_EXAMPLES]
                ]
                msg = (
                    f"{file}: {rows(len(idx))} of {source!r} read as different dates day-first "
                    "and month-first; set day_first: true or false in the source spec"
                )
                self.problems.append(Violation(table, col, "ambiguous_date", msg, shown, len(idx)))
        elif kind in ("int", "float"):
            out = pd.to_numeric(values, errors="coerce")
        else:
            out = values.astype("str").where(values.notna())
        bad = out.isna() & values.notna()
        if kind == "int":
            bad |= out.notna() & (out != np.floor(out.fillna(0)))
        if bad.any():
            idx = np.flatnonzero(bad.to_numpy())
            shown = [
                {"row": int(i) + 2, "value": str(values.iloc[i])[:40]} for i in idx[:MAX_EXAMPLES]
            ]
            msg = f"{file}: {rows(len(idx))} of {source!r} are not {kind}"
            self.problems.append(Violation(table, col, "type", msg, shown, len(idx)))
        if kind == "int":
            return out.astype("Int64")
        return out.astype("float64") if kind == "float" else out


def read_source(spec: SourceSpec, src: Path) -> tuple[dict[str, pd.DataFrame], list[Violation]]:
    """The canonical tables (customers may be empty) and the parse problems found."""
    r = _Reader(src, spec.day_first)
    s = spec.subscriptions
    out: dict[str, pd.DataFrame] = {}
    cols = {
        "subscription_id": (s.key, "int"),
        "client_id": (s.customer, "int"),
        "start_ts": (s.start, "ts"),
        "end_ts": (s.end, "ts"),
        "amount": (s.amount, "float"),
        "billing_period_months": (s.period, "int"),
    }
    raw = r.frame("subscriptions", s.file, {k: v[0] for k, v in cols.items()})
    if raw is not None:
        subs = {
            c: r.parse("subscriptions", s.file, c, src_col, raw[src_col], kind)
            for c, (src_col, kind) in cols.items()
            if src_col is not None
        }
        if s.period is None:
            subs["billing_period_months"] = pd.Series(s.default_period_months, index=raw.index)
        out["subscriptions"] = pd.DataFrame(subs)
    parts = []
    for a in spec.activities:
        acols = {
            "client_id": (a.customer, "int"),
            "ts": (a.time, "ts"),
            "activity_type": (a.type, "str"),
        }
        acols |= {"value": (a.value, "float"), "user_id": (a.user, "int")}
        raw = r.frame("activities", a.file, {k: v[0] for k, v in acols.items()})
        if raw is None:
            continue
        part = {
            c: r.parse("activities", a.file, c, src_col, raw[src_col], kind)
            for c, (src_col, kind) in acols.items()
            if src_col is not None
        }
        if a.type_constant is not None:
            part["activity_type"] = pd.Series(a.type_constant, index=raw.index, dtype="str")
        frame = pd.DataFrame(part)
        for c, dtype in (("value", "float64"), ("user_id", "Int64")):
            if c not in frame.columns:
                frame[c] = pd.Series(
                    pd.NA if dtype == "Int64" else np.nan, index=raw.index, dtype=dtype
                )
        parts.append(frame[["client_id", "ts", "activity_type", "value", "user_id"]])
    if parts:
        out["activities"] = pd.concat(parts, ignore_index=True)
    c = spec.customers
    if c is not None:
        names = {"client_id": c.key, "name": c.name} | {k: k for k in c.attributes}
        raw = r.frame("customers", c.file, names)
        if raw is not None:
            cust = {
                "client_id": r.parse("customers", c.file, "client_id", c.key, raw[c.key], "int")
            }
            if c.name is not None:
                cust["name"] = r.parse("customers", c.file, "name", c.name, raw[c.name], "str")
            for attr, kind in c.attributes.items():
                t = "float" if kind == "number" else "str"
                cust[attr] = r.parse("customers", c.file, attr, attr, raw[attr], t)
            out["customers"] = pd.DataFrame(cust)
    return out, r.problems


def _examples(frame: pd.DataFrame, mask: pd.Series, cols: list[str]) -> list[dict[str, object]]:
    return [
        {k: (str(v)[:40] if isinstance(v, str) else v) for k, v in row.items()}
        for row in frame.loc[mask, cols].head(MAX_EXAMPLES).to_dict("records")
    ]


def check_tables(
    tables: dict[str, pd.DataFrame], *, today: datetime | None = None, tolerance_days: int = 1
) -> list[Violation]:
    """The contract checks over canonical tables: missing values, keys, unknown customers,
    times in order and not in the future."""
    found: list[Violation] = []
    limit = pd.Timestamp(today or datetime.now(UTC)) + timedelta(days=tolerance_days)

    def rule(table: str, column: str, check: str, mask: pd.Series, text: str, cols: list[str]):
        n = int(mask.sum())
        if n:
            frame = tables[table]
            found.append(
                Violation(
                    table, column, check, f"{rows(n)} {text}", _examples(frame, mask, cols), n
                )
            )

    for name in ("subscriptions", "activities"):
        if name not in tables:
            continue
        frame = tables[name]
        for col in GENERIC_TABLES[name].columns:
            if col.name in frame.columns and not col.nullable:
                rule(name, col.name, "not_null", frame[col.name].isna(), "missing", [col.name])
    subs = tables.get("subscriptions")
    acts = tables.get("activities")
    cust = tables.get("customers")
    if subs is not None:
        rule(
            "subscriptions",
            "subscription_id",
            "unique",
            subs["subscription_id"].duplicated(keep=False) & subs["subscription_id"].notna(),
            "share a subscription key",
            ["subscription_id", "client_id"],
        )
        rule(
            "subscriptions",
            "end_ts",
            "end_after_start",
            subs["end_ts"].notna() & (subs["end_ts"] <= subs["start_ts"]),
            "end on or before they start",
            ["subscription_id", "start_ts", "end_ts"],
        )
        rule(
            "subscriptions",
            "amount",
            "min_value",
            subs["amount"] < 0,
            "have a negative amount",
            ["subscription_id", "amount"],
        )
        rule(
            "subscriptions",
            "billing_period_months",
            "min_value",
            subs["billing_period_months"] < 1,
            "have a billing period under one month",
            ["subscription_id", "billing_period_months"],
        )
        rule(
            "subscriptions",
            "start_ts",
            "future",
            subs["start_ts"] > limit,
            f"start after {limit:%Y-%m-%d}",
            ["subscription_id", "start_ts"],
        )
    if cust is not None:
        rule(
            "customers",
            "client_id",
            "unique",
            cust["client_id"].duplicated(keep=False),
            "share a customer key",
            ["client_id"],
        )
    known = (
        cust["client_id"] if cust is not None else (subs["client_id"] if subs is not None else None)
    )
    if known is not None:
        if subs is not None and cust is not None:
            rule(
                "subscriptions",
                "client_id",
                "unknown_customer",
                ~subs["client_id"].isin(known),
                "name a customer not in customers",
                ["subscription_id", "client_id"],
            )
        if acts is not None:
            rule(
                "activities",
                "client_id",
                "unknown_customer",
                acts["client_id"].notna() & ~acts["client_id"].isin(known),
                "name a customer with no subscription"
                if cust is None
                else "name a customer not in customers",
                ["client_id", "ts", "activity_type"],
            )
    if acts is not None:
        rule(
            "activities",
            "ts",
            "future",
            acts["ts"] > limit,
            f"happen after {limit:%Y-%m-%d}",
            ["client_id", "ts", "activity_type"],
        )
    return found


def import_source(
    spec: SourceSpec, src: Path, out: Path, *, today: datetime | None = None
) -> dict[str, int]:
    """Read, check and write the canonical Parquet tables into ``out``; rows per table.

    Written to a temporary directory beside ``out`` and moved into place only when every
    check passes; otherwise :class:`ValidationFailed` lists every problem and ``out`` is
    untouched.
    """
    tables, problems = read_source(spec, src)
    problems += check_tables(tables, today=today)
    if problems:
        raise ValidationFailed(
            f"{src}: {len(problems)} problem(s); nothing was written to {out}",
            violations=[v.line() for v in problems],
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, frame in tables.items():
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
        if out.exists():
            old = out.with_name(f".{out.name}.old.{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {name: len(frame) for name, frame in tables.items()}


def import_summary(rows: dict[str, int], out: Path, spec: SourceSpec | None = None) -> list[str]:
    """What ``churn import --source`` says after a clean import; with ``spec``, also the
    activity types in the export that it does not list (kept in the raw tables, ignored by
    the signals), so the operator can add them to ``activity_types`` or let them be."""
    counts = ", ".join(f"{name} {n:,}" for name, n in rows.items())
    lines = [f"imported {counts} -> {out}", f"{out}: every table satisfies the contract"]
    if spec is not None and spec.activity_types is not None:
        types = pd.read_parquet(Path(out) / "activities.parquet", columns=["activity_type"])
        extra = types["activity_type"][~types["activity_type"].isin(spec.activity_types)]
        if len(extra):
            shown = ", ".join(f"{t!r} ({n:,} rows)" for t, n in extra.value_counts().items())
            lines.append(f"note: activity types not in the spec's activity_types, ignored: {shown}")
    return lines
