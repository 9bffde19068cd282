"""``churn features``: which as_of dates to build, then build them (I/O edge).

Date rules (documented in ``features/README.md``):

* ``--as-of D`` alone: one snapshot as of D.
* ``--as-of D --to E --every month``: D, then the first of every following month up to E.
* ``--every month`` without ``--as-of``: the first of every month after the month of the
  first event, up to the first of the month after the newest event (when that is still in
  the future, the last snapshot is the day after the newest event instead).
* nothing: one snapshot as of the day after the newest event (:func:`latest_as_of`).

An as_of after today, or on/before the first event (nothing known yet), is an InputError.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from churn.config import Config
from churn.errors import InputError
from features.contract import TABLES
from features.rules import DYNAMIC, HIGH, NO_THREAT
from features.snapshot import write_snapshots
from features.windows import month_starts


def _event_paths(raw_dir: Path) -> list[Path]:
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise InputError(f"raw data directory not found: {raw_dir}")
    paths = []
    for name, spec in TABLES.items():
        path = raw_dir / f"{name}.parquet"
        if not path.is_file():
            raise InputError(f"table {name}: file not found: {path}")
        if spec.is_event:
            paths.append(path)
    return paths


def data_span(raw_dir: Path) -> tuple[date, date]:
    """(date of the first event, date of the newest event) over every event table's ts."""
    union = " UNION ALL ".join(
        f"SELECT min(ts) AS lo, max(ts) AS hi FROM read_parquet('{p.as_posix()}')"
        for p in _event_paths(raw_dir)
    )
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        lo, hi = con.execute(f"SELECT min(lo)::DATE, max(hi)::DATE FROM ({union})").fetchone()
    finally:
        con.close()
    if lo is None or hi is None:
        raise InputError(f"{raw_dir}: the event tables hold no events")
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
    raw_dir: Path, as_of: str | None, to: str | None, every: str | None, today: date
) -> list[date]:
    """The as_of dates the flags ask for (see the module docstring), checked."""
    if every is not None and every != "month":
        raise InputError(f"--every: only 'month' is supported, got {every!r}")
    start = _parse(as_of, "--as-of") if as_of else None
    end = _parse(to, "--to") if to else None
    if end is not None and every is None:
        raise InputError("--to: needs --every month")
    first, newest = data_span(raw_dir)
    if every is None:
        dates = [start or newest + timedelta(days=1)]
    else:
        stop = end or _next_month(newest)
        if end is None and stop > today:  # data up to now: the last snapshot sees all of it
            stop = newest + timedelta(days=1)
        begin = start or _next_month(first)
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
                f"{flag}: {d} is not after the first event ({first}): nothing known yet"
            )
    return dates


def _band_summary(out: Path, latest: date) -> tuple[int, Mapping[str, int]]:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(
            f"SELECT rule_band, count(*) FROM read_parquet('{out.as_posix()}') "
            "WHERE as_of::DATE = ? GROUP BY 1",
            [latest],
        ).fetchall()
    finally:
        con.close()
    counts = {band: int(n) for band, n in rows}
    return sum(counts.values()), counts


def run_features(
    cfg: Config,
    *,
    raw: Path,
    out: Path,
    as_of: str | None,
    to: str | None,
    every: str | None,
    today: date | None = None,
) -> None:
    """``churn features``: build the snapshots the flags ask for into one Parquet file."""
    dates = as_of_dates(Path(raw), as_of, to, every, today or date.today())
    out = Path(out)
    n = write_snapshots(Path(raw), dates, cfg, out)
    span = f"{dates[0]}" if len(dates) == 1 else f"{dates[0]} .. {dates[-1]}"
    print(f"wrote {n} rows, {len(dates)} snapshot(s) as of {span} -> {out}")
    total, counts = _band_summary(out, dates[-1])
    bands = ", ".join(f"{b} {counts.get(b, 0)}" for b in (HIGH, DYNAMIC, NO_THREAT))
    print(f"latest snapshot {dates[-1]}: {total} active clients; rule_band: {bands}")
    if pq.ParquetFile(out).metadata.num_rows == 0:
        print("warning: no active clients on these dates")
