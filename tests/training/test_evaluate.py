"""training.evaluate: metrics, tie handling, call capacity, cluster bootstrap, report."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from training import evaluate as ev
from training.plots import write_plots_and_report


def _evaluate(y, scores, *, capacity_per_week, policy=None, **kw) -> dict:
    """evaluate_block on a HeldOutBlock (default policy: the capacity, ranked by
    probability), as the JSON the report holds."""
    policy = policy or ev.CallPolicy(capacity_per_week=capacity_per_week)
    return ev.evaluate_block(ev.HeldOutBlock(y, scores, policy=policy, **kw)).to_dict()


def _block(n_clients: int, n_dates: int, seed: int = 0) -> dict:
    """Monthly snapshots of clients with a known hazard; model noisy, rule coarse."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-01-01", periods=n_dates, freq="MS", tz="UTC")
    client = np.repeat(np.arange(n_clients), n_dates)
    as_of = np.tile(dates.to_numpy(), n_clients)
    latent = np.repeat(rng.normal(size=n_clients), n_dates) + rng.normal(0, 0.5, len(client))
    hazard = 1 / (1 + np.exp(-(latent * 1.5 - 2.5)))
    y = (rng.random(len(client)) < hazard).astype(int)
    model = 1 / (1 + np.exp(-(latent * 1.5 - 2.5 + rng.normal(0, 0.6, len(client)))))
    noisy = latent + rng.normal(0, 1.0, len(client))  # the rule sees a blurred signal
    rule = np.round(0.2 + 0.05 * np.clip(np.floor(noisy + 2), 0, 6), 2)  # 7 coarse levels
    return {
        "y": y,
        "as_of": as_of,
        "client_id": client,
        "hazard": hazard,
        "model": model,
        "rule": rule,
    }


def test_weighted_auc_matches_sklearn_with_ties_and_weights() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    s = rng.integers(0, 7, 500).astype(float)  # heavy ties
    assert ev.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    w = rng.integers(0, 4, 500)
    groups, n = ev._tie_groups(s)
    weighted = ev.weighted_auc(y.astype(float), groups, n, w.astype(float))
    repeated = roc_auc_score(np.repeat(y, w), np.repeat(s, w))
    assert weighted == pytest.approx(repeated, abs=1e-12)


def test_top_k_shares_the_boundary_tie_group_and_ignores_row_order() -> None:
    y = np.array([1, 1, 0, 0, 1])
    s = np.array([3.0, 2.0, 2.0, 2.0, 1.0])
    # one place left after the top score; the tie group of three holds one churner
    assert ev.expected_hits_top_k(y, s, 2) == pytest.approx(1 + 1 / 3)
    perm = np.random.default_rng(0).permutation(5)
    assert ev.expected_hits_top_k(y[perm], s[perm], 2) == pytest.approx(1 + 1 / 3)
    assert ev.expected_hits_top_k(y, s, 5) == pytest.approx(3)
    # a constant score has lift exactly 1 whatever the order
    y2 = np.r_[np.ones(30), np.zeros(70)]
    assert ev.lift_top(y2, np.zeros(100)) == pytest.approx(1.0)


def test_a_list_every_seven_days_from_the_newest_snapshot() -> None:
    monthly = pd.DatetimeIndex(pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"], utc=True))
    code, day = ev.list_days(monthly)
    assert np.bincount(code).tolist() == [5, 4, 4]  # 13 lists over 59 + 29.5 days
    assert day.tolist() == [0, 7, 14, 21, 28, 4, 11, 18, 25, 4, 11, 18, 25]
    weekly = pd.DatetimeIndex(pd.date_range("2025-01-06", periods=3, freq="7D", tz="UTC"))
    assert [c.tolist() for c in ev.list_days(weekly)] == [[0, 1, 2], [0, 0, 0]]


def _two_snapshots(recall_after_days: int) -> dict:
    """Snapshot A (6 clients) then B two weeks later (clients 2, 5, 7, 8); 4 weekly lists."""
    dates = pd.DatetimeIndex(pd.to_datetime(["2025-01-06", "2025-01-20"], utc=True))
    return ev.weekly_capacity_metrics(
        np.array([1, 0, 1, 0, 1, 0] + [0, 1, 0, 1]),
        [np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4] + [0.9, 0.8, 0.5, 0.4])],
        client_id=np.array([1, 2, 3, 4, 5, 6] + [2, 5, 7, 8]),
        date_code=np.array([0] * 6 + [1] * 4),
        dates=dates,
        capacity_per_week=2,
        churn_day=np.array([3, np.nan, 2, np.nan, 20, np.nan] + [np.nan, 6, np.nan, 30]),
        recall_after_days=recall_after_days,
    )


