"""Probability calibration of the booster's raw score, fitted on the validation block only.

Platt scaling (a logistic regression on the raw log-odds) rather than isotonic regression:

* it is strictly monotone, so calibration never creates ties and never changes the
  ranking: the call list and the ROC-AUC are those of the booster (isotonic regression
  is a step function and would merge clients into plateaus of equal probability);
* it has two parameters, so a validation block with a few hundred positives is enough;
  isotonic regression overfits such a block and its steps move with every retrain;
* boosted trees trained on log-loss are usually off by a shift and a scale in log-odds
  (early stopping, class balance, the train/valid time shift), which is what Platt fixes.

Risk thresholds are chosen on the same validation block, as shares of clients to flag.

Fitting lives here; applying a fitted map travels with the registered model, so the
calibrator classes (:class:`~training.portable.PlattCalibrator` and any other method) are
in :mod:`training.portable`'s registry, each serialised as ``{"method", "params"}``.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from churn.errors import ChurnError, InputError
from training.portable import PlattCalibrator

__all__ = ["CalibrationError", "PlattCalibrator", "fit_platt", "risk_thresholds"]


class CalibrationError(ChurnError):
    """The held-out calibration contradicts the model's ranking (non-positive Platt slope)."""


def fit_platt(raw: np.ndarray, y: np.ndarray, block: str = "validation") -> PlattCalibrator:
    """Fit Platt scaling (almost unregularised) on held-out raw scores and labels.

    The slope must be positive: explanations read a positive raw contribution as "raises
    risk", which holds only if the probability increases with the raw score. A slope of
    zero or below means the booster ranks churners *below* the others on held-out time
    (broken features, a label bug, a reversed target): training stops rather than serve
    a model whose every explanation would be reversed.
    """
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        raise InputError(f"{block}: labels have one class only; cannot calibrate")
    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(np.asarray(raw, dtype=float).reshape(-1, 1), y)
    slope, intercept = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if not slope > 0:
        raise CalibrationError(
            f"calibration on the {block} block: Platt slope is {slope:.4g} (must be > 0): the "
            "booster's score does not rise with churn on held-out time, so its probabilities and "
            "explanations would be reversed; training stopped (check the labels and features)"
        )
    return PlattCalibrator(slope=slope, intercept=intercept)


def risk_thresholds(proba_valid: np.ndarray, *, high_share: float, dynamic_share: float) -> dict:
    """Calibrated-probability cut-offs that flag the top shares of validation rows.

    "high" = the probability reached by the riskiest ``high_share`` of validation rows,
    "dynamic" = by the riskiest ``dynamic_share`` (so dynamic <= high).
    """
    if not 0 < high_share <= dynamic_share < 1:
        raise InputError(
            "training.risk_high_share must be positive and not above training.risk_dynamic_share"
        )
    p = np.asarray(proba_valid, dtype=float)
    return {
        "high": float(np.quantile(p, 1 - high_share)),
        "dynamic": float(np.quantile(p, 1 - dynamic_share)),
    }
