"""Time helpers shared by every signal: as_of literals, windows, day differences.

A snapshot as of D is taken at 00:00 UTC on D. Every signal filters its events with
*literal* bounds: ``ts < D`` (everything known), and ``ts >= D - N days`` for "the N days
before as_of". Literal bounds keep the per-event work to plain comparisons (no date
arithmetic per event), and let the engine skip whole Parquet row groups outside the
window (the raw tables are written roughly in time order). Several as_of dates are one
``UNION ALL`` of per-date plans (``features.snapshot.snapshots_expr``); last-ever values
("the newest contact before as_of") are shared by all dates (``features.compile.history_expr``).

Everything here is plain Ibis (comparisons, filters, date differences on aggregates), so
the same expressions compile for DuckDB and for Spark (run Spark with
``spark.sql.session.timeZone=UTC``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

AS_OF_TYPE = dt.Timestamp(timezone="UTC", scale=6)


def utc_midnight(d: date) -> datetime:
    """The instant a snapshot is taken: midnight UTC at the start of ``d``."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


AsOf = date | ir.TimestampScalar
"""A snapshot date: a Python date (00:00 UTC) or an Ibis timestamp scalar / parameter."""


def at(as_of: AsOf, days_before: int = 0) -> ir.TimestampScalar:
    """The instant ``days_before`` days before as_of (negative: after it).

    With a date this is ``literal(as_of) - INTERVAL n DAY``: a constant the engine folds
    once, so per-event work stays a plain comparison. The same expression with an Ibis
    parameter lets one compiled plan serve many dates (``features.snapshot``).
    """
    value = as_of if isinstance(as_of, ir.Value) else ibis.literal(utc_midnight(as_of), AS_OF_TYPE)
    return value - ibis.interval(days=days_before) if days_before else value


def known(events: ir.Table, as_of: AsOf, lookback_days: int | None = None) -> ir.Table:
    """Events known on as_of (``ts < as_of``), optionally only the last ``lookback_days``."""
    cond = events.ts < at(as_of)
    if lookback_days is not None:
        cond = cond & (events.ts >= at(as_of, lookback_days))
    return events.filter(cond)


def within(ts: ir.TimestampValue, as_of: AsOf, days: int) -> ir.BooleanValue:
    """``ts >= as_of - days``: for events already known on as_of, "in the last N days"."""
    return ts >= at(as_of, days)


def days_since(as_of: AsOf, ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole UTC calendar days from ``ts`` to as_of, as int64 (missing stays missing)."""
    return at(as_of).date().delta(ts.date(), unit="day").cast("int64")


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