def test_weekly_capacity_replays_the_call_list_week_by_week() -> None:
    """Day 0: clients 1 (churner, caught) and 2. Day 7: 1 and 2 were just called, 3 left on
    day 2, so 4 and 5 (churner, caught). Day 14, from B: 2 and 5 called within 28 days,
    so 7 and 8 (caught). Day 21: everybody in B was called within 28 days: no calls."""
    m = _two_snapshots(recall_after_days=28)
    assert m["recall_at_capacity"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert m["precision_at_capacity"] == pytest.approx((2 / 4 + 1 / 2) / 2)
    assert m["recall_at_capacity_pooled"] == pytest.approx(3 / 5)
    assert m["precision_at_capacity_pooled"] == pytest.approx(3 / 6)
    assert m["recall_first_week"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert m["precision_first_week"] == pytest.approx(1 / 2)


def test_a_short_recall_gap_calls_the_same_clients_again() -> None:
    """Gap 5 days: day 7 takes 2 and 4; day 14 takes 2 and 5 (caught); day 21: 2 and 7."""
    m = _two_snapshots(recall_after_days=5)
    assert m["recall_at_capacity"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert m["precision_at_capacity_pooled"] == pytest.approx(2 / 8)


def test_weekly_capacity_ties_go_to_the_smaller_client_id_whatever_the_row_order() -> None:
    y = np.array([0, 1, 0, 1])
    score = np.zeros(4)
    one_date = pd.DatetimeIndex(pd.to_datetime(["2025-01-06"], utc=True))
    for perm in ([0, 1, 2, 3], [3, 2, 1, 0]):
        cid = np.array([10, 5, 7, 20])[perm]
        m = ev.weekly_capacity_metrics(
            y[perm], [score], client_id=cid, date_code=np.zeros(4, int), dates=one_date,
            capacity_per_week=1,
        )  # fmt: skip
        assert m["recall_first_week"] == pytest.approx(1 / 2)  # client 5, a churner


def test_capacity_uses_the_call_list_ranking_expected_loss_over_the_horizon() -> None:
    """By expected loss a likely-enough large client goes first; by probability it does not."""
    y = np.array([0, 1])
    p = np.array([0.30, 0.20])
    fee = np.array([5_000.0, 30_000.0])
    as_of = np.repeat(pd.Timestamp("2025-01-01", tz="UTC").to_datetime64(), 2)
    common = dict(as_of=as_of, client_id=np.array([1, 2]), capacity_per_week=1,
                  bootstrap_rounds=10, seed=0, monthly_fee=fee)  # fmt: skip
    by_loss = _evaluate(y, {"model": p}, policy=ev.CallPolicy(1, ranking="expected_loss"), **common)
    by_p = _evaluate(y, {"model": p}, policy=ev.CallPolicy(1, ranking="probability"), **common)
    assert by_loss["model"]["recall_first_week"] == 1.0
    assert by_loss["model"]["capacity_ranking"] == "expected_loss"
    assert by_p["model"]["recall_first_week"] == 0.0
    assert by_loss["block"]["ranking"] == "expected_loss"


def test_evaluate_block_compares_model_rule_and_reference() -> None:
    b = _block(3000, 3)
    valid = _block(3000, 3, seed=5)
    scores = {"model": b["model"], "rule": b["rule"], "reference": b["hazard"]}
    res = _evaluate(
        b["y"],
        scores,
        as_of=b["as_of"],
        client_id=b["client_id"],
        capacity_per_week=50,
        bootstrap_rounds=200,
        seed=3,
        calib_scores={"rule": (valid["rule"], valid["y"])},
    )
    keys = {"roc_auc", "pr_auc", "brier", "log_loss", "lift_top_decile", "recall_at_capacity"}
    for name in ("model", "rule", "reference"):
        assert keys | {"precision_at_capacity", "base_rate"} <= set(res[name])
        assert 0.5 < res[name]["roc_auc"] <= 1
        assert res[name]["brier"] is not None and res[name]["lift_top_decile"] > 1
    assert res["reference"]["roc_auc"] > res["model"]["roc_auc"] > res["rule"]["roc_auc"]
    assert res["rule"]["probability_source"] == "isotonic_on_validation"
    gain = res["auc_gain"]
    assert gain["ci_low"] > 0 and gain["ci_low"] < gain["mean"] < gain["ci_high"]
    assert gain["observed"] == pytest.approx(res["model"]["roc_auc"] - res["rule"]["roc_auc"])
    assert 0 < res["gap_closed"] < 1
    gap_ci = res["gap_closed_ci"]
    assert gap_ci["ci_low"] < res["gap_closed"] < gap_ci["ci_high"] and gap_ci["rounds"] == 200
    cal = res["calibration"]
    assert len(cal) == 10 and sum(r["count"] for r in cal) == len(b["y"])
    assert [r["mean_predicted"] for r in cal] == sorted(r["mean_predicted"] for r in cal)
    block = res["block"]
    assert block["calls_per_snapshot"] == pytest.approx(50 * block["weeks_per_snapshot"])
    assert res["model"]["capacity_ranking"] == "probability"  # the default policy
    assert res["rule"]["capacity_ranking"] == "probability"  # its validation probability
    ref_gap = res["reference_minus_model"]
    assert ref_gap["ci_low"] > 0  # the true hazard beats the noisy model beyond noise


def test_rule_brier_is_null_without_validation_calibration_and_reference_may_be_absent() -> None:
    b = _block(500, 2)
    res = _evaluate(
        b["y"],
        {"model": b["model"], "rule": b["rule"], "reference": None},
        as_of=b["as_of"],
        client_id=b["client_id"],
        capacity_per_week=10,
        bootstrap_rounds=20,
        seed=0,
    )
    assert res["rule"]["brier"] is None and res["rule"]["log_loss"] is None
    assert res["model"]["probability_source"] == "as_is"
    assert res["reference"] is None and res["gap_closed"] is None and res["gap_closed_ci"] is None


def test_bootstrap_resamples_clients_not_rows() -> None:
    """Copying every client five times adds no information: the CI must not shrink."""
    one = _block(800, 1, seed=2)
    dup = {k: np.repeat(v, 5) for k, v in one.items()}
    dup["as_of"] = np.tile(pd.date_range("2025-01-01", periods=5, freq="MS").to_numpy(), 800)

    def width(b: dict) -> float:
        boot = ev.bootstrap_auc(
            b["y"], {"m": b["model"], "r": b["rule"]}, b["client_id"], rounds=300, seed=1
        )
        diff = boot["m"] - boot["r"]
        return float(np.percentile(diff, 97.5) - np.percentile(diff, 2.5))

    ratio = width(dup) / width(one)
    assert 0.75 < ratio < 1.33  # a row bootstrap would give about 1 / sqrt(5) = 0.45


def test_bootstrap_is_seeded_and_fast() -> None:
    b = _block(20_000, 5, seed=4)  # 100k rows
    kwargs = dict(as_of=b["as_of"], client_id=b["client_id"], capacity_per_week=100)
    start = time.perf_counter()
    first = _evaluate(
        b["y"], {"model": b["model"], "rule": b["rule"]}, bootstrap_rounds=500, seed=9, **kwargs
    )
    elapsed = time.perf_counter() - start
    again = _evaluate(
        b["y"], {"model": b["model"], "rule": b["rule"]}, bootstrap_rounds=500, seed=9, **kwargs
    )
    assert first["auc_gain"] == again["auc_gain"]
    assert elapsed < 30, f"500 bootstrap rounds on 100k rows took {elapsed:.1f} s"


def _tiny_model(rows: int = 600):
    import lightgbm as lgb
    from sklearn.isotonic import IsotonicRegression

    from training.model import ChurnModel

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "logins_30d": rng.poisson(5, rows).astype(float),
            "segment": pd.Categorical(rng.choice(["small_medium", "large"], rows)),
        }
    )
    y = (rng.random(rows) < 1 / (1 + np.exp(X["logins_30d"] - 4))).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1},
        lgb.Dataset(X, y),
        num_boost_round=20,
    )
    raw = booster.predict(X, raw_score=True)
    calibrator = IsotonicRegression(out_of_bounds="clip").fit(raw, y)
    levels = {"segment": ["large", "small_medium"]}
    model = ChurnModel(booster, calibrator, ["logins_30d", "segment"], levels)
    frame = X.assign(segment=X["segment"].astype(str))
    return model, frame, y


