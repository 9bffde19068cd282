"""training.profit: EMPC / EMPB against the empulse package, the profit curve, the config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.config import Config, RetentionConfig
from training import evaluate as ev
from training.profit import (
    ProfitParams,
    client_value,
    emp_curve,
    empb,
    empc,
    empc_rub,
    expected_profit,
)

# empulse's documented examples (empc_score / empb_score docstrings) and the values
# empulse 0.13.1 returns for them (score, optimal_rate)
DOC_Y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
DOC_SCORE = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9])
DOC_CLV = np.array([100, 200, 150, 300, 120, 250, 180, 220], dtype=float)
EMPC_DOC = (23.875593418348124, 0.8743700763487141)
EMPB_DOC = (18.61875, 0.875)
EMPC_PARAMS = ProfitParams(alpha=6, beta=14, contact_cost=1, incentive=10)
EMPB_PARAMS = ProfitParams(alpha=6, beta=14, contact_cost=15, incentive_fraction=0.05)


def test_empc_reproduces_the_packages_published_example() -> None:
    got = empc(DOC_Y, DOC_SCORE, np.full(8, 200.0), EMPC_PARAMS)
    assert got == pytest.approx(EMPC_DOC, rel=1e-12)


def test_empb_reproduces_the_packages_published_example() -> None:
    assert empb(DOC_Y, DOC_SCORE, DOC_CLV, EMPB_PARAMS) == pytest.approx(EMPB_DOC, rel=1e-12)


def _random_block(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.08).astype(int)
    score = np.round(rng.random(n) + y * rng.random(n) * 0.6, 2)  # many ties
    return y, score, rng.lognormal(5.0, 0.6, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_empulse_on_random_tied_scores(seed: int) -> None:
    metrics = pytest.importorskip("empulse.metrics")
    y, score, clv = _random_block(seed)
    kw = {"alpha": 6, "beta": 14, "clv": 200, "incentive_cost": 10, "contact_cost": 1}
    want_c = (metrics.empc_score(y, score, **kw), metrics.empc_score.optimal_rate(y, score, **kw))
    assert empc(y, score, np.full(len(y), 200.0), EMPC_PARAMS) == pytest.approx(want_c, rel=1e-9)
    kw = {"alpha": 6, "beta": 14, "clv": clv, "incentive_fraction": 0.05, "contact_cost": 15}
    want_b = (metrics.empb_score(y, score, **kw), metrics.empb_score.optimal_rate(y, score, **kw))
    assert empb(y, score, clv, EMPB_PARAMS) == pytest.approx(want_b, rel=1e-9)


def test_empc_integrates_the_beta_not_its_mean() -> None:
    """EMPC >= EMPB for the same economics: E[max] >= max at E (Jensen), equal if gamma fixed."""
    y, score, clv = _random_block(4)
    params = ProfitParams(alpha=6, beta=4, contact_cost=15, incentive=20)
    assert empc(y, score, clv, params)[0] > empb(y, score, clv, params)[0]
    tight = ProfitParams(alpha=6e6, beta=4e6, contact_cost=15, incentive=20)
    assert empc(y, score, clv, tight)[0] == pytest.approx(empb(y, score, clv, tight)[0], rel=1e-4)


def test_a_better_ranking_earns_more_and_perfect_is_the_ceiling() -> None:
    y, score, clv = _random_block(5)
    params = ProfitParams(alpha=6, beta=4, contact_cost=15, incentive=20)
    noise = np.random.default_rng(9).random(len(y))
    perfect, good, random = (empc(y, s, clv, params)[0] for s in (y, score, noise))
    assert perfect > good > random >= 0.0
    # the perfect ranking calls exactly the churners worth calling at every gamma
    assert empc(y, y, clv, params)[1] == pytest.approx(y.mean(), abs=0.01)


def test_nobody_is_called_when_calls_cost_more_than_they_save() -> None:
    y, score, clv = _random_block(6)
    costly = ProfitParams(alpha=6, beta=4, contact_cost=1e6, incentive=0)
    assert empc(y, score, clv, costly) == (0.0, 0.0)
    assert empb(y, score, clv, costly) == (0.0, 0.0)


def test_profit_curve_is_at_tie_boundaries_and_order_free() -> None:
    y = np.array([1, 0, 1, 0, 0])
    score = np.array([0.9, 0.5, 0.5, 0.1, np.nan])
    params = ProfitParams(alpha=1, beta=1, contact_cost=1, incentive=2)  # mean acceptance 0.5
    curve = emp_curve(y, score, np.full(5, 100.0), params)
    assert curve["share"].tolist() == [0.0, 0.2, 0.6, 0.8, 1.0]  # the 0.5 pair is one cut
    # cut 1: 0.5 * (100 - 2) - 1 = 48; cut 2: + 0.5 * 98 - 1 - (2 + 1) = 93
    assert curve["profit_per_client"][:3] * 5 == pytest.approx([0.0, 48.0, 93.0])
    flipped = emp_curve(y[::-1], score[::-1], np.full(5, 100.0), params)
    assert np.allclose(flipped["profit_per_client"], curve["profit_per_client"])


def test_expected_profit_is_the_mean_of_the_call_outcomes() -> None:
    """p x mean acceptance x (value - incentive) - contact - (1 - p) x incentive."""
    params = ProfitParams(alpha=3, beta=2, contact_cost=500, incentive=1000)  # mean 0.6
    got = expected_profit(np.array([0.0, 0.1, 1.0]), np.array([100_000.0] * 3), params)
    assert got == pytest.approx([-1500.0, 0.1 * 0.6 * 99_000 - 500 - 900, 0.6 * 99_000 - 500])
    rng = np.random.default_rng(0)  # Monte Carlo of the per-call outcomes agrees
    p, v, n = 0.3, 50_000.0, 400_000
    churn = rng.random(n) < p
    accept = rng.random(n) < rng.beta(3, 2, n)
    outcome = np.where(churn, np.where(accept, v - 1000 - 500, -500), -1500)
    assert outcome.mean() == pytest.approx(expected_profit(p, v, params), rel=0.01)


def test_retention_config_beta_has_the_efficiency_mean_and_spread() -> None:
    cfg = RetentionConfig(efficiency=0.6, efficiency_sd=0.15)
    a, b = cfg.beta_parameters()
    assert a / (a + b) == pytest.approx(0.6)
    assert (a * b / ((a + b) ** 2 * (a + b + 1))) ** 0.5 == pytest.approx(0.15)
    with pytest.raises(ValueError, match="efficiency_sd"):
        RetentionConfig(efficiency=0.6, efficiency_sd=0.49)


def test_value_is_fee_times_months_and_unknown_fee_is_worth_nothing() -> None:
    params = ProfitParams.from_config(RetentionConfig(value_months=24))
    assert client_value(np.array([5000.0, np.nan]), params).tolist() == [120_000.0, 0.0]


def test_empc_rub_for_the_gate_reads_fees_from_rows() -> None:
    y, score, _ = _random_block(7, n=500)
    rows = pd.DataFrame({"monthly_fee_rub": np.full(len(y), 8000.0)})
    cfg = Config()
    got = empc_rub(y, score, rows, cfg)
    params = ProfitParams.from_config(cfg.retention)
    assert got == pytest.approx(empc(y, score, np.full(len(y), 8000.0 * 24), params)[0])
    assert empc_rub(y, score, rows.drop(columns="monthly_fee_rub"), cfg) is None
    assert empc_rub(y[:0], score[:0], rows.iloc[:0], cfg) is None


def test_evaluate_block_reports_profit_of_each_score_and_the_ceiling() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    hazard = rng.beta(1, 12, n)
    y = (rng.random(n) < hazard).astype(int)
    model = np.clip(hazard + rng.normal(0, 0.03, n), 0, 1)
    rule = np.round(hazard * 10) / 10  # coarse
    values = rng.lognormal(11.5, 0.5, n)
    params = ProfitParams.from_config(RetentionConfig())
    res = ev.evaluate_block(
        ev.HeldOutBlock(
            y,
            {"model": model, "rule": rule, "reference": hazard},
            as_of=np.repeat(pd.Timestamp("2025-01-01", tz="UTC").to_datetime64(), n),
            client_id=np.arange(n),
            policy=ev.CallPolicy(capacity_per_week=100, profit=params),
            bootstrap_rounds=20,
            seed=0,
            values=values,
        )
    ).to_dict()
    for name in ("model", "rule", "reference"):
        assert {"empc_rub", "empc_share", "empb_rub", "empb_share"} <= set(res[name])
        assert 0 < res[name]["empc_share"] < 1
    ceiling = res["profit"]["perfect"]["empc_rub"]
    assert ceiling > res["reference"]["empc_rub"] > res["rule"]["empc_rub"] > 0
    assert res["profit"]["acceptance_mean"] == pytest.approx(0.6)
