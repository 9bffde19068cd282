"""Calibrators: pure JSON-ready values, monotone, and each doing what its method says."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from churn.errors import InputError
from training.calibrators import (
    CALIBRATORS,
    VennAbersCalibrator,
    fit_calibrator,
    from_dict,
    intercept_update,
    to_dict,
)
from training.portable import ArtifactError


def held_out(n: int = 4000, seed: int = 0, shift: float = -1.0, scale: float = 0.7):
    """Raw scores whose true probability is sigmoid(scale * raw + shift)."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(-2.0, 1.3, n)
    p = expit(scale * raw + shift)
    return raw, (rng.random(n) < p).astype(float), p


@pytest.mark.parametrize("method", sorted(CALIBRATORS))
def test_json_round_trip_predicts_the_same(method: str) -> None:
    raw, y, _ = held_out()
    cal = fit_calibrator(method, raw, y)
    spec = json.loads(json.dumps(to_dict(cal)))  # through JSON text: plain numbers only
    assert spec["method"] == method and set(spec) == {"method", "params"}
    back = from_dict(spec)
    grid = np.linspace(-8, 4, 501)
    np.testing.assert_array_equal(back.predict(grid), cal.predict(grid))
    assert back == cal


@pytest.mark.parametrize("method", sorted(CALIBRATORS))
def test_monotone_and_close_to_the_truth(method: str) -> None:
    raw, y, _ = held_out()
    cal = fit_calibrator(method, raw, y)
    grid = np.linspace(-8, 4, 1001)
    p = cal.predict(grid)
    assert (np.diff(p) >= -1e-12).all(), "non-decreasing in the raw score"
    assert ((p > 0) & (p < 1)).all()
    test_raw, _, truth = held_out(seed=1)
    err = np.abs(cal.predict(test_raw) - truth)
    assert err.mean() < 0.02, f"{method}: mean |p - truth| {err.mean():.4f}"


def test_platt_recovers_scale_and_shift() -> None:
    raw, y, _ = held_out(n=20000, shift=-1.0, scale=0.7)
    cal = fit_calibrator("platt", raw, y)
    assert cal.slope == pytest.approx(0.7, abs=0.06)
    assert cal.intercept == pytest.approx(-1.0, abs=0.12)


def test_venn_abers_merges_the_two_isotonic_fits() -> None:
    """At a grid score s, p0 / p1 are the isotonic fits with (s, 0) / (s, 1) added (checked
    against sklearn's IsotonicRegression on the augmented rows), p0 <= p1, and the served
    probability is p1 / (1 - p0 + p1)."""
    raw, y, _ = held_out(n=1500, seed=4)
    cal = fit_calibrator("venn_abers", raw, y)
    assert isinstance(cal, VennAbersCalibrator) and cal.method == "venn_abers"
    p0, p1, x = np.array(cal.lower), np.array(cal.upper), np.array(cal.x)
    assert (p0 <= p1 + 1e-12).all()
    np.testing.assert_allclose(cal.y, np.maximum.accumulate(p1 / (1 - p0 + p1)), atol=1e-12)
    for i in (0, len(x) // 3, len(x) - 1):
        s = x[i]
        for label, want in ((0.0, p0[i]), (1.0, p1[i])):
            iso = IsotonicRegression(out_of_bounds="clip").fit(
                np.append(raw, s), np.append(y, label)
            )
            assert iso.predict([s])[0] == pytest.approx(want, abs=1e-9)


def test_intercept_update_matches_the_recent_rate_and_keeps_the_order() -> None:
    raw, y, _ = held_out(n=6000)
    recent_raw, recent_y, _ = held_out(n=3000, seed=9, shift=-0.6)  # the base rate moved up
    for method in CALIBRATORS:
        cal = fit_calibrator(method, raw, y)
        new = intercept_update(cal, recent_raw, recent_y)
        assert new.predict(recent_raw).mean() == pytest.approx(recent_y.mean(), abs=1e-8)
        grid = np.linspace(-6, 3, 301)
        before, after = cal.predict(grid), new.predict(grid)
        inner = (before > 1e-4) & (before < 1 - 1e-4)  # away from the EPS clip
        shift = logit(after[inner]) - logit(before[inner])
        assert shift.min() > 0 and np.ptp(shift) < 1e-6, "one log-odds shift, everywhere"
        assert from_dict(json.loads(json.dumps(to_dict(new)))) == new


def test_bad_input_is_refused_clearly() -> None:
    raw, y, _ = held_out(n=100)
    with pytest.raises(InputError, match="unknown calibrator 'beta'"):
        fit_calibrator("beta", raw, y)
    with pytest.raises(InputError, match="one class only"):
        fit_calibrator("isotonic", raw, np.zeros_like(y), block="test")
    with pytest.raises(ArtifactError, match="unknown here"):
        from_dict({"method": "nope", "params": {}})
