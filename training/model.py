"""The trained artefact that travels through the registry: booster + calibrator + schema.

Serving loads it back by alias (``models:/churn-risk@champion``) and needs more than a
``predict``: SHAP wants the raw booster, ``risk_band`` wants the thresholds chosen at
training time, and inputs must be cast to the exact categorical levels seen in training
(LightGBM maps categories by code, so a different level order silently changes scores).
Keeping all of that in one object is what makes "the same model" mean the same thing in
training, batch scoring and the service.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class ChurnModel:
    booster: Any  # lightgbm.Booster
    calibrator: Any  # .predict(raw_scores) -> probabilities; PlattCalibrator for explanations
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
        """The same input as :meth:`prepare`, straight into one float matrix.

        Categories become their codes in the model's own level lists (unknown or missing:
        NaN), which is exactly what LightGBM does with a categorical DataFrame. Skipping
        pandas' frame building is what keeps a single-client score in milliseconds.
        """
        self._require(frame)
        out = np.empty((len(frame), len(self.features)), dtype="float64")
        numeric = [j for j, c in enumerate(self.features) if c not in self.categorical_levels]
        block = frame[[self.features[j] for j in numeric]]
        try:  # one conversion for the whole numeric block (the common, clean case)
            out[:, numeric] = block.to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError):  # text in a numeric column: coerce like prepare()
            coerced = block.apply(pd.to_numeric, errors="coerce")
            out[:, numeric] = coerced.to_numpy(dtype="float64", na_value=np.nan)
        for j, col in enumerate(self.features):
            if col in self.categorical_levels:
                values = frame[col]
                if not pd.api.types.is_string_dtype(values.dtype):  # as prepare(): value's text
                    values = values.astype("str").where(values.notna())
                codes = _levels(tuple(self.categorical_levels[col])).get_indexer(
                    values.to_numpy(dtype=object, na_value=None)
                )
                out[:, j] = np.where(codes >= 0, codes, np.nan)
        return out

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw booster output (log-odds); SHAP contributions sum to this."""
        x = self.matrix(frame)
        return np.asarray(
            self.booster.predict(x, raw_score=True, num_threads=threads(len(x))), dtype=float
        )

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw scores (e.g. a raw score rebuilt from SHAP)."""
        return np.clip(np.asarray(self.calibrator.predict(raw), dtype=float), 0.0, 1.0)

    def log_odds_map(self) -> tuple[float, float]:
        """(slope, intercept) with ``logit(probability) = slope * raw + intercept``.

        Explanations are given on the scale of the shown probability: a SHAP contribution
        ``c`` to the booster's raw score is ``slope * c`` in calibrated log-odds, and the base
        value is ``slope * base + intercept``, so base + contributions = logit(probability).
        That only holds for a calibrator that is affine in log-odds (Platt, what training
        fits); any other calibrator (isotonic steps) has no such scale, so it is refused here
        rather than explained on a scale that does not add up to what is shown.
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


def threads(rows: int) -> int:
    """LightGBM threads: one for small inputs (thread start-up dominates a single-client
    call), the default for bulk."""
    return 1 if rows < SMALL_BATCH_ROWS else 0


@functools.lru_cache(maxsize=256)
def _levels(levels: tuple[str, ...]) -> pd.Index:
    return pd.Index(levels, dtype=object)


SMALL_BATCH_ROWS = 2_000
