"""Point MLflow at a store. Every layer that talks to the registry (training, serving)
calls this from its edge, so nothing sets a tracking URI at import time."""

from __future__ import annotations

import os
from pathlib import Path

from churn.config import Config


def setup_mlflow(cfg: Config) -> str:
    """Honour ``MLFLOW_TRACKING_URI``; default to SQLite under ``models/``."""
    return use_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or cfg.paths.mlflow_tracking_uri)


def use_tracking_uri(uri: str) -> str:
    """Point MLflow tracking and registry at ``uri``, creating a SQLite file's folder."""
    import mlflow

    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri
