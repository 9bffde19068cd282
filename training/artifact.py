"""A :class:`~training.model.ChurnModel` to and from its portable files.

The registered model is ``model.txt`` (LightGBM's own text) plus ``metadata.json``
(:mod:`training.portable`): no pickle of a project class, so a version outlives the
module that trained it. This module is the project's side of that format: what goes into
the metadata, and the ChurnModel rebuilt from it for serving (SHAP on the booster, bands,
categorical levels, the calibration's log-odds map).

Metadata keys: ``features``, ``categorical_levels``, ``calibration`` (``{"method",
"params"}``), ``risk_thresholds`` (the bands), ``horizon_days``, ``catalog_digest`` (of the
snapshot catalog the model was trained against) and ``training`` (provenance: dates seen,
parameters, how it was calibrated).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from churn.errors import ChurnError
from training import portable
from training.model import ChurnModel


class ModelFormatError(ChurnError):
    """A registered version this code cannot load (e.g. the old pickle format)."""

    exit_code = 2


def catalog_digest() -> str:
    """sha256 of the model inputs of ``features/catalog.py`` (name, type, categorical)."""
    from features.catalog import CATALOG

    spec = [[f.name, f.dtype, f.categorical] for f in CATALOG if f.model]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()


def metadata_of(model: ChurnModel) -> dict[str, Any]:
    """Everything scoring and explanations need besides the booster, as JSON values."""
    return {
        "features": list(model.features),
        "categorical_levels": {k: list(v) for k, v in model.categorical_levels.items()},
        "calibration": portable.calibration_to_json(model.calibrator),
        "risk_thresholds": {k: float(v) for k, v in model.risk_thresholds.items()},
        "horizon_days": int(model.horizon_days),
        "catalog_digest": catalog_digest(),
        "training": model.metadata,
    }


def save(model: ChurnModel, folder: Path) -> Path:
    """Write the model's ``model.txt`` and ``metadata.json`` into ``folder``."""
    return portable.write(folder, model.booster, metadata_of(model))


def from_artifact(art: portable.Artifact) -> ChurnModel:
    """The ChurnModel of a booster and its metadata (read by this project's code)."""
    meta = art.metadata
    try:
        calibrator = portable.calibration_from_json(meta["calibration"])
        return ChurnModel(
            booster=art.booster,
            calibrator=calibrator,
            features=list(meta["features"]),
            categorical_levels={k: list(v) for k, v in meta["categorical_levels"].items()},
            risk_thresholds={k: float(v) for k, v in meta["risk_thresholds"].items()},
            horizon_days=int(meta["horizon_days"]),
            metadata=dict(meta.get("training") or {}),
        )
    except (KeyError, portable.ArtifactError) as exc:
        raise ModelFormatError(f"model metadata: {exc}") from exc


def load(folder: Path) -> ChurnModel:
    """The ChurnModel saved in ``folder`` by :func:`save`."""
    try:
        return from_artifact(portable.read(folder))
    except portable.ArtifactError as exc:
        raise ModelFormatError(str(exc)) from exc
