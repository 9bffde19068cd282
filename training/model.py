"""The trained artefact that travels through the registry: booster + calibrator + schema.

Serving loads it back by alias (``models:/churn-risk@champion``) and needs more than a
``predict``: SHAP wants the raw booster, ``risk_band`` wants the thresholds chosen at
training time, and inputs must be cast to the exact categorical levels seen in training
(LightGBM maps categories by code, so a different level order silently changes scores).
Keeping all of that in one object is what makes "the same model" mean the same thing in
training, batch scoring and the service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training import portable
from training.portable import SMALL_BATCH_ROWS, threads

__all__ = ["SMALL_BATCH_ROWS", "ChurnModel", "categorical_levels_from", "threads"]


@dataclass
class ChurnModel:
    booster: Any  # lightgbm.Booster
    calibrator: Any  # a training.portable calibrator, non-decreasing in the raw score
    features: list[str]
    categorical_levels: dict[str, list[str]]
    risk_thresholds: dict[str, float] = field(default_factory=lambda: {"high": 0.5, "dynamic": 0.3})
    horizon_days: int = 90
    metadata: dict[str, Any] = field(default_factory=dict)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Select the model's columns and cast them the way training did (a DataFrame with
        ``category`` columns: what LightGBM was fitted on and what SHAP plots label)."""
        self._require(frame)
        numeric = [c for c in self.features if c not in self.categorical_levels]
        try:  # one block cast: a per-column loop costs ~15 ms for a single-client call
            out = frame[numeric].astype("float64")
        except (TypeError, ValueError):  # text in a numeric column: coerce, NaN if not a number
            out = frame[numeric].apply(pd.to_numeric, errors="coerce").astype("float64")
        for col, levels in self.categorical_levels.items():
            values = frame[col].astype("str").where(frame[col].notna())
            out[col] = pd.Categorical(values, categories=levels)
        return out[self.features]

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The same input as :meth:`prepare`, straight into one float matrix
        (:func:`training.portable.encode`, what the registered pyfunc scores with too)."""
        self._require(frame)
        return portable.encode(frame, self.features, self.categorical_levels)

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw booster output (log-odds); SHAP contributions sum to this."""
        return portable.raw_score(self.booster, self.matrix(frame))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw scores (e.g. a raw score rebuilt from SHAP)."""
        return portable.probability(self.calibrator, raw)

    def log_odds_map(self) -> tuple[float, float]:
        """(slope, intercept) with ``logit(probability) = slope * raw + intercept``.

        Explanations are given on the scale of the shown probability: a SHAP contribution
        ``c`` to the booster's raw score is ``slope * c`` in calibrated log-odds, and the base
        value is ``slope * base + intercept``, so base + contributions = logit(probability).
        That only holds for a calibrator that is affine in log-odds (Platt); any other
        calibrator has no single scale and is refused here: :meth:`explain_scale` gives the
        per-row scale every calibrator has.
        """
        slope = getattr(self.calibrator, "slope", None)
        intercept = getattr(self.calibrator, "intercept", None)
        if slope is None or intercept is None:
            from churn.errors import InputError

            raise InputError(
                f"model calibrator {type(self.calibrator).__name__} is not Platt scaling: "
                "explanations in the shown probability's log-odds need slope and intercept"
            )
        if not float(slope) > 0:
            from training.calibration import CalibrationError

            raise CalibrationError(
                f"model calibrator: Platt slope is {float(slope):.4g} (must be > 0); every "
                "raises/lowers would be reversed"
            )
        return float(slope), float(intercept)

    def explain_scale(self, raw: np.ndarray, raw_base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scale, base) per row: ``base + scale * sum(raw contributions) == logit(p)``.

        Explanations are shown in the log-odds of the shown probability ``p``. For Platt
        (affine in log-odds) the scale is its slope and the base ``slope * raw_base +
        intercept`` (:meth:`log_odds_map`), the same for every row. For any other monotone
        calibrator ``g`` the row's log-odds difference from the base,
        ``logit(g(raw)) - logit(g(raw_base))``, is distributed over the features in
        proportion to their raw contributions: the scale is that difference over
        ``raw - raw_base`` (the secant slope; the local slope where the two coincide). A
        non-decreasing ``g`` gives a scale >= 0, so signs never flip; on a flat step of
        ``g`` (isotonic, Venn-Abers) the scale is 0: the score equals the base there and
        nothing moved it. A decreasing calibrator is refused (CalibrationError).
        """
        raw = np.asarray(raw, dtype=float)
        raw_base = np.broadcast_to(np.asarray(raw_base, dtype=float), raw.shape)
        if hasattr(self.calibrator, "slope") and hasattr(self.calibrator, "intercept"):
            slope, intercept = self.log_odds_map()
            return np.full(raw.shape, slope), slope * raw_base + intercept
        from scipy.special import logit

        from training.portable import EPS

        def log_odds(x: np.ndarray) -> np.ndarray:
            return logit(np.clip(self.calibrate(x), EPS, 1 - EPS))

        top, bottom = log_odds(raw), log_odds(raw_base)
        gap = raw - raw_base
        step = 1e-4
        close = np.abs(gap) < step
        scale = np.empty(raw.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale[~close] = (top - bottom)[~close] / gap[~close]
        if close.any():
            near = raw[close]
            scale[close] = (log_odds(near + step) - log_odds(near - step)) / (2 * step)
        if (scale < -1e-9).any():
            from training.calibration import CalibrationError

            raise CalibrationError(
                f"model calibrator {type(self.calibrator).__name__} decreases with the raw "
                "score: every raises/lowers would be reversed"
            )
        # where the gap is tiny the secant is rebuilt so base + scale * gap is exact
        scale = np.maximum(scale, 0.0)
        base = np.where(close, top - scale * gap, bottom)
        return scale, base

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn within ``horizon_days``."""
        return self.calibrate(self.predict_raw(frame))

    def _require(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            from churn.errors import InputError

            raise InputError(f"missing feature column(s): {', '.join(missing)}")

    def risk_band(self, proba: np.ndarray) -> np.ndarray:
        """high / dynamic / no_threat on the calibrated probability."""
        p = np.asarray(proba, dtype=float)
        return np.where(
            p >= self.risk_thresholds["high"],
            "high",
            np.where(p >= self.risk_thresholds["dynamic"], "dynamic", "no_threat"),
        )


def categorical_levels_from(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[str]]:
    """The sorted text levels of each categorical column, as seen in the training rows.

    A level that only appears later becomes missing in :meth:`ChurnModel.prepare`, which
    LightGBM treats like any unseen category instead of shifting the codes of known ones.
    """
    return {
        col: sorted(frame[col].dropna().astype("str").unique().tolist())
        for col in columns
        if col in frame.columns
    }
