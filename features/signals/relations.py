"""The specialists' contacts (seed 002): key-user / decision-maker changes.

The newest contact and the newest competitor diagnostics are history
(``features.signals.history``)."""

from __future__ import annotations

import ibis.expr.types as ir

from churn.config import FeaturesConfig
from features.windows import AsOf, known

# A call nobody answered is not a contact; refused / callback / reached (or no outcome
# recorded, e.g. a visit) mean the specialist spoke to the client.
NOT_A_CONTACT_OUTCOMES = ("no_answer",)


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
