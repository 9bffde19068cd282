"""The logistic baseline beside the tuned model: the comparison every source has.

The documented rule indicator is this centre's; a source without its inputs (a
subscription + activity log) still needs something to beat, and the centre's report is
more honest with it too: a one-hot logistic regression on the very signals the model
reads (:func:`training.table_mode.baseline_pipeline`), fitted on the rows the model's
selection saw (train + validation) and scored on the held-out test block.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.labels import LABEL
from training.table_mode import _baseline_frame, baseline_pipeline


def baseline_proba(
    fit_rows: pd.DataFrame,
    score_rows: pd.DataFrame,
    features: list[str],
    categorical: list[str],
    *,
    seed: int,
    label: str = LABEL,
) -> np.ndarray:
    """Churn probabilities of ``score_rows`` by the baseline fitted on ``fit_rows``."""
    cats = [c for c in categorical if c in features]
    model = baseline_pipeline([f for f in features if f not in cats], cats, seed)
    model.fit(_baseline_frame(fit_rows[features], cats), fit_rows[label].to_numpy())
    return model.predict_proba(_baseline_frame(score_rows[features], cats))[:, 1]
