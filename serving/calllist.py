"""The call list's pieces: ranking, money columns, sizing, and the API's record shape.

The list itself is built in one place, :func:`serving.weekly.build_week` (with every
exclusion and the holdout); this module holds what it ranks and sizes by.

Ranking by expected loss (probability of churning within the horizon × monthly fee ×
horizon months: RUB at stake over the 90-day horizon, ``expected_loss_rub``) puts a
likely-to-leave large client ahead of an equally likely small one — the money at stake,
which is what retention is for; ranking by expected profit (p × value × acceptance −
cost, :mod:`training.profit`) asks what a call is *worth*: it also charges the call and
the offer, so a small client with a modest risk drops out; ranking by probability alone
is the third choice (``serving.ranking``). Each row carries its top three reasons and
suggested actions, so the specialist knows what to say before dialling.

**Size.** A call with a negative expected profit loses money, so the list holds
min(capacity, profit-optimal count) clients, the profit-optimal count being the number
of clients whose expected profit is positive (where the profit curve of the
expected-profit ranking peaks). The week's sizing (:class:`serving.sizing.ListSizing`) says
which of the two bound the list. Ties are broken by the next key, then by client id
(smallest first), so the same snapshot always gives the same list. The keys and the
order come from :mod:`training.ranking`, which the test-block evaluation uses too: its
"recall at capacity" replays this list week by week.

**Centres.** In a network snapshot (``centre_id``) each centre gets its own list within
the capacity, ranked from 1 (:mod:`serving.centres`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from churn.config import RetentionConfig
from churn.errors import InputError
from serving.centres import centre_ids, client_names
from serving.sentences import json_value
from training.profit import ProfitParams, client_value, expected_profit
from training.ranking import RANK_KEYS, RANKINGS, Ranking, expected_loss_rub, rank_order

__all__ = ["RANK_KEYS", "RANKINGS", "Ranking", "rank_scores"]
TOP_REASONS = 3
# the call list's own columns, ahead of the reasons, actions and contact summary
LEADING_COLUMNS = (
    "rank",
    "client_id",
    "name",  # the client's name from the export; missing when it has none
    "centre_id",  # missing for a single centre's export
    "segment",
    "service_mode",
    "probability",
    "monthly_fee_rub",
    "expected_loss_rub",
    "expected_profit_rub",
    "risk_band",
    "rule_band",
    "contact_index",
)


def _check_choice(field: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise InputError(f"{field}: unknown value {value!r}; expected one of {', '.join(allowed)}")


def rank_scores(scores: pd.DataFrame, ranking: Ranking) -> pd.DataFrame:
    """Scores sorted best-to-call first; ties broken by probability, then client id."""
    _check_choice("ranking", ranking, RANKINGS)
    keys = [scores[k].to_numpy(dtype=float) for k in RANK_KEYS[ranking]]
    return scores.iloc[rank_order(keys, scores["client_id"].to_numpy())]


def with_money_columns(
    scores: pd.DataFrame,
    snapshot: pd.DataFrame,
    retention: RetentionConfig,
    horizon_days: int = 90,
) -> pd.DataFrame:
    """Scores plus segment, mode, fee, expected loss over the horizon (RUB: p × fee ×
    horizon months) and expected profit of a call (RUB). Segment and service mode are the
    centre's; a source without them (a subscription + activity log) leaves them missing."""
    fee = snapshot["monthly_fee_rub"].astype("float64")
    params = ProfitParams.from_config(retention)
    proba = scores["probability"].to_numpy(dtype=float)
    return scores.assign(
        centre_id=centre_ids(snapshot),
        name=client_names(snapshot),
        segment=_text_or_missing(snapshot, "segment"),
        service_mode=_text_or_missing(snapshot, "service_mode"),
        monthly_fee_rub=fee,
        expected_loss_rub=expected_loss_rub(proba, fee.to_numpy(), horizon_days),
        expected_profit_rub=expected_profit(proba, client_value(fee, params), params),
    )


def _text_or_missing(snapshot: pd.DataFrame, column: str) -> pd.Series:
    if column in snapshot.columns:
        return snapshot[column].astype("str")
    return pd.Series(None, index=snapshot.index, dtype="str")


def call_list_records(calls: pd.DataFrame) -> list[dict[str, Any]]:
    """Call-list rows with their reasons nested (the CSV keeps them flat)."""
    n = sum(
        1 for c in calls.columns if c.startswith("reason_") and not c.startswith("reason_group")
    )
    records = []
    for row in calls.to_dict("records"):
        reasons = [
            {
                "text": row[f"reason_{i}"],
                "feature": json_value(row[f"feature_{i}"]),
                "reason_group": json_value(row[f"reason_group_{i}"]),
                "action": json_value(row[f"action_{i}"]),
            }
            for i in range(1, n + 1)
            if isinstance(row[f"reason_{i}"], str)
        ]
        base = {k: json_value(row[k]) for k in (*LEADING_COLUMNS, "action")}
        records.append({**base, "reasons": reasons})
    return records