def test_plots_and_self_contained_html(tmp_path: Path) -> None:
    model, frame, y = _tiny_model()
    p = model.predict_proba(frame)
    rule = np.round(0.2 + 0.1 * (frame["logins_30d"].to_numpy() < 3), 2)
    as_of = np.repeat(pd.Timestamp("2025-01-01", tz="UTC").to_datetime64(), len(y))
    scores = {"model": p, "rule": rule, "reference": None}
    res = ev.evaluate_block(
        ev.HeldOutBlock(
            y, scores, as_of=as_of, client_id=np.arange(len(y)),
            policy=ev.CallPolicy(capacity_per_week=10), bootstrap_rounds=50, seed=0,
        )
    )  # fmt: skip
    paths = write_plots_and_report(res, y, scores, tmp_path, model, frame)
    names = {p.name for p in paths}
    assert {"roc.png", "pr.png", "calibration.png", "lift.png", "shap_summary.png"} <= names
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5
    assert not re.search(r"(src|href)=[\"']?(http|//|[a-z_]+\.(png|css|js))", page)
    assert "ROC-AUC" in page and "AUC gain" in page and "decile" in page

    no_model = write_plots_and_report(res, y, scores, tmp_path / "b", None, None)
    assert "shap_summary.png" not in {p.name for p in no_model}
    assert (tmp_path / "b" / "report.html").exists()


