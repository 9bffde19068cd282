"""The uplift re-ranking of a week's pool and the comparison's verdict (pure parts)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from churn.config import RetentionConfig
from cli.closed_loop import uplift_rerank
from cli.ranking_compare import verdict
from serving.sizing import ListSizing, WeekSizing
from serving.weekly import CALL_COLUMNS, WeekFrames


class ByDebt:
    """A stand-in uplift model: the call helps debtors, the more the debt the more."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        assert "reason_group" in frame.columns
        return frame["overdue_debt_rub"].to_numpy(dtype=float) / 1e5


def pool(n: int) -> tuple[WeekFrames, pd.DataFrame]:
    rng = np.random.default_rng(0)
    ids = np.arange(100_001, 100_001 + n)
    calls = pd.DataFrame(
        {
            "client_id": ids,
            "centre_id": pd.Series([None] * n, dtype="str"),  # one centre
            "rank": np.arange(1, n + 1),
            "selected": True,
            "reason": "financial",
            "ranking": "probability",
            "expected_profit_rub": 1000.0,
            "assignment": "call",
            "propensity": 0.9,
            "risk_decile": rng.integers(1, 11, n),
            "probability": np.linspace(0.5, 0.1, n),
            "expected_loss_rub": 100.0,
        }
    )[list(CALL_COLUMNS)]
    snap = pd.DataFrame(
        {
            "client_id": ids[::-1],  # any order: merged by id
            "overdue_debt_rub": rng.permutation(np.arange(n) * 100.0),
            "logins_30d": 3.0,
            "competitor_present": "no",
        }
    )
    sizing = WeekSizing(ListSizing(n, n, n, False, eligible=n), "x", n, 0, 0.1)
    return WeekFrames(pd.DataFrame({"client_id": ids}), calls, sizing), snap


def test_rerank_keeps_the_capacity_with_most_uplift_and_draws_the_holdout() -> None:
    frames, snap = pool(150)
    out = uplift_rerank(ByDebt(), RetentionConfig())(frames, snap, date(2025, 4, 7), 50)
    calls = out.call_list
    assert list(calls.columns) == list(CALL_COLUMNS) and len(calls) == 50
    debt = snap.set_index("client_id")["overdue_debt_rub"]
    assert set(calls["client_id"]) == set(debt.nlargest(50).index)
    assert (calls["ranking"] == "uplift").all() and list(calls["rank"]) == list(range(1, 51))
    held = calls["assignment"] == "holdout"
    assert 2 <= held.sum() <= 9 and (calls["selected"] == ~held).all()
    assert out.sizing.total.listed == 50 and out.sizing.held_out == int(held.sum())
    assert out.sizing.ranking == "uplift" and out.sizing.sent == 50 - int(held.sum())
    again = uplift_rerank(ByDebt(), RetentionConfig())(frames, snap, date(2025, 4, 7), 50)
    pd.testing.assert_frame_equal(calls, again.call_list)  # seeded by the week


def test_verdict_says_whether_the_best_clears_the_others() -> None:
    r = {
        "a": {"true_retained_per_100_calls": 5.0, "true_ci": [4.0, 6.0]},
        "b": {"true_retained_per_100_calls": 3.0, "true_ci": [2.0, 3.5]},
        "c": {"true_retained_per_100_calls": 4.5, "true_ci": [3.8, 5.2]},
    }
    v = verdict(r)
    assert v["best_by_truth"] == "a" and v["order_by_truth"] == ["a", "c", "b"]
    assert v["best_interval_above"] == ["b"] and v["overlapping"] == ["c"]
