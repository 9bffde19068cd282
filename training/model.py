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


@dataclass
class ChurnModel:
    booster: Any  # lightgbm.Booster
    calibrator: Any  # object with .predict(raw_scores) -> probabilities (e.g. IsotonicRegression)
    features: list[str]
    categorical_levels: dict[str, list[str]]
    risk_thresholds: dict[str, float] = field(default_factory=lambda: {"high": 0.5, "dynamic": 0.3})
    horizon_days: int = 90
    metadata: dict[str, Any] = field(default_factory=dict)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Select the model's columns and cast them the way training did."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            from churn.errors import InputError

            raise InputError(f"missing feature column(s): {', '.join(missing)}")
        numeric = [c for c in self.features if c not in self.categorical_levels]
        try:  # one block cast: a per-column loop costs ~15 ms for a single-client call
            out = frame[numeric].astype("float64")
        except (TypeError, ValueError):  # text in a numeric column: coerce, NaN if not a number
            out = frame[numeric].apply(pd.to_numeric, errors="coerce").astype("float64")
        for col, levels in self.categorical_levels.items():
            values = frame[col].astype("str").where(frame[col].notna())
            out[col] = pd.Categorical(values, categories=levels)
        return out[self.features]

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw booster output (log-odds); SHAP contributions sum to this."""
        x = self.prepare(frame)
        return np.asarray(
            self.booster.predict(x, raw_score=True, num_threads=_threads(len(x))), dtype=float
        )

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn within ``horizon_days``."""
        raw = self.predict_raw(frame)
        return np.clip(np.asarray(self.calibrator.predict(raw), dtype=float), 0.0, 1.0)

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


def _threads(rows: int) -> int:
    """One thread for small inputs (thread start-up dominates a single-client call)."""
    return 1 if rows < SMALL_BATCH_ROWS else 0


SMALL_BATCH_ROWS = 2_000
