"""The weekly call list: the clients to call first within the specialists' capacity.

Ranking by expected loss (probability × monthly fee) puts a likely-to-leave large client
ahead of an equally likely small one — the money at stake, which is what retention is
for; ranking by probability alone is the configurable alternative
(``serving.ranking``). Each row carries its top three reasons and suggested actions, so
the specialist knows what to say before dialling.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from churn.config import ReasonsConfig, RulesConfig
from churn.errors import InputError
from features.contract import SEGMENTS, SERVICE_MODES
from serving.explain import explain_frame
from serving.scoring import score_frame
from serving.sentences import json_value
from training.model import ChurnModel

Ranking = Literal["expected_loss", "probability"]
RANKINGS: tuple[str, ...] = ("expected_loss", "probability")
TOP_REASONS = 3
# the call list's own columns, ahead of the reasons, actions and contact summary
LEADING_COLUMNS = (
    "rank",
    "client_id",
    "segment",
    "service_mode",
    "probability",
    "monthly_fee_rub",
    "expected_loss_rub",
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
    keys = ["expected_loss_rub", "probability"] if ranking == "expected_loss" else ["probability"]
    return scores.sort_values([*keys, "client_id"], ascending=[False] * len(keys) + [True])


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
) -> pd.DataFrame:
    """The top ``capacity`` clients of one snapshot, ranked, with reasons and actions."""
    if capacity <= 0:
        raise InputError(f"capacity: must be a positive number of clients, got {capacity}")
    chosen = filter_clients(snapshot, segment=segment, service_mode=service_mode)
    chosen = chosen.reset_index(drop=True)
    scores = score_frame(model, chosen, rules)
    fee = chosen["monthly_fee_rub"].astype("float64")
    scores = scores.assign(
        segment=chosen["segment"].astype("str"),
        service_mode=chosen["service_mode"].astype("str"),
        monthly_fee_rub=fee,
        expected_loss_rub=scores["probability"] * fee.fillna(0.0),
    )
    top = rank_scores(scores, ranking).head(capacity)
    why = explain_frame(model, chosen.loc[top.index], TOP_REASONS, reasons=reasons)
    listed = top.join(why.drop(columns="client_id"))
    listed.insert(0, "rank", np.arange(1, len(listed) + 1))
    columns = [*LEADING_COLUMNS, *(c for c in why.columns if c != "client_id")]
    return listed[columns].reset_index(drop=True)


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
