"""Read back the drift reference a model version was logged with (``training.reference``).

The reference belongs to the *run* that produced a version, so it is found through the
registry: alias or version -> run -> ``reference/reference.parquet``. A version trained
before references were logged has none: that is :class:`~churn.errors.NotFound` with the
way out (retrain), never a silent "no drift".
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churn.errors import NotFound
from training.reference import REFERENCE_ARTIFACT, SCORE


@dataclass(frozen=True)
class Reference:
    """A model version's reference sample and where it came from."""

    version: str
    run_id: str
    frame: pd.DataFrame  # client_id, as_of, the model features, label, score

    @property
    def features(self) -> list[str]:
        return [c for c in self.frame.columns if c not in ("client_id", "as_of", "label", SCORE)]

    @property
    def as_of(self) -> list[str]:
        return sorted({pd.Timestamp(d).date().isoformat() for d in self.frame["as_of"]})


def _version(model_name: str, alias: str | None, version: str | None) -> ModelVersion:
    client = MlflowClient()
    try:
        if version is not None:
            return client.get_model_version(model_name, str(version))
        return client.get_model_version_by_alias(model_name, alias or "champion")
    except MlflowException:
        what = f"version {version}" if version is not None else f"@{alias or 'champion'}"
        raise NotFound(
            f"model {model_name} {what} not found in {mlflow.get_tracking_uri()}: run `churn train`"
        ) from None


def load_reference(
    model_name: str, *, alias: str | None = None, version: str | None = None
) -> Reference:
    """The reference of ``model_name@alias`` (default champion) or of ``version``."""
    from training.registry import quiet_mlflow

    mv = _version(model_name, alias, version)
    try:
        with quiet_mlflow():
            path = mlflow.artifacts.download_artifacts(
                run_id=mv.run_id, artifact_path=REFERENCE_ARTIFACT
            )
    except (MlflowException, OSError):
        raise NotFound(
            f"model {model_name} version {mv.version} has no drift reference "
            f"({REFERENCE_ARTIFACT} in run {mv.run_id}): it was trained before monitoring; "
            "retrain it with `churn train` or `churn retrain`"
        ) from None
    return Reference(str(mv.version), mv.run_id, pd.read_parquet(path))
