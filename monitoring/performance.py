"""Realised performance of a scored week, once its label horizon has passed.

A week scored as of D is judged on what happened to its clients in ``[D, D + horizon)``,
with the very label function training uses (:func:`training.labels.label_snapshots`) on
the raw churn events, so "realised AUC" means the same thing as the test-block AUC. A
week is *matured* only when its whole window is observed (``D + horizon <= data end``);
before that "no churn yet" is not "no churn" and the week is reported as waiting.

Everything here is a pure function of frames; :mod:`monitoring.report` reads the store
and the raw directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from churn.utc import as_utc
from training.evaluate import _num, brier_and_log_loss, calibration_table, roc_auc
from training.labels import LABEL, label_snapshots

PROBABILITY = "probability"


def matured(as_of: date, horizon_days: int, data_end: pd.Timestamp) -> bool:
    """Whether the week's whole label window ``[as_of, as_of + horizon)`` is observed."""
    end = as_utc(pd.Timestamp(data_end))
    start = pd.Timestamp(as_of, tz="UTC")
    return start + pd.Timedelta(days=horizon_days) <= end


def label_week(
    scores: pd.DataFrame,
    churn_events: pd.DataFrame,
    horizon_days: int,
    data_end: pd.Timestamp,
    churn_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The week's scored rows with the training label (rows without a full window dropped;
    with ``churn_types`` as in training, rows that left only another way are left out)."""
    out = label_snapshots(scores, churn_events, horizon_days, data_end, churn_types=churn_types)
    return out.reset_index(drop=True)


def citl_interval(y: np.ndarray, p: np.ndarray) -> list[float | None]:
    """95 % interval of mean predicted / observed from the binomial noise of the observed
    rate alone (the prediction is fixed): what a week of this size cannot tell apart."""
    n, rate = len(y), float(np.mean(y)) if len(y) else 0.0
    if not n or rate <= 0:
        return [None, None]
    half = 1.96 * np.sqrt(rate * (1 - rate) / n)
    high = float(p.mean()) / max(rate - half, 1e-12) if rate > half else None
    return [_num(float(p.mean()) / (rate + half)), _num(high) if high is not None else None]


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    both = 0 < y.sum() < len(y)
    return {
        "rows": int(len(y)),
        "churners": int(y.sum()),
        "churn_rate": _num(y.mean()) if len(y) else None,
        "mean_probability": _num(p.mean()) if len(p) else None,
        # calibration-in-the-large: mean predicted over observed (1 = right on average)
        "calibration_in_the_large": _num(p.mean() / y.mean()) if len(y) and y.sum() else None,
        "calibration_in_the_large_ci": citl_interval(y, p),
        "roc_auc": _num(roc_auc(y, p)) if both else None,
        "brier": _num(brier_and_log_loss(y, p)[0]) if len(y) else None,
    }


def realised_performance(
    labelled: pd.DataFrame,
    *,
    by: Sequence[str] = ("segment", "category"),
    bins: int = 10,
) -> dict[str, Any]:
    """ROC-AUC, Brier, calibration by decile of the score, and the same by each ``by`` column.

    ``labelled`` has ``probability`` and ``label`` (and the ``by`` columns it has; absent
    ones are skipped). A group with one class has ``roc_auc`` None: an AUC needs both.
    """
    y = labelled[LABEL].to_numpy(dtype=float)
    p = labelled[PROBABILITY].to_numpy(dtype=float)
    out = _metrics(y, p)
    # JSON-ready rows (calibration_table gives typed bins since training/results.py)
    out["calibration"] = [asdict(b) for b in calibration_table(y, p, bins)] if len(y) else []
    groups: dict[str, list[dict[str, Any]]] = {}
    for column in by:
        if column not in labelled.columns:
            continue
        values = labelled[column].astype("str").where(labelled[column].notna(), "(missing)")
        groups[column] = [
            {"value": str(value), **_metrics(y[mask], p[mask])}
            for value in sorted(values.unique())
            for mask in [(values == value).to_numpy()]
        ]
    out["by"] = groups
    return out
