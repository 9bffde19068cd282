"""I/O edge of the generic source: canonical Parquet in, snapshots and churn events out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import ibis
import pandas as pd

from churn.errors import InputError
from features.generic.periods import active_periods, period_churn_events
from features.generic.signals import Signal, as_of_grid, snapshots_expr
from features.generic.spec import SourceSpec

TABLES = ("subscriptions", "activities", "customers")


@dataclass(frozen=True)
class GenericSnapshots:
    frame: pd.DataFrame  # client_id, [name], as_of, one column per signal
    signals: tuple[Signal, ...]
    data_end: pd.Timestamp  # the newest activity or subscription start seen


def load_tables(raw_dir: Path, con: ibis.BaseBackend | None = None) -> dict[str, ibis.Table]:
    """The canonical tables of ``raw_dir`` (customers optional) on DuckDB (default)."""
    con = con or ibis.duckdb.connect()
    out = {}
    for name in TABLES:
        path = Path(raw_dir) / f"{name}.parquet"
        if path.is_file():
            out[name] = con.read_parquet(path, table_name=name)
        elif name != "customers":
            raise InputError(f"{path}: not found; import the source first (churn import)")
    return out


def data_end(tables: dict[str, ibis.Table]) -> pd.Timestamp:
    a = tables["activities"].ts.max().execute()
    s = tables["subscriptions"].start_ts.max().execute()
    return max(pd.Timestamp(x) for x in (a, s) if x is not None and not pd.isna(x))


def build_snapshots(
    spec: SourceSpec,
    raw_dir: Path,
    dates: Sequence[date] | None = None,
    *,
    first: date | None = None,
) -> GenericSnapshots:
    """Snapshots on ``dates`` (default: the spec's grid from ``first``, or the first full
    month of data, to the data end)."""
    tables = load_tables(raw_dir)
    end = data_end(tables)
    if dates is None:
        start = (
            first
            or (
                pd.Timestamp(tables["subscriptions"].start_ts.min().execute()) + timedelta(days=31)
            ).date()
        )
        dates = as_of_grid(
            max(start, (end - pd.Timedelta(days=3 * 365)).date()), end.date(), spec.churn.grid
        )
    expr, signals = snapshots_expr(tables, spec, list(dates))
    frame = expr.execute().sort_values(["as_of", "client_id"], kind="stable").reset_index(drop=True)
    return GenericSnapshots(frame, tuple(signals), end)


def churn_events(spec: SourceSpec, raw_dir: Path) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The churn events the periods imply, and the end up to which labels are certain
    (``data_end - gap_days``: a later end may still be followed by a late renewal)."""
    tables = load_tables(raw_dir)
    end = data_end(tables)
    periods = active_periods(tables["subscriptions"], spec.churn.gap_days)
    events = period_churn_events(periods, spec.churn.gap_days, end.to_pydatetime()).execute()
    return events, end - pd.Timedelta(days=spec.churn.gap_days)
