"""Which days the data covers and which as_of dates a request means.

``data_span`` reads the export's first activity and newest event (from the Parquet
footers when it can); ``as_of_dates`` turns the ``churn features`` flags into dates. The
weekly run, batch scoring and training ask these questions too, so they live here, not in
the command.

Date rules (documented in ``features/README.md``):

* ``--as-of D`` alone: one snapshot as of D.
* ``--as-of D --to E --every month``: D, then the first of every following month up to E.
* ``--every month`` without ``--as-of``: the first of every month from the first month
  start whose activity windows are fully covered by data (the first activity event plus
  the longest login window, 90 days) up to the first of the month after the newest event
  (when that is still in the future, the last snapshot is the day after the newest event).
* nothing: one snapshot as of the day after the newest event (:func:`latest_as_of`).

An as_of after today, or on/before the first activity event (nothing known yet), is an
InputError. "Activity" tables record the client's use of the service; users, trainings,
invoices and contracts reach years back (registrations, certificates, billing) and do not
mark the start of the export.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from churn.errors import InputError
from churn.utc import as_utc
from features.contract import TABLES
from features.windows import month_starts

ACTIVITY_TABLES = (
    "logins",
    "service_requests",
    "webinars",
    "newsletter_events",
    "video_clicks",
    "kit_updates",
)


def _event_paths(raw_dir: Path) -> dict[str, Path]:
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise InputError(f"raw data directory not found: {raw_dir}")
    paths = {}
    for name, spec in TABLES.items():
        path = raw_dir / f"{name}.parquet"
        if not path.is_file():
            raise InputError(f"table {name}: file not found: {path}")
        if spec.is_event:
            paths[name] = path
    return paths


def data_span(raw_dir: Path) -> tuple[date, date]:
    """(date of the first activity event, date of the newest event in any event table).

    From the Parquet footers' ``ts`` statistics when every row group has them (exact
    min/max of the column, no data read: a weekly run asks this before any other work);
    a file without them is scanned by DuckDB."""
    los: list[date] = []
    his: list[date] = []
    scan: dict[str, Path] = {}
    for name, path in _event_paths(raw_dir).items():
        span = _footer_span(path)
        if span is None:
            scan[name] = path
        elif span != ():
            his.append(span[1])
            if name in ACTIVITY_TABLES:
                los.append(span[0])
    if scan:
        lo, hi = _scanned_span(scan)
        los += [lo] if lo is not None else []
        his += [hi] if hi is not None else []
    if not los or not his:
        raise InputError(f"{raw_dir}: the activity tables hold no events")
    return min(los), max(his)


def _footer_span(path: Path) -> tuple[date, date] | tuple[()] | None:
    """(min, max) date of ``ts`` from the row-group statistics; () for a file without rows;
    None when a row group lacks usable statistics (the caller scans the file)."""
    try:
        meta = pq.ParquetFile(path).metadata
    except Exception:  # noqa: BLE001 - unreadable here: let the scan say what is wrong
        return None
    lo = hi = None
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        if group.num_rows == 0:
            continue
        stats = next(
            (
                group.column(j).statistics
                for j in range(group.num_columns)
                if group.column(j).path_in_schema == "ts"
            ),
            None,
        )
        if stats is None or not stats.has_min_max:
            return None
        if not isinstance(stats.min, datetime) or not isinstance(stats.max, datetime):
            return None
        lo = stats.min if lo is None else min(lo, stats.min)
        hi = stats.max if hi is None else max(hi, stats.max)
    if lo is None or hi is None:
        return ()
    return _utc_date(lo), _utc_date(hi)


def _utc_date(ts: datetime) -> date:
    return as_utc(ts).date()


def _scanned_span(paths: dict[str, Path]) -> tuple[date | None, date | None]:
    union = " UNION ALL ".join(
        f"SELECT min(ts) FILTER (WHERE {name in ACTIVITY_TABLES}) AS lo, max(ts) AS hi "
        f"FROM read_parquet('{path.as_posix()}')"
        for name, path in paths.items()
    )
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        lo, hi = con.execute(f"SELECT min(lo)::DATE, max(hi)::DATE FROM ({union})").fetchone()
    finally:
        con.close()
    return lo, hi


def latest_as_of(raw_dir: Path) -> date:
    """The day after the newest event: the snapshot that sees all the data."""
    return data_span(raw_dir)[1] + timedelta(days=1)


def _parse(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{flag}: expected a date YYYY-MM-DD, got {value!r}") from None


def _next_month(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def as_of_dates(
    raw_dir: Path,
    as_of: str | None,
    to: str | None,
    every: str | None,
    today: date,
    warmup_days: int = 90,
    span: tuple[date, date] | None = None,
) -> list[date]:
    """The as_of dates the flags ask for (see the module docstring), checked. ``span``:
    (first activity, newest event) when already known (another source's
    :func:`features.source.data_span`), else read from the centre's tables."""
    if every is not None and every != "month":
        raise InputError(f"--every: only 'month' is supported, got {every!r}")
    start = _parse(as_of, "--as-of") if as_of else None
    end = _parse(to, "--to") if to else None
    if end is not None and every is None:
        raise InputError("--to: needs --every month")
    first, newest = span or data_span(raw_dir)
    if every is None:
        dates = [start or newest + timedelta(days=1)]
    else:
        stop = end or _next_month(newest)
        if end is None and stop > today:  # data up to now: the last snapshot sees all of it
            stop = newest + timedelta(days=1)
        begin = start or _next_month(first + timedelta(days=warmup_days - 1))
        if stop < begin:
            raise InputError(f"--to: {stop} is before --as-of {begin}")
        dates = [begin, *month_starts(begin + timedelta(days=1), stop)]
        if end is None and dates[-1] < stop:
            dates.append(stop)
    for d, flag in ((min(dates), "--as-of"), (max(dates), "--to" if to else "--as-of")):
        if d > today:
            raise InputError(f"{flag}: {d} is in the future (today is {today})")
        if d <= first:
            raise InputError(
                f"{flag}: {d} is not after the first activity event ({first}): nothing known yet"
            )
    return dates
