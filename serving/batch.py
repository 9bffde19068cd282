"""Offline scoring: ``churn score`` through the service's functions (``churn call-list`` is
the weekly run's dry run, :func:`serving.weekly.dry_run`).

:func:`scored_rows` is the one definition of a batch-score row; the DuckDB path here and
every Spark partition (``serving.spark_batch``) call it, so both engines write the same
numbers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from churn.config import Config, RulesConfig
from serving.centres import centre_ids, client_names
from serving.loading import load_model, load_snapshots
from serving.scoring import score_frame
from training.model import ChurnModel

# What `churn score` writes, in order (both engines).
SCORED_COLUMNS = (
    "client_id",
    "centre_id",  # missing for a single centre's export
    "name",  # missing when the export has no client names
    "as_of",
    "probability",
    "risk_band",
    "contact_index",
    "rule_band",
    "model_version",
)

log = logging.getLogger(__name__)


def _write(frame: pd.DataFrame, out: Path) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)


def scored_rows(
    model: ChurnModel,
    snapshot: pd.DataFrame,
    model_version: str,
    rules: RulesConfig | None = None,
) -> pd.DataFrame:
    """The rows `churn score` writes for snapshot rows (any as_of mix): SCORED_COLUMNS."""
    scores = score_frame(model, snapshot, rules).reset_index(drop=True)
    scores.insert(1, "centre_id", centre_ids(snapshot).reset_index(drop=True))
    scores.insert(2, "name", client_names(snapshot).reset_index(drop=True))
    scores.insert(3, "as_of", snapshot["as_of"].to_numpy())
    scores["model_version"] = str(model_version)
    return scores[list(SCORED_COLUMNS)]


def band_summary(counts: dict[str, int]) -> str:
    """``high N, dynamic N, no_threat N`` for the one-line report."""
    return ", ".join(f"{k} {counts.get(k, 0)}" for k in ("high", "dynamic", "no_threat"))


def run_score(
    cfg: Config,
    *,
    features_file: Path | None,
    out: Path,
    alias: str | None = None,
    raw: Path | None = None,
) -> pd.DataFrame:
    """Score the latest snapshot (of ``features_file``, or built from ``raw`` as of its
    newest event) with the aliased model; write Parquet (or CSV by suffix)."""
    loaded = load_model(cfg, alias)
    snaps = load_snapshots(cfg, features_file=features_file, raw=raw)
    snapshot = snaps.get()
    scores = scored_rows(loaded.model, snapshot, loaded.version, cfg.rules)
    _write(scores, out)
    summary = band_summary(scores["risk_band"].value_counts().to_dict())
    log.info(
        f"scored {len(scores)} clients as of {snaps.latest.date()} with model version "
        f"{loaded.version} ({loaded.alias}) -> {out} ({summary})"
    )
    return scores
