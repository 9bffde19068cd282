"""Train and compare on a subscription + activity source: tuned LightGBM beside a logistic
baseline on the same generated signals, judged on later-in-time data.

The centre's ``churn train`` also scores the documented rule indicator and the generator's
reference; a generic source has neither (the rule indicator is this centre's), so the
comparison here is model versus baseline only, on the same time split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from churn.config import TrainingConfig
from features.generic.build import GenericSnapshots, build_snapshots, churn_events
from features.generic.spec import SourceSpec
from training.baseline import baseline_proba
from training.labels import LABEL, label_snapshots
from training.split import time_split
from training.tune import tune_lgbm


@dataclass(frozen=True)
class GenericComparison:
    """Test-block figures of the tuned model and the baseline (same rows, same signals)."""

    test_rows: int
    test_positives: int
    test_dates: tuple[str, ...]
    model_roc_auc: float
    baseline_roc_auc: float
    model_pr_auc: float
    baseline_pr_auc: float
    features: tuple[str, ...]


def labelled(
    spec: SourceSpec, raw_dir: Path, snaps: GenericSnapshots | None = None
) -> tuple[pd.DataFrame, GenericSnapshots]:
    snaps = snaps or build_snapshots(spec, raw_dir)
    events, certain = churn_events(spec, raw_dir)
    return label_snapshots(snaps.frame, events, spec.churn.horizon_days, certain), snaps


def _prepared(
    frame: pd.DataFrame, features: list[str], levels: dict[str, list[str]]
) -> pd.DataFrame:
    X = frame[features].copy()
    for col, cats in levels.items():
        X[col] = pd.Categorical(X[col].astype(object).where(X[col].notna(), None), categories=cats)
    return X.astype({c: "float64" for c in features if c not in levels})


def compare(
    frame: pd.DataFrame,
    snaps: GenericSnapshots,
    spec: SourceSpec,
    cfg: TrainingConfig,
    *,
    n_trials: int | None = None,
) -> GenericComparison:
    """Tune LightGBM (train -> valid), fit the baseline on train + valid, score the test block."""
    split = time_split(
        frame["as_of"],
        valid_months=cfg.valid_months,
        test_months=cfg.test_months,
        horizon_days=spec.churn.horizon_days,
    )
    block = {k: frame[frame["as_of"].isin(getattr(split, k))] for k in ("train", "valid", "test")}
    features = [s.name for s in snaps.signals if s.model]
    cats = [s.name for s in snaps.signals if s.model and s.kind == "category"]
    levels = {c: sorted(str(v) for v in block["train"][c].dropna().unique()) for c in cats}
    X = {k: _prepared(v, features, levels) for k, v in block.items()}
    y = {k: v[LABEL].to_numpy() for k, v in block.items()}
    tuned = tune_lgbm(X["train"], y["train"], X["valid"], y["valid"], cfg=cfg, n_trials=n_trials)
    model = tuned.booster.predict(X["test"])
    fit_rows = pd.concat([block["train"], block["valid"]])
    baseline = baseline_proba(fit_rows, block["test"], features, cats, seed=cfg.seed)
    yt = y["test"]
    return GenericComparison(
        test_rows=len(yt),
        test_positives=int(yt.sum()),
        test_dates=tuple(str(d.date()) for d in split.test),
        model_roc_auc=float(roc_auc_score(yt, model)),
        baseline_roc_auc=float(roc_auc_score(yt, baseline)),
        model_pr_auc=float(average_precision_score(yt, model)),
        baseline_pr_auc=float(average_precision_score(yt, baseline)),
        features=tuple(features),
    )