def test_a_baseline_score_adds_its_gain_and_leaves_every_other_figure_unchanged() -> None:
    """The logistic baseline beside the model: its own metrics and the paired model-minus-
    baseline interval, drawn from the same client resamples (so the rule's and the
    reference's figures are those of an evaluation without it)."""
    b = _block(2000, 3)
    valid = _block(2000, 3, seed=5)
    blurred = 1 / (1 + np.exp(-(np.log(b["model"] / (1 - b["model"])) * 0.3)))
    common = dict(
        as_of=b["as_of"],
        client_id=b["client_id"],
        capacity_per_week=30,
        bootstrap_rounds=100,
        seed=3,
        calib_scores={"rule": (valid["rule"], valid["y"])},
    )
    scores = {"model": b["model"], "rule": b["rule"], "reference": b["hazard"]}
    without = _evaluate(b["y"], scores, **common)
    with_baseline = _evaluate(b["y"], {**scores, "baseline": blurred}, **common)
    for key in ("model", "rule", "reference", "auc_gain", "gap_closed_ci", "profit"):
        assert with_baseline[key] == without[key]
    assert without["baseline_gain"] is None
    gain = with_baseline["baseline_gain"]
    assert gain["observed"] == pytest.approx(
        with_baseline["model"]["roc_auc"] - with_baseline["baseline"]["roc_auc"]
    )
    assert gain["ci_low"] <= gain["observed"] <= gain["ci_high"] and gain["rounds"] == 100


def test_without_a_rule_the_report_and_plots_say_so_instead_of_empty_columns(
    tmp_path: Path,
) -> None:
    from dataclasses import replace

    b = _block(600, 2)
    blurred = np.clip(b["model"] * 0.5 + 0.1, 0, 1)
    block = ev.HeldOutBlock(
        b["y"],
        {"model": b["model"], "rule": None, "reference": None, "baseline": blurred},
        as_of=b["as_of"],
        client_id=b["client_id"],
        policy=ev.CallPolicy(capacity_per_week=10),
        bootstrap_rounds=20,
    )
    why = {"en": "no rule indicator: this source lacks its inputs", "ru": "нет индикатора"}
    result = replace(ev.evaluate_block(block), rule_indicator={"available": False, "reason": why})
    out = result.to_dict()
    assert out["rule"] is None and out["auc_gain"] is None and out["baseline_gain"] is not None
    assert out["rule_indicator"] == {"available": False, "reason": why}
    paths = write_plots_and_report(result, b["y"], block.scores, tmp_path, None, None)
    page = next(p for p in paths if p.name == "report.html").read_text(encoding="utf-8")
    assert f"not available ({why['en']})" in page
    text = re.sub(r"<img[^>]*>", "", page)
    assert "model - rule" not in text and "nan" not in text.lower()
    assert "baseline" in page


def test_mlflow_metrics_have_the_baseline_and_no_rule_metric_without_a_rule() -> None:
    from dataclasses import replace

    from training.registry import _flat_metrics

    b = _block(600, 2)
    scores = {"model": b["model"], "rule": b["rule"], "reference": None, "baseline": b["hazard"]}
    kw = dict(as_of=b["as_of"], client_id=b["client_id"], bootstrap_rounds=20)
    policy = ev.CallPolicy(capacity_per_week=10)
    centre = _flat_metrics(ev.evaluate_block(ev.HeldOutBlock(b["y"], scores, policy=policy, **kw)))
    assert "test_rule_roc_auc" in centre and "test_auc_gain_ci_low" in centre
    assert "test_baseline_roc_auc" in centre and "test_baseline_gain_ci_low" in centre
    bare_block = ev.HeldOutBlock(b["y"], {**scores, "rule": None}, policy=policy, **kw)
    bare_result = replace(ev.evaluate_block(bare_block), rule_indicator={"available": False})
    bare = _flat_metrics(bare_result)
    assert not [k for k in bare if k.startswith(("test_rule_", "test_auc_gain_"))]
    assert bare["test_baseline_roc_auc"] == centre["test_baseline_roc_auc"]
    assert bare["test_model_roc_auc"] == centre["test_model_roc_auc"]
