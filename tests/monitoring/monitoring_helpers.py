"""Helpers for the monitoring tests (imported by name: the test dirs are not packages):
score a point-in-time snapshot with a real model and store it as a week, the way
``churn weekly`` does, and write a config file for the CLI."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sqlalchemy.engine import Engine

from churn.config import Config
from features.snapshot import build_snapshots
from store.weeks import write_week
from training.model import ChurnModel
from training.pipeline import numeric_as_float


def store_week(
    engine: Engine,
    cfg: Config,
    raw: Path,
    as_of: date,
    model: ChurnModel,
    version: str,
    weeks_dir: Path,
) -> Path:
    """Snapshot ``raw`` as of ``as_of``, score it with ``model``, write the week; returns the
    snapshot Parquet path recorded on the week."""
    snapshot = numeric_as_float(build_snapshots(raw, [as_of], cfg))
    weeks_dir.mkdir(parents=True, exist_ok=True)
    path = weeks_dir / f"as_of={as_of.isoformat()}.parquet"
    snapshot.to_parquet(path, index=False)
    proba = model.predict_proba(snapshot)
    order = np.argsort(-proba, kind="stable")
    scores = pd.DataFrame(
        {
            "client_id": snapshot["client_id"].to_numpy()[order],
            "probability": proba[order],
            "risk_band": model.risk_band(proba[order]),
            "rank": np.arange(1, len(proba) + 1),
            "evidence": "full",
            "segment": snapshot["segment"].to_numpy()[order],
            "monthly_fee_rub": snapshot["monthly_fee_rub"].to_numpy()[order],
        }
    )
    calls = scores[["client_id", "rank"]].head(20).assign(selected=True, reason="top")
    write_week(
        engine,
        as_of=as_of,
        model_version=version,
        scores=scores,
        call_list=calls,
        snapshot_path=str(path),
    )
    return path


def write_config(cfg: Config, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    return path
