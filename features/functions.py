"""Registered signal functions: what the spec's aggregates cannot say.

A spec entry with ``function: NAME`` is computed here. Each function says which columns
it can produce (``outputs``, checked at load), which declared signals it reads
(``needs``) and in which stage it runs:

* ``per_date``: raw tables and one as_of in, one row per client out (hidden helper
  columns start with ``_``; ``fills`` says what "no row" means for them);
* ``history``: per-bucket aggregates shared by all dates (``features.compile``: the newest
  value before each as_of) and ``history_static``: per-client values for all dates;
* ``derive``: columns computed from the joined row of one client (after the absent
  values are filled);
* ``stage="rules"``: the documented rule indicator, computed last from the snapshot.

Parameters come from the entries' ``params`` (merged per function).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from features.windows import AsOf, at, days_since, known

Tables = dict[str, ir.Table]


@dataclass(frozen=True)
class SignalFunction:
    outputs: tuple[str, ...]
    needs: tuple[str, ...] = ()
    per_date: Callable[[Tables, AsOf, Mapping[str, Any]], ir.Table] | None = None
    fills: Mapping[str, Any] = field(default_factory=dict)
    history: Callable[[Tables, Sequence[date]], list[ir.Table]] | None = None
    history_static: Callable[[Tables], ir.Table] | None = None
    derive: Callable[[ir.Table, AsOf, Mapping[str, Any]], dict[str, ir.Value]] | None = None
    stage: str = "derive"  # "derive" | "rules" | "key"
    params: tuple[str, ...] = ()  # settings the spec's entries must give (checked at load)
    doc: str = ""


def ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """num / den, missing (NaN) when den is 0."""
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), ibis.null("float64"))


# ---------------------------------------------------------------- training (seeds 002, 004)


def _certificates(t: Tables, as_of: AsOf, params: Mapping[str, Any]) -> ir.Table:
    """_valid_users (distinct registered users with a valid certificate), key_user_trained.

    A certificate is valid ``certificate_valid_days`` after the training, so it counts on
    as_of when the training is in [as_of - 730 days, as_of). Coverage is over users
    registered before as_of; a training of a user not (yet) registered is ignored here.
    """
    users_at = known(t["users"], as_of).select("client_id", "user_id", "role")
    valid = known(t["trainings"], as_of, int(params["certificate_valid_days"]))
    valid = valid.select("client_id", "user_id").distinct()
    j = valid.join(users_at, ["client_id", "user_id"])
    return j.group_by("client_id").aggregate(
        _valid_users=j.user_id.nunique().cast("int64"),
        key_user_trained=(j.role == "key_user").any().cast("int64"),
    )


def _training_derive(t: ir.Table, as_of: AsOf, params: Mapping[str, Any]) -> dict[str, ir.Value]:
    norm_by_category = params["norm"]
    norm = ibis.cases(
        *((t.category == cat, ibis.literal(float(v))) for cat, v in norm_by_category.items()),
        else_=ibis.null("float64"),
    )
    met = (t.n_users > 0) & (t._valid_users >= norm * t.n_users - 1e-9)
    return {
        "training_coverage": ratio(t._valid_users, t.n_users),
        "training_norm_met": met.fill_null(False).cast("int64"),
    }


# ---------------------------------------------------------------- money (seeds 000, 004)


def _invoices(t: Tables, as_of: AsOf, params: Mapping[str, Any]) -> ir.Table:
    """Debt as the accounts looked on as_of: an invoice counts once issued (ts < as_of)
    and is unpaid unless paid strictly before as_of; overdue = unpaid and due before it."""
    j = known(t["invoices"], as_of)
    j = j.filter(j.paid_ts.isnull() | (j.paid_ts >= at(as_of)))
    overdue = j.due_ts < at(as_of)
    return j.group_by("client_id").aggregate(
        open_debt_rub=j.amount_rub.sum().cast("float64"),
        overdue_debt_rub=j.amount_rub.sum(where=overdue).cast("float64"),
        _oldest_overdue_due=j.due_ts.min(where=overdue),
    )


def _debt_derive(t: ir.Table, as_of: AsOf, params: Mapping[str, Any]) -> dict[str, ir.Value]:
    return {"days_overdue": days_since(as_of, t._oldest_overdue_due).fill_null(0)}


def _paid_periods(t: Tables, dates: Sequence[date]) -> list[ir.Table]:
    """The newest paid period end, bucketed by when it was known (paid, and issued)."""
    from features.compile import per_bucket

    inv = t["invoices"]
    paid = inv.filter(inv.paid_ts.notnull())
    return [
        per_bucket(
            paid,
            ibis.greatest(paid.ts, paid.paid_ts),
            dates,
            lambda b: {"_last_paid_period_end": b.period_end.max()},
        )
    ]


def _first_invoice(t: Tables) -> ir.Table:
    inv = t["invoices"]
    return inv.group_by("client_id").aggregate(_first_invoice_ts=inv.ts.min())


def _renewal_derive(t: ir.Table, as_of: AsOf, params: Mapping[str, Any]) -> dict[str, ir.Value]:
    """Seed 004: the payment-renewal period has arrived."""
    paid_end = t._last_paid_period_end
    never_billed = t._first_invoice_ts.isnull() | (t._first_invoice_ts >= at(as_of))
    renewal = ibis.cases(
        (never_billed, 0),  # no payment period known yet
        (paid_end.isnull(), 1),  # billed, nothing paid: the payment is due now
        (paid_end <= at(as_of, -int(params["renewal_window_days"])), 1),
        else_=0,
    )
    return {"renewal_period_arrived": renewal.cast("int64")}


# ---------------------------------------------------------------- registry


def _rule_inputs() -> tuple[str, ...]:
    from features.rules import SNAPSHOT_INPUTS

    return SNAPSHOT_INPUTS


FUNCTIONS: dict[str, SignalFunction] = {
    "as_of": SignalFunction(outputs=("as_of",), stage="key", doc="the snapshot date"),
    "training": SignalFunction(
        outputs=("training_coverage", "training_norm_met", "key_user_trained"),
        needs=("n_users", "category"),
        per_date=_certificates,
        fills={"_valid_users": 0},
        derive=_training_derive,
        params=("certificate_valid_days", "norm"),
        doc="certificate coverage against the category norm, key user trained",
    ),
    "debt": SignalFunction(
        outputs=("open_debt_rub", "overdue_debt_rub", "days_overdue"),
        per_date=_invoices,
        derive=_debt_derive,
        doc="open and overdue debt, days since the oldest overdue due date",
    ),
    "renewal": SignalFunction(
        outputs=("renewal_period_arrived",),
        history=_paid_periods,
        history_static=_first_invoice,
        derive=_renewal_derive,
        params=("renewal_window_days",),
        doc="the payment-renewal period has arrived",
    ),
    "rule_indicator": SignalFunction(
        outputs=(
            "contact_index",
            "rule_band",
            "training_indicator",
            "webinar_indicator",
            "cabinet_indicator",
        ),
        needs=_rule_inputs(),
        stage="rules",
        doc="the documented rule indicator (features/rules.py, configs/rules.yaml)",
    ),
}
