"""The champion alias stays where it was unless a whole retrain succeeds.

``churn retrain`` trains and gates in one step; the gate may move ``champion`` before the
run is over (the report, the evaluation copy). :func:`train_keeping_champion` remembers the
version the alias pointed at and puts it back when anything after that fails, so a failed
or not promoted retrain leaves ``models:/churn-risk@champion`` as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from churn.config import Config
from training.results import TrainingReport

log = logging.getLogger(__name__)
CHAMPION = "champion"


@dataclass(frozen=True)
class Retrained:
    """A retrain's training output and the champion version before and after it."""

    out: TrainingReport
    before: str | None
    after: str | None


def champion_version(cfg: Config) -> str | None:
    """The version the champion alias points at, or None (no model or no alias yet)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        mv = MlflowClient().get_model_version_by_alias(cfg.registry.model_name, CHAMPION)
    except MlflowException:
        return None
    return str(mv.version)


def restore_champion(cfg: Config, version: str | None) -> None:
    """Point the champion alias back at ``version`` (remove it when there was none)."""
    from mlflow.tracking import MlflowClient

    client, name = MlflowClient(), cfg.registry.model_name
    if version is None:
        client.delete_registered_model_alias(name, CHAMPION)
    else:
        client.set_registered_model_alias(name, CHAMPION, version)


def train_keeping_champion(
    cfg: Config, *, raw: Path, features_file: Path | None, report: Path | None
) -> Retrained:
    """``run_train`` with the gate; on any failure the champion alias is restored."""
    from training.pipeline import run_train

    before = champion_version(cfg)
    try:
        out = run_train(cfg, raw=raw, features_file=features_file, report=report)
    except BaseException:
        if champion_version(cfg) != before:
            restore_champion(cfg, before)
            log.warning(f"[retrain] failed: champion alias restored to {before or 'none'}")
        raise
    return Retrained(out, before, champion_version(cfg))
