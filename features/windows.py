"""Time helpers shared by every signal: the as_of grid, windows and day differences.

Every signal is computed for a *table* of as_of dates at once, not one date at a time:
events are paired with the as_of dates they are visible from (``ts < as_of``, and
``ts >= as_of - lookback`` when the signal only looks back a fixed number of days). One
scan of each raw table then serves 1 or 24 snapshots. Everything here is plain Ibis
(comparisons, interval arithmetic, date differences), so the same expressions compile
for DuckDB and for Spark (run Spark with ``spark.sql.session.timeZone=UTC``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

KEYS = ("client_id", "as_of")
AS_OF_TYPE = dt.Timestamp(timezone="UTC", scale=6)


def utc_midnight(d: date) -> datetime:
    """The instant a snapshot is taken: midnight UTC at the start of ``d``."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def as_of_table(dates: Iterable[date]) -> ir.Table:
    """A one-column table of distinct as_of instants (UTC midnight), sorted."""
    values = sorted({utc_midnight(d) for d in dates})
    if not values:
        raise ValueError("as_of_table: no dates")
    arrow = pa.table({"as_of": pa.array(values, type=pa.timestamp("us", tz="UTC"))})
    return ibis.memtable(arrow)


def days_before(as_of: ir.TimestampValue, days: int) -> ir.TimestampValue:
    """The start of the window "the ``days`` days before as_of"."""
    return as_of - ibis.interval(days=days)


def in_last(ts: ir.TimestampValue, as_of: ir.TimestampValue, days: int) -> ir.BooleanValue:
    """``ts`` in [as_of - days, as_of): the window used by every "N days" signal."""
    return (ts >= days_before(as_of, days)) & (ts < as_of)


def days_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.IntegerValue:
    """Whole calendar days from ``earlier`` to ``later`` (UTC dates), as int64."""
    return later.date().delta(earlier.date(), unit="day").cast("int64")


def visible(
    events: ir.Table, dates: ir.Table, lookback_days: int | None = None, ts: str = "ts"
) -> ir.Table:
    """Pair each event with every as_of it is visible from: ts < as_of (within lookback).

    The result has the event's columns plus ``as_of``. With a lookback, an event joins at
    most ``lookback / spacing + 1`` dates, so 12 monthly snapshots cost far less than 12
    scans; without one (last-ever values), it joins every later date.
    """
    cond = [events[ts] < dates.as_of]
    if lookback_days is not None:
        cond.append(events[ts] >= days_before(dates.as_of, lookback_days))
    return events.join(dates, cond)


def attach(grid: ir.Table, signal: ir.Table) -> ir.Table:
    """Left-join a per-(client_id, as_of) signal table onto the grid of active clients."""
    joined = grid.left_join(signal, list(KEYS))
    return joined.drop(*(f"{k}_right" for k in KEYS))


def month_starts(first: date, last: date) -> list[date]:
    """First-of-month dates d with first <= d <= last."""
    y, m = first.year, first.month
    if first.day != 1:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    out: list[date] = []
    while (d := date(y, m, 1)) <= last:
        out.append(d)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
