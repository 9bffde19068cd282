"""Debt and the payment-renewal period, as the accounts looked on as_of (seeds 000, 004).

An invoice counts once it is issued (ts < as_of). It is unpaid on as_of unless it was
paid strictly before as_of: a payment made on or after as_of had not happened yet.
Overdue = unpaid on as_of and due strictly before as_of.
"""

from __future__ import annotations

import ibis.expr.types as ir

from features.windows import AsOf, at, known


def invoice_signals(invoices: ir.Table, as_of: AsOf) -> ir.Table:
    """open/overdue debt and the oldest overdue due date, from invoices unpaid on as_of.

    (The newest paid period and the first invoice are history:
    ``features.signals.history``.)
    """
    j = known(invoices, as_of)
    j = j.filter(j.paid_ts.isnull() | (j.paid_ts >= at(as_of)))
    overdue = j.due_ts < at(as_of)
    return j.group_by("client_id").aggregate(
        open_debt_rub=j.amount_rub.sum().cast("float64"),
        overdue_debt_rub=j.amount_rub.sum(where=overdue).cast("float64"),
        _oldest_overdue_due=j.due_ts.min(where=overdue),
    )
