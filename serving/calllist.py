"""The weekly call list: the clients to call first within the specialists' capacity.

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
expected-profit ranking peaks). ``calls.attrs["sizing"]`` (see :func:`sizing_of`) says
which of the two bound the list. Ties are broken by the next key, then by client id
(smallest first), so the same snapshot always gives the same list. The keys and the
order come from :mod:`training.ranking`, which the test-block evaluation uses too: its
"recall at capacity" replays this list week by week.

**Centres.** In a network snapshot (``centre_id``) each centre gets its own list within
the capacity, ranked from 1 (:mod:`serving.centres`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn.config import ReasonsConfig, RetentionConfig, RulesConfig
from churn.errors import InputError
from features.contract import SEGMENTS, SERVICE_MODES
from serving.centres import centre_groups, centre_ids, client_names, has_centres
from serving.explain import explain_frame
from serving.scoring import score_frame
from serving.sentences import json_value
from serving.sizing import ListSizing
from training.model import ChurnModel
from training.profit import ProfitParams, client_value, expected_profit
from training.ranking import RANK_KEYS, RANKINGS, Ranking, expected_loss_rub, rank_order

__all__ = ["RANK_KEYS", "RANKINGS", "Ranking", "build_call_list", "rank_scores"]
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


def filter_clients(
    snapshot: pd.DataFrame, *, segment: str | None = None, service_mode: str | None = None
) -> pd.DataFrame:
    """Rows of the wanted segment / service mode (None keeps all)."""
    _check_choice("segment", segment, SEGMENTS)
    _check_choice("service_mode", service_mode, SERVICE_MODES)
    keep = np.ones(len(snapshot), dtype=bool)
    if segment is not None:
        keep &= (snapshot["segment"] == segment).to_numpy()
    if service_mode is not None:
        keep &= (snapshot["service_mode"] == service_mode).to_numpy()
    return snapshot[keep]


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
    horizon months) and expected profit of a call (RUB)."""
    fee = snapshot["monthly_fee_rub"].astype("float64")
    params = ProfitParams.from_config(retention)
    proba = scores["probability"].to_numpy(dtype=float)
    return scores.assign(
        centre_id=centre_ids(snapshot),
        name=client_names(snapshot),
        segment=snapshot["segment"].astype("str"),
        service_mode=snapshot["service_mode"].astype("str"),
        monthly_fee_rub=fee,
        expected_loss_rub=expected_loss_rub(proba, fee.to_numpy(), horizon_days),
        expected_profit_rub=expected_profit(proba, client_value(fee, params), params),
    )


def sizing_of(scores: pd.DataFrame, capacity: int) -> dict[str, Any]:
    """How long the list is and why: capacity or the profit-optimal count binds (the rule of
    :meth:`serving.sizing.ListSizing.of`, as the dict ``attrs["sizing"]`` holds)."""
    s = ListSizing.of(scores, capacity)
    keys = ("capacity", "profit_optimal_count", "listed", "capacity_binds")
    return {k: getattr(s, k) for k in keys}


def build_call_list(
    model: ChurnModel,
    snapshot: pd.DataFrame,
    *,
    capacity: int,
    reasons: ReasonsConfig,
    ranking: Ranking = "expected_loss",
    segment: str | None = None,
    service_mode: str | None = None,
    rules: RulesConfig | None = None,
    retention: RetentionConfig | None = None,
) -> pd.DataFrame:
    """The top min(capacity, profit-optimal count) clients of one snapshot, ranked, with
    reasons and actions; ``attrs["sizing"]`` says which bound the list.

    A network snapshot (``centre_id`` present, :mod:`serving.centres`) gives one list per
    centre, each of at most ``capacity`` of its own clients and ranked from 1, one after
    the other by centre; ``attrs["sizing"]["centres"]`` holds each centre's sizing.
    """
    if capacity <= 0:
        raise InputError(f"capacity: must be a positive number of clients, got {capacity}")
    chosen = filter_clients(snapshot, segment=segment, service_mode=service_mode)
    chosen = chosen.reset_index(drop=True)
    scores = with_money_columns(
        score_frame(model, chosen, rules),
        chosen,
        retention or RetentionConfig(),
        horizon_days=int(getattr(model, "horizon_days", 90)),
    )
    if not has_centres(chosen):
        out, sizing = _one_list(model, chosen, scores, capacity, reasons, ranking)
        out.attrs["sizing"] = {**sizing, "ranking": ranking}
        return out
    parts, per_centre = [], {}
    for centre, rows in centre_groups(chosen):
        part, per_centre[centre] = _one_list(
            model, chosen.loc[rows], scores.loc[rows], capacity, reasons, ranking
        )
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.attrs["sizing"] = {
        "capacity": int(capacity),
        "per_centre": True,
        "profit_optimal_count": sum(s["profit_optimal_count"] for s in per_centre.values()),
        "listed": sum(s["listed"] for s in per_centre.values()),
        "capacity_binds": any(s["capacity_binds"] for s in per_centre.values()),
        "centres": per_centre,
        "ranking": ranking,
    }
    return out


def _one_list(
    model: ChurnModel,
    chosen: pd.DataFrame,
    scores: pd.DataFrame,
    capacity: int,
    reasons: ReasonsConfig,
    ranking: Ranking,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One list (one centre, or the whole single-centre snapshot) and its sizing; SHAP
    runs for the listed clients only."""
    sizing = sizing_of(scores, capacity)
    top = rank_scores(scores, ranking).head(sizing["listed"])
    # an empty list still has every column (explaining zero rows is not possible)
    rows = top.index if len(top) else chosen.index[:1]
    why = explain_frame(model, chosen.loc[rows], TOP_REASONS, reasons=reasons).iloc[: len(top)]
    listed = top.join(why.drop(columns="client_id"))
    listed.insert(0, "rank", np.arange(1, len(listed) + 1))
    columns = [*LEADING_COLUMNS, *(c for c in why.columns if c != "client_id")]
    return listed[columns].reset_index(drop=True), sizing


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
