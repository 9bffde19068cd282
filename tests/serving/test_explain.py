"""Explanations: additive SHAP on the shown probability's scale (calibrated log-odds),
drivers in words, the rule next to the model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit, logit

from churn.config import load_config
from churn.errors import InputError
from serving.explain import (
    contributions,
    explain_client,
    explain_frame,
    raw_contributions,
    shap_contributions,
)
from training.calibration import CalibrationError, PlattCalibrator
from training.model import ChurnModel


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def test_raw_contributions_plus_base_equal_raw_score(tiny_model, tiny_snapshot):
    contrib, base = raw_contributions(tiny_model, tiny_snapshot)
    assert contrib.shape == (len(tiny_snapshot), len(tiny_model.features))
    raw = tiny_model.predict_raw(tiny_snapshot)
    np.testing.assert_allclose(contrib.sum(axis=1) + base, raw, atol=1e-6)


def test_contributions_add_up_to_the_served_probability(tiny_model, tiny_snapshot):
    """Calibrated log-odds: sigmoid(base + sum) is the probability the service shows."""
    contrib, base = contributions(tiny_model, tiny_snapshot)
    served = tiny_model.predict_proba(tiny_snapshot)
    np.testing.assert_allclose(expit(base + contrib.sum(axis=1)), served, rtol=0, atol=1e-9)
    np.testing.assert_allclose(base + contrib.sum(axis=1), logit(served), atol=1e-7)


def test_calibrated_contributions_keep_the_raw_signs_and_scale_by_the_slope(
    tiny_model, tiny_snapshot
):
    raw, raw_base = raw_contributions(tiny_model, tiny_snapshot)
    cal, base = contributions(tiny_model, tiny_snapshot)
    slope, intercept = tiny_model.log_odds_map()
    assert slope > 0
    np.testing.assert_array_equal(np.sign(cal), np.sign(raw))
    np.testing.assert_allclose(cal, slope * raw, rtol=1e-12, atol=0)
    np.testing.assert_allclose(base, slope * raw_base + intercept, rtol=1e-12)
    assert not np.allclose(cal, raw), "the tiny model's Platt slope is not 1: a real change"


def test_random_clients_explained_on_the_served_scale(tiny_model, tiny_snapshot, cfg):
    rng = np.random.default_rng(7)
    for i in rng.choice(len(tiny_snapshot), size=25, replace=False):
        row = tiny_snapshot.iloc[[int(i)]]
        out = explain_client(tiny_model, row, top_k=3, reasons=cfg.reasons, rules=cfg.rules)
        total = out["base_value"] + sum(c["contribution"] for c in out["contributions"])
        served = float(tiny_model.predict_proba(row)[0])
        assert abs(expit(total) - served) < 1e-9
        assert abs(out["probability"] - served) < 1e-12
        assert out["log_odds"] == pytest.approx(total, abs=1e-12)
        assert out["raw_score"] == pytest.approx(float(tiny_model.predict_raw(row)[0]), abs=1e-9)


def test_a_reversed_calibrator_is_refused(tiny_model, tiny_snapshot):
    """A Platt slope <= 0 or a decreasing map would flip every raises/lowers."""
    from sklearn.isotonic import IsotonicRegression

    rows = tiny_snapshot.iloc[:50]
    raw = tiny_model.predict_raw(rows)
    decreasing = IsotonicRegression(increasing=False, out_of_bounds="clip").fit(
        raw, (raw < np.median(raw)).astype(float)
    )
    for calibrator, error, match in (
        (decreasing, CalibrationError, "decreases with the raw score"),
        (PlattCalibrator(slope=-0.5, intercept=0.0), CalibrationError, "must be > 0"),
    ):
        model = ChurnModel(
            tiny_model.booster, calibrator, tiny_model.features, tiny_model.categorical_levels
        )
        with pytest.raises(error, match=match):
            contributions(model, rows)
    with pytest.raises(InputError, match="not Platt"):  # no single slope: per-row scales only
        ChurnModel(tiny_model.booster, decreasing, [], {}).log_odds_map()


@pytest.mark.parametrize("method", ["isotonic", "venn_abers"])
def test_a_monotone_calibrator_is_explained_on_the_shown_probability(
    tiny_model, tiny_snapshot, cfg, method
):
    """Isotonic and Venn-Abers have no slope: each row's log-odds gap from the base is
    shared out in proportion to the raw contributions, so the bars still add up to the
    shown probability and keep the raw signs (zero only on a flat step of the map)."""
    from training.calibrators import fit_calibrator

    raw_all = tiny_model.predict_raw(tiny_snapshot)
    y = np.random.default_rng(3).random(len(raw_all)) < expit(raw_all)  # held-out-like labels
    calibrator = fit_calibrator(method, raw_all, y.astype(float))
    model = ChurnModel(
        tiny_model.booster, calibrator, tiny_model.features, tiny_model.categorical_levels
    )
    raw, raw_base = raw_contributions(model, tiny_snapshot)
    contrib, base = contributions(model, tiny_snapshot)
    served = model.predict_proba(tiny_snapshot)
    np.testing.assert_allclose(base + contrib.sum(axis=1), logit(served), atol=1e-7)
    moved = np.abs(contrib).sum(axis=1) > 0
    assert moved.mean() > 0.5, "most rows are off the base's step"
    np.testing.assert_array_equal(np.sign(contrib[moved]), np.sign(raw[moved]))
    assert (contrib[~moved] == 0).all()
    row = tiny_snapshot.iloc[[int(np.flatnonzero(moved)[0])]]
    out = explain_client(model, row, top_k=3, reasons=cfg.reasons, rules=cfg.rules)
    total = out["base_value"] + sum(c["contribution"] for c in out["contributions"])
    assert total == pytest.approx(logit(out["probability"]), abs=1e-7)
    assert out["probability"] == pytest.approx(float(served[row.index[0]]), abs=1e-12)


def test_fast_path_equals_shap_tree_explainer(tiny_model, tiny_snapshot):
    rows = tiny_snapshot.iloc[:50]
    fast, base = raw_contributions(tiny_model, rows)
    slow, slow_base = shap_contributions(tiny_model, rows)
    np.testing.assert_allclose(fast, slow, atol=1e-9)
    assert base[0] == pytest.approx(slow_base)


def test_explain_client_keys_and_additivity(tiny_model, tiny_snapshot, cfg):
    row = tiny_snapshot.iloc[[5]]
    out = explain_client(tiny_model, row, top_k=4, reasons=cfg.reasons, rules=cfg.rules)
    json.dumps(out)  # JSON-safe, NaN included
    assert {
        "client_id",
        "as_of",
        "probability",
        "base_value",
        "contributions",
        "drivers",
        "rule",
    } <= set(out)
    assert out["client_id"] == int(row["client_id"].iloc[0])
    assert out["as_of"] == "2025-06-01"
    total = out["base_value"] + sum(c["contribution"] for c in out["contributions"])
    assert total == pytest.approx(float(logit(tiny_model.predict_proba(row)[0])), abs=1e-6)
    assert out["probability"] == pytest.approx(float(tiny_model.predict_proba(row)[0]))
    sizes = [abs(c["contribution"]) for c in out["contributions"]]
    assert sizes == sorted(sizes, reverse=True)
    assert {c["feature"] for c in out["contributions"]} == set(tiny_model.features)


def test_drivers_raise_first_and_carry_group_and_action(tiny_model, tiny_snapshot, cfg):
    for i in range(20):
        out = explain_client(tiny_model, tiny_snapshot.iloc[[i]], top_k=6, reasons=cfg.reasons)
        drivers = out["drivers"]
        assert 0 < len(drivers) <= 6
        signs = [d["contribution"] > 0 for d in drivers]
        assert signs == sorted(signs, reverse=True)  # raising drivers come first
        for d in drivers:
            assert d["text"].endswith("raises risk" if d["contribution"] > 0 else "lowers risk")
            assert d["reason_group"]
            assert (d["action"] is not None) == (d["contribution"] > 0)


def test_the_label_driver_is_found(tiny_model, tiny_snapshot, cfg):
    """Zero logins drives the label; for such a client it should be a raising driver."""
    idle = tiny_snapshot[tiny_snapshot["logins_30d"] == 0]
    hits = 0
    for i in range(10):
        out = explain_client(tiny_model, idle.iloc[[i]], top_k=3, reasons=cfg.reasons)
        texts = [d["text"] for d in out["drivers"]]
        hits += "No logins in the last 30 days — raises risk" in texts
    assert hits >= 7


def test_rule_summary_matches_snapshot(tiny_model, tiny_snapshot, cfg):
    row = tiny_snapshot.iloc[[3]]
    rule = explain_client(tiny_model, row, top_k=1, reasons=cfg.reasons, rules=cfg.rules)["rule"]
    assert rule["contact_index"] == pytest.approx(row["contact_index"].iloc[0])
    assert rule["rule_band"] == row["rule_band"].iloc[0]
    names = [s["name"] for s in rule["sub_indicators"]]
    assert names == ["training_indicator", "webinar_indicator", "cabinet_indicator"]
    weights = cfg.rules.contact_index
    expected = weights.base + sum(c["weight"] for c in rule["conditions"])
    assert expected == pytest.approx(rule["contact_index"])


@pytest.mark.parametrize("top_k", [0, -1, 10_000])
def test_bad_top_k_is_named(tiny_model, tiny_snapshot, cfg, top_k):
    with pytest.raises(InputError, match="top_k"):
        explain_client(tiny_model, tiny_snapshot.iloc[[0]], top_k=top_k, reasons=cfg.reasons)


def test_explain_frame_agrees_with_explain_client(tiny_model, tiny_snapshot, cfg):
    frame = explain_frame(tiny_model, tiny_snapshot.iloc[:40], 3, reasons=cfg.reasons)
    assert len(frame) == 40
    for i in (0, 7, 21):
        single = explain_client(tiny_model, tiny_snapshot.iloc[[i]], top_k=3, reasons=cfg.reasons)
        raising = [d for d in single["drivers"] if d["contribution"] > 0]
        got = [frame[f"reason_{k}"].iloc[i] for k in (1, 2, 3)]
        assert got[: len(raising)] == [d["text"] for d in raising]
        assert (
            frame["action"].iloc[i] == " | ".join(dict.fromkeys(d["action"] for d in raising))
            or None
        )


def test_protective_signals_are_the_strongest_risk_lowering_ones(tiny_model, tiny_snapshot, cfg):
    for i in range(5):
        row = tiny_snapshot.iloc[[i]]
        ex = explain_client(tiny_model, row, top_k=3, reasons=cfg.reasons, rules=cfg.rules)
        lowering = sorted(c["contribution"] for c in ex["contributions"] if c["contribution"] < 0)
        got = [p["contribution"] for p in ex["protective"]]
        assert got == lowering[:3]
        assert all(p["direction"] == "lowers" and p["text"] for p in ex["protective"])


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_without_a_rule_the_explanation_says_why_in_its_language(
    tiny_model, tiny_snapshot, cfg, lang, rule_free
):
    from rule_free_helpers import SAID

    from serving.schemas import ExplainResponse

    row = tiny_snapshot.iloc[[3]]
    out = explain_client(tiny_model, row, top_k=3, reasons=cfg.reasons_in(lang), rules=cfg.rules)
    assert out["rule"] is None and out["rule_note"] == SAID[lang]
    assert out["drivers"]  # the model's part is whole
    shaped = {**out, "model_version": "1", "lang": lang, "evidence": None, "changes": None}
    assert ExplainResponse.model_validate(shaped).rule is None  # the documented schema


def test_with_the_rule_the_explanation_has_no_note(tiny_model, tiny_snapshot, cfg):
    out = explain_client(tiny_model, tiny_snapshot.iloc[[3]], top_k=1, reasons=cfg.reasons)
    assert out["rule"] is not None and out["rule_note"] is None
