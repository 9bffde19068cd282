"""Active periods and the churn they imply, the way subscription businesses define it.

A customer's **active period** is a run of subscriptions in which coverage never lapses for
more than ``gap_days``: a subscription starting at most ``gap_days`` after the latest end so
far (a late renewal) continues the period, a later one starts a new period (the customer
came back). A period **ends** at its latest ``end_ts``; an open-ended subscription keeps it
running. The end is only certain once ``gap_days`` more have been observed, so a period
whose end is not followed by ``gap_days`` of data before ``data_end`` counts as running.

The ends become churn events in the centre's shape (``client_id, ts, churn_type,
resumed_ts``): ``ts`` is the period end, ``resumed_ts`` the start of the customer's next
period (missing when none). ``training.labels`` then labels snapshots exactly as for the
centre's contract: positive when a period end falls in ``[as_of, as_of + horizon)``.

Everything is portable Ibis (window functions), so DuckDB and Spark run the same plan.
"""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import ibis.expr.types as ir

from features.windows import AS_OF_TYPE

OPEN_END = datetime(2200, 1, 1, tzinfo=UTC)  # stands for "no end" inside the window maths
ENDED = "termination"  # the period ended and the customer never came back (in the data)
RETURNED = "suspension"  # the period ended and a later period started


def _open_end() -> ir.TimestampScalar:
    return ibis.literal(OPEN_END, AS_OF_TYPE)


def active_periods(subscriptions: ir.Table, gap_days: int) -> ir.Table:
    """One row per (client_id, period_no): ``start_ts`` and ``end_ts`` (missing = running).

    Gaps and islands: order each customer's subscriptions by start, carry the latest end
    seen so far, and open a new period where a start comes more than ``gap_days`` after it.
    """
    if gap_days < 0:
        raise ValueError(f"gap_days must be >= 0, got {gap_days}")
    s = subscriptions.select(
        "client_id", "start_ts", end=subscriptions.end_ts.fill_null(_open_end())
    )
    order = [s.start_ts, s.end]
    before = ibis.window(group_by=s.client_id, order_by=order, rows=(None, -1))
    upto = ibis.window(group_by=s.client_id, order_by=order, rows=(None, 0))
    latest = s.end.max().over(before)
    s = s.mutate(
        new=ibis.ifelse(
            latest.isnull() | (s.start_ts > latest + ibis.interval(days=gap_days)), 1, 0
        ).cast("int64")
    )
    s = s.mutate(period_no=s.new.sum().over(upto))
    p = s.group_by(["client_id", "period_no"]).aggregate(start_ts=s.start_ts.min(), end=s.end.max())
    return p.select(
        "client_id",
        "period_no",
        "start_ts",
        end_ts=ibis.ifelse(p.end >= _open_end(), ibis.null(AS_OF_TYPE), p.end),
    )


def period_churn_events(periods: ir.Table, gap_days: int, data_end: datetime) -> ir.Table:
    """The churn events implied by the periods, in the centre's ``churn_events`` shape.

    Only ends that ``data_end`` confirms (``end_ts + gap_days < data_end``) are events; a
    customer who came back carries ``resumed_ts`` (the next period's start), so point-in-time
    code sees the customer gone between the two periods and active again after.
    """
    w = ibis.window(group_by=periods.client_id, order_by=periods.start_ts)
    p = periods.mutate(next_start=periods.start_ts.lead().over(w))
    confirmed = p.end_ts.notnull() & (
        p.end_ts + ibis.interval(days=gap_days) < ibis.literal(data_end, AS_OF_TYPE)
    )
    p = p.filter(confirmed)
    return p.select(
        "client_id",
        ts=p.end_ts,
        churn_type=ibis.ifelse(p.next_start.isnull(), ENDED, RETURNED),
        resumed_ts=p.next_start,
    )
