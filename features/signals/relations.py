"""Competitors (diagnostics, seed 004) and the specialists' contacts (seed 002)."""

from __future__ import annotations

import ibis.expr.types as ir

from churn.config import FeaturesConfig
from features.windows import AsOf, known

# A call nobody answered is not a contact; refused / callback / reached (or no outcome
# recorded, e.g. a visit) mean the specialist spoke to the client.
NOT_A_CONTACT_OUTCOMES = ("no_answer",)


def competitor_signals(checks: ir.Table, as_of: AsOf) -> ir.Table:
    """competitor_present at the newest check before as_of and that check's time."""
    j = known(checks, as_of)
    return j.group_by("client_id").aggregate(
        competitor_present=j.competitor_present.argmax(j.ts),
        _last_check_ts=j.ts.max(),
    )


def contact_signals(contacts: ir.Table, as_of: AsOf, cfg: FeaturesConfig) -> ir.Table:
    """key-user / decision-maker change flags in the window."""
    n = cfg.contact_change_window_days
    j = known(contacts, as_of, n)
    j = j.filter(j.kind.isin(["key_user_change", "decision_maker_change"]))
    return j.group_by("client_id").aggregate(
        **{
            f"key_user_changed_{n}d": (j.kind == "key_user_change").any().cast("int64"),
            f"decision_maker_changed_{n}d": (j.kind == "decision_maker_change").any().cast("int64"),
        }
    )


def last_contact(contacts: ir.Table, as_of: AsOf) -> ir.Table:
    """_last_contact_ts: the newest call or visit before as_of that reached the client."""
    j = known(contacts, as_of)
    spoke = j.kind.isin(["call", "visit"]) & (
        j.outcome.isnull() | ~j.outcome.isin(NOT_A_CONTACT_OUTCOMES)
    )
    j = j.filter(spoke)
    return j.group_by("client_id").aggregate(_last_contact_ts=j.ts.max())
