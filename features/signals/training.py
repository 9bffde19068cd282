"""Training (seed 002, 004): certificate coverage against the category norm, key user, recency.

A certificate is valid ``certificate_valid_days`` (730) after the training, so it counts
on as_of when the training is in [as_of - 730 days, as_of). Coverage is over users
registered before as_of; a training of a user not (yet) registered is ignored there, but
still counts for "days since the last training" (the client was trained; that one is
history, ``features.signals.history``).
"""

from __future__ import annotations

import ibis.expr.types as ir

from churn.config import FeaturesConfig
from features.windows import AsOf, known


def certificate_signals(
    trainings: ir.Table, users_at: ir.Table, as_of: AsOf, cfg: FeaturesConfig
) -> ir.Table:
    """_valid_users (distinct registered users with a valid certificate), key_user_trained."""
    valid = known(trainings, as_of, cfg.certificate_valid_days)
    valid = valid.select("client_id", "user_id").distinct()
    j = valid.join(users_at, ["client_id", "user_id"])
    return j.group_by("client_id").aggregate(
        _valid_users=j.user_id.nunique().cast("int64"),
        key_user_trained=(j.role == "key_user").any().cast("int64"),
    )
