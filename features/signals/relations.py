"""Competitors (diagnostics, seed 004) and the specialists' contacts (seed 002)."""

from __future__ import annotations

import ibis.expr.types as ir

from churn.config import FeaturesConfig
from features.windows import days_before, visible

# A call nobody answered is not a contact; refused / callback / reached (or no outcome
# recorded, e.g. a visit) mean the specialist spoke to the client.
NOT_A_CONTACT_OUTCOMES = ("no_answer",)


def competitor_signals(checks: ir.Table, dates: ir.Table) -> ir.Table:
    """competitor_present at the newest check before as_of and that check's time."""
    j = visible(checks, dates)
    return j.group_by(["client_id", "as_of"]).aggregate(
        competitor_present=j.competitor_present.argmax(j.ts),
        _last_check_ts=j.ts.max(),
    )


def contact_signals(contacts: ir.Table, dates: ir.Table, cfg: FeaturesConfig) -> ir.Table:
    """key-user / decision-maker change flags in the window, newest call or visit."""
    n = cfg.contact_change_window_days
    j = visible(contacts, dates)
    recent = j.ts >= days_before(j.as_of, n)
    spoke = j.kind.isin(["call", "visit"]) & (
        j.outcome.isnull() | ~j.outcome.isin(NOT_A_CONTACT_OUTCOMES)
    )
    return j.group_by(["client_id", "as_of"]).aggregate(
        **{
            f"key_user_changed_{n}d": (recent & (j.kind == "key_user_change")).any().cast("int64"),
            f"decision_maker_changed_{n}d": (recent & (j.kind == "decision_maker_change"))
            .any()
            .cast("int64"),
        },
        _last_contact_ts=j.ts.max(where=spoke),
    )
