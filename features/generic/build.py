"""I/O edge of the generic source: canonical Parquet in, snapshots and churn events out.

Every reader takes an Ibis connection (``con``; default: a fresh in-memory DuckDB), so the
same expressions of :mod:`features.generic.signals` and :mod:`features.generic.periods` run
on Spark with ``ibis.pyspark.connect(session)`` (``features.spark`` does that for the
loop). What comes back is made engine-neutral here (:func:`utc_frame`): Spark hands
timestamps back in ns, and naive where its column type carries no zone.
``tests/features/test_generic_spark.py`` checks Spark gives the DuckDB rows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churn.errors import InputError
from features.generic.periods import active_periods, period_churn_events
from features.generic.signals import Signal, as_of_grid, snapshots_expr, undeclared_types
from features.generic.spec import SourceSpec
from features.violation import Violation

TABLES = ("subscriptions", "activities", "customers")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenericSnapshots:
    frame: pd.DataFrame  # client_id, [name], as_of, one column per signal
    signals: tuple[Signal, ...]
    data_end: pd.Timestamp  # the newest activity (:func:`data_end`)


def load_tables(raw_dir: Path, con: ibis.BaseBackend | None = None) -> dict[str, ibis.Table]:
    """The canonical tables of ``raw_dir`` (customers optional) read by ``con``'s backend
    (default: a fresh DuckDB)."""
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
    """How far the export sees: its newest activity (the newest subscription start when
    there is none). Subscriptions starting later are renewals booked ahead (the next
    month's term written at month end): they continue periods, but a snapshot dated after
    the activity log ends would read every customer as silent."""
    a = tables["activities"].ts.max().execute()
    if a is not None and not pd.isna(a):
        return utc(a)
    return utc(tables["subscriptions"].start_ts.max().execute())


def utc(value: object) -> pd.Timestamp:
    """An instant as a UTC timestamp: Spark returns naive UTC wall time (its session runs
    in UTC, ``features.spark.LOCAL_CONF``), DuckDB a zoned one."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def utc_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every timestamp column as ``datetime64[us, UTC]`` (the DuckDB path's dtype; naive
    values are UTC wall time, as :func:`utc` says), whichever engine computed the frame."""
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            if getattr(col.dtype, "tz", None) is None:
                col = col.dt.tz_localize("UTC")
            frame[name] = col.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return frame


def build_snapshots(
    spec: SourceSpec,
    raw_dir: Path,
    dates: Sequence[date] | None = None,
    *,
    first: date | None = None,
    con: ibis.BaseBackend | None = None,
) -> GenericSnapshots:
    """Snapshots on ``dates`` (default: the spec's grid from ``first``, or the first full
    month of data, to the data end), computed by ``con``'s backend (default DuckDB)."""
    tables = load_tables(raw_dir, con)
    end = data_end(tables)
    if dates is None:
        dates = _grid(spec, tables, end, first)
    report_undeclared(spec, tables)
    expr, signals = snapshots_expr(tables, spec, list(dates))
    frame = utc_frame(expr.execute())
    frame = frame.sort_values(["as_of", "client_id"], kind="stable").reset_index(drop=True)
    return GenericSnapshots(frame, tuple(signals), end)


def churn_events(
    spec: SourceSpec, raw_dir: Path, con: ibis.BaseBackend | None = None
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The churn events the periods imply, and the end up to which labels are certain
    (``data_end - gap_days``: a later end may still be followed by a late renewal),
    computed by ``con``'s backend (default DuckDB)."""
    tables = load_tables(raw_dir, con)
    end = data_end(tables)
    periods = active_periods(tables["subscriptions"], spec.churn.gap_days)
    events = utc_frame(
        period_churn_events(periods, spec.churn.gap_days, end.to_pydatetime()).execute()
    )
    return events, end - pd.Timedelta(days=spec.churn.gap_days)


def report_undeclared(spec: SourceSpec, tables: dict[str, ibis.Table]) -> dict[str, int]:
    """Log the activity types in the data the spec does not list (they are ignored)."""
    extra = undeclared_types(spec, tables["activities"])
    if extra:
        shown = ", ".join(f"{t!r} ({n:,} rows)" for t, n in sorted(extra.items()))
        log.warning(f"activity types not in the source spec's activity_types, ignored: {shown}")
    return extra


def default_dates(
    spec: SourceSpec, raw_dir: Path, con: ibis.BaseBackend | None = None
) -> list[date]:
    """The spec's grid (monthly or weekly) from a month after the first subscription start
    (at most three years back) to the data end: the training history."""
    tables = load_tables(raw_dir, con)
    return _grid(spec, tables, data_end(tables))


def _grid(
    spec: SourceSpec, tables: dict[str, ibis.Table], end: pd.Timestamp, first: date | None = None
) -> list[date]:
    """The spec's grid from ``first`` (default: a month after the first subscription start),
    at most three years back, to ``end``."""
    if first is None:
        first = (utc(tables["subscriptions"].start_ts.min().execute()) + timedelta(days=31)).date()
    return as_of_grid(
        max(first, (end - pd.Timedelta(days=3 * 365)).date()), end.date(), spec.churn.grid
    )


def data_span(raw_dir: Path, con: ibis.BaseBackend | None = None) -> tuple[date, date]:
    """(date of the first activity, date of the newest activity or subscription start)."""
    tables = load_tables(raw_dir, con)
    first = tables["activities"].ts.min().execute()
    if first is None or pd.isna(first):
        raise InputError(f"{raw_dir}: the activities table is empty")
    return utc(first).date(), data_end(tables).date()


def write_snapshots(
    spec: SourceSpec,
    raw_dir: Path,
    dates: Sequence[date],
    out: Path,
    con: ibis.BaseBackend | None = None,
) -> int:
    """Snapshots on ``dates`` into one Parquet file (written beside ``out`` and renamed),
    carrying the raw directory's digest like the centre's (:mod:`features.provenance`)."""
    from features.provenance import kv_metadata

    snaps = build_snapshots(spec, raw_dir, dates, con=con)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(snaps.frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.update({k.encode(): v.encode() for k, v in kv_metadata(raw_dir).items()})
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table.replace_schema_metadata(meta), tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return len(snaps.frame)


def raw_violations(raw_dir: Path, today: pd.Timestamp | None = None) -> list[Violation]:
    """The contract checks of the import (:func:`features.generic.load.check_tables`) on a
    raw directory of canonical tables: what ``churn weekly`` runs before scoring."""
    from features.generic.load import check_tables

    raw_dir = Path(raw_dir)
    frames: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        path = raw_dir / f"{name}.parquet"
        if path.is_file():
            frames[name] = pd.read_parquet(path)
        elif name != "customers":
            return [Violation(name, "", "missing_file", f"{path}: not found")]
    return check_tables(frames, today=today.to_pydatetime() if today is not None else None)
