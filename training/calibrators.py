"""Fitting the calibrators of :mod:`training.portable`: raw booster score -> probability.

The fitted maps themselves (:class:`~training.portable.PlattCalibrator`,
:class:`~training.portable.IsotonicCalibrator`, :class:`~training.portable.VennAbersCalibrator`)
live in :mod:`training.portable`, the part of a registered model that travels with it;
each serialises to ``{"method": ..., "params": {...}}`` (:func:`to_dict` /
:func:`from_dict`). Here is how each is fitted on held-out raw scores and labels, by
method name (:func:`fit_calibrator`); ``training.calibration.method`` picks the served one
and the rolling backtest (:mod:`training.backtest`) compares them all.

* ``platt``: ``sigmoid(slope * raw + intercept)``; two parameters, strictly monotone.
* ``isotonic``: the pool-adjacent-violators fit of the observed rate on the raw score,
  linearly interpolated between block centres (sklearn's ``IsotonicRegression``); flat
  between steps, so clients can tie.
* ``venn_abers``: the inductive Venn-Abers predictor (Vovk & Petej 2014): for a score
  ``s`` two isotonic fits, with ``(s, 0)`` and with ``(s, 1)`` added to the calibration
  rows, give ``p0 <= p1``; the served probability is ``p1 / (1 - p0 + p1)`` (the
  log-loss merge). ``p0``/``p1`` only change where ``s`` crosses a calibration score, so
  they are computed once at ``grid`` quantiles of the calibration scores and interpolated.

All three are non-decreasing in the raw score, which is what explanations need: a
feature that raises the booster's score never lowers the probability
(:meth:`training.model.ChurnModel.explain_scale`). :func:`intercept_update` shifts any of
them in log-odds to a target churn rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, logit

from churn.errors import InputError
from training.portable import (
    CALIBRATORS,
    EPS,
    IsotonicCalibrator,
    PlattCalibrator,
    VennAbersCalibrator,
    calibration_from_json,
    calibration_to_json,
)

__all__ = [
    "CALIBRATORS",
    "IsotonicCalibrator",
    "PlattCalibrator",
    "VennAbersCalibrator",
    "fit_calibrator",
    "from_dict",
    "intercept_update",
    "to_dict",
]

VENN_ABERS_GRID = 200  # score quantiles at which p0 / p1 are computed


def _check(raw: np.ndarray, y: np.ndarray, block: str) -> tuple[np.ndarray, np.ndarray]:
    raw = np.asarray(raw, dtype=float).reshape(-1)
    y = np.asarray(y, dtype=float).reshape(-1)
    if len(raw) != len(y):
        raise InputError(f"{block}: {len(raw)} scores for {len(y)} labels")
    if len(np.unique(y)) < 2:
        raise InputError(f"{block}: labels have one class only; cannot calibrate")
    if not np.isfinite(raw).all():
        raise InputError(f"{block}: raw scores must be finite to calibrate")
    return raw, y


def fit_isotonic(raw: np.ndarray, y: np.ndarray, block: str = "validation") -> IsotonicCalibrator:
    """Isotonic regression of the label on the raw score (interpolated between steps)."""
    from sklearn.isotonic import IsotonicRegression

    raw, y = _check(raw, y, block)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(raw, y)
    return IsotonicCalibrator(
        tuple(float(v) for v in iso.X_thresholds_), tuple(float(v) for v in iso.y_thresholds_)
    )


def fit_venn_abers(
    raw: np.ndarray, y: np.ndarray, block: str = "validation", grid: int = VENN_ABERS_GRID
) -> VennAbersCalibrator:
    """The inductive Venn-Abers predictor of the calibration rows ``(raw, y)``."""
    from scipy.optimize import isotonic_regression  # no per-call validation: 400 fits

    raw, y = _check(raw, y, block)
    # equal scores share one fitted value (as sklearn's IsotonicRegression pools ties):
    # the fit runs on distinct scores weighted by their counts
    xs, group = np.unique(raw, return_inverse=True)
    counts = np.bincount(group).astype(float)
    sums = np.bincount(group, y)
    points = np.unique(np.quantile(raw, np.linspace(0.0, 1.0, grid)))
    p0 = np.empty(len(points))
    p1 = np.empty(len(points))
    for i, s in enumerate(points):
        k = int(np.searchsorted(xs, s))
        tie = k < len(xs) and xs[k] == s
        for label, out in ((0.0, p0), (1.0, p1)):
            if tie:  # the test point joins the calibration rows with its score
                c, t = counts.copy(), sums.copy()
                c[k] += 1.0
                t[k] += label
            else:
                c, t = np.insert(counts, k, 1.0), np.insert(sums, k, label)
            out[i] = isotonic_regression(t / c, weights=c).x[k]
    merged = np.maximum.accumulate(p1 / (1.0 - p0 + p1))  # monotone; guards rounding
    return VennAbersCalibrator(
        tuple(float(v) for v in points),
        tuple(float(v) for v in merged),
        0.0,
        tuple(float(v) for v in p0),
        tuple(float(v) for v in p1),
    )


def _fit_platt(raw: np.ndarray, y: np.ndarray, block: str = "validation") -> PlattCalibrator:
    from training.calibration import fit_platt

    return fit_platt(raw, y, block=block)


FITTERS = {"platt": _fit_platt, "isotonic": fit_isotonic, "venn_abers": fit_venn_abers}


def fit_calibrator(method: str, raw: np.ndarray, y: np.ndarray, block: str = "validation") -> Any:
    """Fit the calibrator ``method`` on held-out raw scores and labels."""
    if method not in FITTERS:
        raise InputError(
            f"training.calibration.method: unknown calibrator {method!r}; "
            f"known: {', '.join(sorted(FITTERS))}"
        )
    return FITTERS[method](raw, y, block=block)


def to_dict(calibrator: Any) -> dict[str, Any]:
    """``{"method": ..., "params": {...}}`` (JSON-ready; what the model's metadata keeps)."""
    return calibration_to_json(calibrator)


def from_dict(spec: dict[str, Any]) -> Any:
    """The calibrator a :func:`to_dict` value describes."""
    return calibration_from_json(spec)


def intercept_update(calibrator: Any, raw: np.ndarray, y: np.ndarray) -> Any:
    """The calibrator shifted in log-odds so that its mean prediction over ``raw`` equals
    ``mean(y)`` (labels, or a target churn rate repeated): one parameter, the ranking and
    the shape untouched. Solved by Newton steps on the mean (monotone in the shift)."""
    raw = np.asarray(raw, dtype=float)
    target = float(np.mean(y))
    if not 0.0 < target < 1.0:
        return calibrator
    base = logit(np.clip(np.asarray(calibrator.predict(raw), dtype=float), EPS, 1.0 - EPS))
    delta = 0.0
    for _ in range(50):
        p = expit(base + delta)
        gap = p.mean() - target
        if abs(gap) < 1e-10:
            break
        delta -= gap / max(float((p * (1 - p)).mean()), 1e-12)
    return calibrator.shifted(delta)
