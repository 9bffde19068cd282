"""Small frames in the shape ``churn weekly`` writes, for the store tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def scores_frame(n: int = 5, seed: int = 0, start_id: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    proba = np.sort(rng.uniform(0.01, 0.9, n))[::-1]
    return pd.DataFrame(
        {
            "client_id": np.arange(start_id, start_id + n, dtype="int64"),
            "probability": proba,
            "risk_band": np.where(proba > 0.5, "high", "low"),
            "contact_index": rng.uniform(0.2, 0.9, n),
            "rule_band": ["high"] * n,
            "rank": np.arange(1, n + 1),
            "drivers": [[{"feature": "logins_30d", "value": 3, "contribution": 0.1}]] * n,
            "evidence": ["full"] * (n - 1) + ["limited"],
            "expected_loss_rub": proba * 1000,
            "monthly_fee_rub": np.full(n, 8000.0),
            "segment": ["small_medium"] * n,
            "service_mode": ["remote"] * n,
        }
    )


def call_frame(scores: pd.DataFrame, selected: int = 3) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame(
        {
            "client_id": scores["client_id"].to_numpy(),
            "rank": np.arange(1, n + 1),
            "selected": [i < selected for i in range(n)],
            "reason": ["top_expected_loss" if i < selected else "over_capacity" for i in range(n)],
            "ranking": ["expected_loss"] * n,
        }
    )
