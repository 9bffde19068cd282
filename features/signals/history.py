"""Last-ever values (newest contact, training, diagnostics, paid period), shared by all dates.

"The newest X before as_of" needs the client's whole history, so a per-date plan would
re-read and re-aggregate every past contact for each of 12 or 24 dates. Instead, each
event goes to its *bucket*, the first as_of strictly after it, and is aggregated once per
(client, bucket); a running maximum over the buckets in as_of order then gives, for every
as_of, the newest event before it. One pass over the history serves all dates, and the
result only uses events with ``ts < as_of`` (an event in a later bucket is after as_of).
Only portable Ibis: CASE, GROUP BY, an equi-join and ``MAX() OVER (... ROWS UNBOUNDED
PRECEDING)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from features.signals.relations import NOT_A_CONTACT_OUTCOMES
from features.windows import AS_OF_TYPE, at

HISTORY_COLUMNS = (
    "_last_contact_ts",
    "_last_training_ts",
    "_last_check_ts",
    "competitor_present",
    "_last_paid_period_end",
    "_first_invoice_ts",
)


def bucket_of(ts: ir.TimestampValue, dates: Sequence[date]) -> ir.TimestampValue:
    """The first as_of strictly after ``ts``; missing after the last one (dates sorted)."""
    return ibis.cases(*((ts < at(d), at(d)) for d in dates), else_=ibis.null(AS_OF_TYPE))


def _per_bucket(
    events: ir.Table,
    ts: ir.TimestampValue,
    dates: Sequence[date],
    aggregate: Callable[[ir.Table], dict[str, ir.Value]],
) -> ir.Table:
    if len(dates) == 1:  # one bucket (the weekly snapshot): group by client alone, cheaper
        b = events.filter(ts < at(dates[0]))
        return b.group_by("client_id").aggregate(**aggregate(b)).mutate(as_of=at(dates[0]))
    b = events.mutate(as_of=bucket_of(ts, dates))
    b = b.filter(b.as_of.notnull())
    return b.group_by(["client_id", "as_of"]).aggregate(**aggregate(b))


def history_signals(tables: dict[str, ir.Table], as_of_dates: Sequence[date]) -> ir.Table:
    """(client_id, as_of) -> the newest contact / training / check / paid period before as_of.

    Also ``_first_invoice_ts`` (the client's first invoice: billed before as_of iff it is
    before as_of). One row per client of ``clients`` and date, active or not.
    """
    dates = sorted(set(as_of_dates))
    t = tables
    contacts = t["contacts"]
    spoke = contacts.kind.isin(["call", "visit"]) & (
        contacts.outcome.isnull() | ~contacts.outcome.isin(NOT_A_CONTACT_OUTCOMES)
    )
    contacts = contacts.filter(spoke)
    checks = t["competitor_checks"]
    paid = t["invoices"].filter(t["invoices"].paid_ts.notnull())
    buckets = (
        _per_bucket(contacts, contacts.ts, dates, lambda b: {"_last_contact_ts": b.ts.max()}),
        _per_bucket(
            t["trainings"], t["trainings"].ts, dates, lambda b: {"_last_training_ts": b.ts.max()}
        ),
        _per_bucket(checks, checks.ts, dates, lambda b: {"_last_check_ts": b.ts.max()}),
        _per_bucket(  # paid before as_of (and issued before it: a payment never precedes it)
            paid,
            ibis.greatest(paid.ts, paid.paid_ts),
            dates,
            lambda b: {"_last_paid_period_end": b.period_end.max()},
        ),
    )
    ids = t["clients"].select("client_id")
    grid = ibis.union(*(ids.mutate(as_of=at(d)) for d in dates), distinct=False)
    joined = grid
    for i, b in enumerate(buckets):
        joined = joined.left_join(b, ["client_id", "as_of"], rname=f"{{name}}_{i}")
    flat = joined.drop(*(f"{k}_{i}" for i in range(len(buckets)) for k in ("client_id", "as_of")))
    w = ibis.window(group_by="client_id", order_by="as_of", preceding=None, following=0)
    running = flat.select(
        "client_id",
        "as_of",
        **{c: flat[c].max().over(w) for c in flat.columns if c.startswith("_")},
    )
    return _with_status_and_billing(running, checks, t["invoices"])


def _with_status_and_billing(running: ir.Table, checks: ir.Table, invoices: ir.Table) -> ir.Table:
    """competitor_present of the newest check (joined back on its time), first invoice.

    Only the checks that are some row's newest are grouped (a semi-join first): grouping
    every check by (client, instant) cost more than the rest of the history at 1M clients.
    """
    newest = running.select("client_id", ts=running._last_check_ts).distinct()
    newest_checks = checks.semi_join(
        newest, [checks.client_id == newest.client_id, checks.ts == newest.ts]
    )
    status = newest_checks.group_by(["client_id", "ts"]).aggregate(
        competitor_present=newest_checks.competitor_present.max()  # same instant: any one
    )
    first = invoices.group_by("client_id").aggregate(_first_invoice_ts=invoices.ts.min())
    j = running.left_join(
        status,
        [running.client_id == status.client_id, running._last_check_ts == status.ts],
    ).left_join(first, running.client_id == first.client_id)
    return j.select(
        running.client_id,
        running.as_of,
        *(running[c] for c in HISTORY_COLUMNS if c in running.columns),
        status.competitor_present,
        first._first_invoice_ts,
    ).select("client_id", "as_of", *HISTORY_COLUMNS)
