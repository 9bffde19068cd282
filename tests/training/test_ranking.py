"""training.ranking: the call list's keys and order, shared by the list and its evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.profit import ProfitParams
from training.ranking import (
    RANK_KEYS,
    expected_loss_rub,
    horizon_months,
    rank_order,
    ranking_keys,
)


def test_rank_order_is_pandas_sort_descending_nan_last_then_client_id() -> None:
    """The same order as sorting the call-list columns, for any row order, ties and NaN."""
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "client_id": rng.permutation(n) + 100,
            "expected_loss_rub": rng.integers(0, 5, n).astype(float),  # heavy ties
            "probability": np.round(rng.random(n), 1),
        }
    )
    frame.loc[rng.random(n) < 0.05, "expected_loss_rub"] = np.nan
    keys = RANK_KEYS["expected_loss"]
    want = frame.sort_values(
        [*keys, "client_id"], ascending=[False, False, True], kind="mergesort"
    )["client_id"].tolist()
    got = rank_order([frame[k].to_numpy() for k in keys], frame["client_id"].to_numpy())
    assert frame["client_id"].to_numpy()[got].tolist() == want


def test_expected_loss_is_rub_over_the_horizon() -> None:
    assert horizon_months(90) == pytest.approx(2.9569, abs=1e-4)
    loss = expected_loss_rub(np.array([0.1, 0.5]), np.array([10_000.0, np.nan]), 90)
    np.testing.assert_allclose(loss, [0.1 * 10_000 * 90 / (365.25 / 12), 0.0])


def test_ranking_keys_per_ranking() -> None:
    p, fee = np.array([0.3, 0.2]), np.array([5_000.0, 30_000.0])
    (only,) = ranking_keys("probability", p, None, horizon_days=90)
    assert only.tolist() == p.tolist()
    loss, then_p = ranking_keys("expected_loss", p, fee, horizon_days=90)
    assert loss[1] > loss[0] and then_p.tolist() == p.tolist()
    params = ProfitParams(alpha=6.0, beta=4.0, contact_cost=500.0, incentive=1000.0)
    profit, _ = ranking_keys("expected_profit", p, fee, horizon_days=90, profit=params)
    assert profit[1] > profit[0]
    with pytest.raises(ValueError, match="ranking"):
        ranking_keys("loudest", p, fee, horizon_days=90)
    with pytest.raises(ValueError, match="monthly fee"):
        ranking_keys("expected_loss", p, None, horizon_days=90)
