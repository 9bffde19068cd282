"""training.uplift: called vs held out, intervals that cover a known effect, Qini."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.errors import InputError
from training.uplift import qini, uplift_report


def _experiment(n: int, effect: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    decile = rng.integers(1, 11, n)
    base = 0.05 + 0.03 * decile  # riskier deciles churn more
    held = rng.random(n) < 0.1
    p = np.where(held, base, base - effect)
    return pd.DataFrame(
        {
            "client_id": np.arange(n),
            "rank": np.argsort(-decile, kind="stable").argsort() + 1,
            "risk_decile": decile,
            "reason_group": np.where(decile > 5, "financial_difficulties", "relocation"),
            "assignment": np.where(held, "holdout", "call"),
            "churned": (rng.random(n) < p).astype(int),
        }
    )


def test_interval_covers_the_true_effect_in_most_experiments() -> None:
    covered = 0
    for seed in range(40):
        r = uplift_report(_experiment(4000, 0.05, seed), rounds=400, seed=seed)["overall"]
        covered += r["ci_low"] <= 0.05 <= r["ci_high"]
    assert covered >= 34  # 95 % nominal; 34/40 is > 2 SD below


def test_report_parts() -> None:
    r = uplift_report(_experiment(5000, 0.05, 1), capacity=500, rounds=300)
    o = r["overall"]
    assert o["n_called"] + o["n_holdout"] == 5000
    assert o["difference"] == pytest.approx(o["churn_holdout"] - o["churn_called"])
    assert o["retained_per_100_calls"] == pytest.approx(100 * o["difference"])
    assert set(r["by_risk_decile"]) == {str(d) for d in range(1, 11)}
    assert set(r["by_reason_group"]) == {"financial_difficulties", "relocation"}
    assert r["uplift_at_capacity"]["listed"] == 500


def test_no_effect_gives_an_interval_around_zero_and_flat_qini() -> None:
    r = uplift_report(_experiment(20000, 0.0, 2), rounds=300)["overall"]
    assert r["ci_low"] < 0 < r["ci_high"]
    curve = qini(_experiment(20000, 0.0, 2))
    assert abs(curve["qini"].iloc[-1]) < 0.02 * 20000


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InputError, match="churned"):
        uplift_report(pd.DataFrame({"assignment": ["call"]}))
    with pytest.raises(InputError, match="assignment"):
        uplift_report(pd.DataFrame({"assignment": ["maybe"], "churned": [1]}))


def test_controls_sent_to_the_scheduler_are_counted() -> None:
    from training.uplift import controls_sent

    rows = pd.DataFrame(
        {
            "client_id": [1, 2, 3, 1, 2, 4, 3],
            "as_of": pd.to_datetime(["2025-06-02"] * 3 + ["2025-06-09"] * 3 + ["2025-12-01"]),
            "assignment": ["call", "call", "holdout", "holdout", "call", "holdout", "call"],
        }
    )
    # client 1: sent a week before it was held out; client 3: sent 6 months later (outside
    # the window); client 4: never sent
    assert controls_sent(rows, 90) == {"controls_sent_to_scheduler": 1, "window_days": 90}
    assert controls_sent(rows, 200)["controls_sent_to_scheduler"] == 2
    assert controls_sent(rows.drop(columns="as_of"), 90)["controls_sent_to_scheduler"] is None
