"""The drift reference logged with every trained model: what "normal" looked like.

Monitoring (``churn monitor``) compares each served week with the rows the model learned
from. Those rows are not kept anywhere else (the snapshot file may be rebuilt or gone),
so a seeded sample of them travels with the run as the artifact
``reference/reference.parquet``: keys, every model feature, the label, and the served
model's probability on the row (the score whose distribution a week is compared with).

The sample comes from the newest ``monitoring.reference_months`` (12) labelled snapshot
dates (0 = all): a full year holds every season once, so a summer or a January week is
not drift against it; a shorter window made the season of its months the norm (measured:
a reference of August..October snapshots read December's ordinary logins as drift and
left a halving of logins only "moderate").
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from churn.config import MonitoringConfig
from training.labels import LABEL
from training.model import ChurnModel

REFERENCE_ARTIFACT = "reference/reference.parquet"
SCORE = "score"


def reference_sample(frame: pd.DataFrame, model: ChurnModel, cfg: MonitoringConfig) -> pd.DataFrame:
    """Up to ``reference_rows`` rows of the newest ``reference_months`` dates, with scores.

    The same frame, model and seed give the same rows (sorted by as_of, client_id).
    """
    dates = np.sort(pd.to_datetime(frame["as_of"]).unique())
    if cfg.reference_months:
        dates = dates[-cfg.reference_months :]
    rows = frame[pd.to_datetime(frame["as_of"]).isin(dates).to_numpy()]
    if len(rows) > cfg.reference_rows:
        rng = np.random.default_rng(cfg.reference_seed)
        rows = rows.iloc[np.sort(rng.choice(len(rows), cfg.reference_rows, replace=False))]
    keep = ["client_id", "as_of", *model.features, *([LABEL] if LABEL in rows else [])]
    out = rows[list(dict.fromkeys(keep))].reset_index(drop=True)
    out[SCORE] = model.predict_proba(out)
    return out.sort_values(["as_of", "client_id"], kind="stable").reset_index(drop=True)


def log_reference(frame: pd.DataFrame, model: ChurnModel, cfg: MonitoringConfig) -> int:
    """Log the reference sample of the active run; returns its row count."""
    sample = reference_sample(frame, model, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(REFERENCE_ARTIFACT).name
        sample.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), str(Path(REFERENCE_ARTIFACT).parent))
    return len(sample)
