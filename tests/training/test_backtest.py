"""The rolling calibration backtest: point in time, the served recipe, honest metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.backtest import Goal, calibration_metrics, plan_blocks, run_backtest
from training.labels import data_end_of, label_snapshots, read_churn_events

HORIZON = 90


@pytest.fixture(scope="module")
def labelled(synthetic_files) -> pd.DataFrame:
    raw_dir, snapshots = synthetic_files
    frame = pd.read_parquet(snapshots)
    out = label_snapshots(frame, read_churn_events(raw_dir), HORIZON, data_end_of(raw_dir))
    return out.reset_index(drop=True)


def lgb_fit(calls: list):
    """The recipe: a small fixed LightGBM on three features; records what it was fitted on."""
    import lightgbm as lgb

    cols = ["logins_30d", "overdue_debt_rub", "contact_index"]

    def fit(rows: pd.DataFrame):
        calls.append(pd.to_datetime(rows["as_of"]).max())
        params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 0}
        booster = lgb.train(params, lgb.Dataset(rows[cols], rows["label"]), num_boost_round=40)
        return lambda frame: booster.predict(frame[cols], raw_score=True)

    return fit


def test_plan_uses_only_labels_known_before_each_block(labelled: pd.DataFrame) -> None:
    horizon = pd.Timedelta(days=HORIZON)
    plans = plan_blocks(labelled["as_of"], blocks=4, horizon_days=HORIZON, test_months=3)
    assert len(plans) == 4
    months = sorted(pd.to_datetime(labelled["as_of"]).dt.strftime("%Y-%m").unique())
    assert [p.scored[0][:7] for p, _ in plans] == [str(m) for m in months[-4:]]
    for plan, masks in plans:
        block = pd.Timestamp(plan.scored[0], tz="UTC")
        assert pd.Timestamp(plan.served_fit[-1], tz="UTC") + horizon <= block
        assert plan.calibration == plan.served_fit[-3:]  # monthly snapshots: newest 3 months
        assert pd.Timestamp(plan.twin_fit[-1], tz="UTC") + horizon < pd.Timestamp(
            plan.calibration[0], tz="UTC"
        )
        assert plan.recent == plan.served_fit[-1:]
        assert not (masks["twin"] & masks["calib"]).any()
        assert not (masks["served"] & masks["scored"]).any()


def test_backtest_replays_the_recipe_and_picks_the_lowest_pooled_log_loss(
    labelled: pd.DataFrame,
) -> None:
    calls: list = []
    out = run_backtest(
        labelled, lgb_fit(calls), blocks=4, horizon_days=HORIZON, test_months=3, rounds=50
    )
    assert len(out["blocks"]) == 4
    # served fit of one block is the twin of a later one: memoised, never refitted
    assert out["fits"] == len(calls) == len(set(calls)) <= 8
    names = {"platt", "isotonic", "venn_abers", "platt+recent", "isotonic+recent"}
    assert names <= set(out["pooled"])
    assert out["winner"] == min(out["pooled"], key=lambda n: out["pooled"][n]["log_loss"])
    assert out["ranking_by_pooled_log_loss"][0] == out["winner"]
    assert out["winner"] in out["why"]
    # the pooled figures are those of the blocks put together
    for name in names:
        rows = sum(b["calibrators"][name]["rows"] for b in out["blocks"])
        assert out["pooled"][name]["rows"] == rows
        mean = sum(
            b["calibrators"][name]["mean_predicted"] * b["calibrators"][name]["rows"]
            for b in out["blocks"]
        )
        assert out["pooled"][name]["mean_predicted"] == pytest.approx(mean / rows, rel=1e-9)
        assert set(out["pooled"][name]["goal"]) >= {"ece", "calibration_in_the_large", "met"}
    rates = [b["calibrators"]["platt"]["observed_rate"] for b in out["blocks"]]
    assert out["base_rate_by_block"] == pytest.approx(rates)


def test_calibration_metrics_tell_calibrated_from_shifted() -> None:
    rng = np.random.default_rng(0)
    n = 40000
    p = rng.beta(1, 12, n)
    y = (rng.random(n) < p).astype(float)
    cid = np.arange(n) // 4  # four rows a client: the bootstrap draws clients
    good = calibration_metrics(y, p, cid, rounds=100)
    bad = calibration_metrics(y, np.clip(p * 1.3, 0, 1), cid, rounds=100)
    assert good["clients"] == n // 4
    assert abs(good["calibration_in_the_large"] - 1) < 0.03
    assert bad["calibration_in_the_large"] == pytest.approx(1.3 * p.mean() / y.mean(), rel=1e-9)
    assert good["ece"] < 0.005 < bad["ece"]
    lo, hi = good["calibration_in_the_large_ci"]
    assert lo < good["calibration_in_the_large"] < hi
    for row in good["reliability"]:
        assert row["observed_ci_low"] <= row["observed_rate"] <= row["observed_ci_high"]
    assert Goal().check(good)["met"] and not Goal().check(bad)["met"]
    assert not Goal().check(bad)["calibration_in_the_large"]["met"]
