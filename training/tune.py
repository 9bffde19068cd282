"""Optuna tuning of a LightGBM binary classifier, early-stopped on the validation block.

One ``objective(trial)``, in the style of Optuna's own LightGBM example: sample the
parameters from ``cfg.search_space`` (TPE, seeded), train with early stopping on the
validation block, let ``LightGBMPruningCallback`` + ``MedianPruner`` stop hopeless trials,
and return the validation ROC-AUC. Everything is seeded and single-configuration
deterministic (``deterministic=True``, a fixed ``num_threads``), so the same data, seed
and trial count give the same parameters. A ``timeout_s`` that cuts the study short
makes the number of finished trials depend on machine speed; determinism is promised
only when ``n_trials`` is the budget that binds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from optuna_integration import LightGBMPruningCallback
from sklearn.metrics import roc_auc_score

from churn.config import ParamRange, TrainingConfig
from churn.errors import InputError

VALID_NAME = "valid"
METRIC = "auc"


@dataclass
class TuneResult:
    params: dict[str, Any]  # full LightGBM params of the best trial (fixed + tuned)
    best_iteration: int
    best_score: float  # validation ROC-AUC of ``booster``
    study: optuna.Study
    booster: lgb.Booster  # refitted on train with ``params`` for ``best_iteration`` rounds


def fixed_params(cfg: TrainingConfig, seed: int) -> dict[str, Any]:
    """The parameters that are not tuned: objective, metric and reproducibility knobs."""
    return {
        "objective": "binary",
        "metric": METRIC,
        "verbosity": -1,
        "boosting_type": "gbdt",
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": cfg.num_threads,
        "bagging_freq": 1,
        "feature_pre_filter": False,  # min_child_samples is tuned; keep every feature
    }


def suggest(trial: optuna.Trial, name: str, space: ParamRange) -> float | int:
    """Sample one parameter; log-uniform for regularisers and rates."""
    if space.integer:
        return trial.suggest_int(name, int(space.low), int(space.high), log=space.log)
    return trial.suggest_float(name, space.low, space.high, log=space.log)


def _check(X: pd.DataFrame, y: np.ndarray, block: str) -> None:
    if len(X) != len(y):
        raise InputError(f"{block}: {len(X)} feature rows but {len(y)} labels")
    if len(np.unique(y)) < 2:
        raise InputError(f"{block}: labels have one class only; cannot train or early-stop")


def tune_lgbm(
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    *,
    cfg: TrainingConfig,
    n_trials: int | None = None,
    timeout_s: float | None = None,
    seed: int | None = None,
    on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
) -> TuneResult:
    """Tune on (train, valid) and return the best parameters and a refitted booster.

    ``X_*`` are prepared frames (categoricals as pandas ``category``, numerics float64,
    missing as NaN). ``on_trial`` is an Optuna callback, e.g. to print progress.
    """
    _check(X_train, y_train, "train")
    _check(X_valid, y_valid, "validation")
    seed = cfg.seed if seed is None else seed
    n_trials = cfg.n_trials if n_trials is None else n_trials
    timeout_s = cfg.timeout_s if timeout_s is None else timeout_s
    base = fixed_params(cfg, seed)
    dtrain = lgb.Dataset(X_train, label=y_train, free_raw_data=False)
    dvalid = lgb.Dataset(X_valid, label=y_valid, reference=dtrain, free_raw_data=False)

    def objective(trial: optuna.Trial) -> float:
        params = {**base, **{k: suggest(trial, k, s) for k, s in cfg.search_space.items()}}
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=cfg.max_boost_rounds,
            valid_sets=[dvalid],
            valid_names=[VALID_NAME],
            callbacks=[
                lgb.early_stopping(cfg.early_stopping_rounds, verbose=False),
                LightGBMPruningCallback(trial, METRIC, valid_name=VALID_NAME),
            ],
        )
        trial.set_user_attr("best_iteration", int(booster.best_iteration))
        return float(booster.best_score[VALID_NAME][METRIC])

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=20),
        study_name="churn-lgbm",
    )
    study.optimize(
        objective,
        n_trials=n_trials,
        timeout=timeout_s,
        callbacks=[on_trial] if on_trial else None,
        gc_after_trial=False,
    )
    best = study.best_trial
    params = {**base, **best.params}
    best_iteration = max(int(best.user_attrs["best_iteration"]), 1)
    booster = lgb.train(params, dtrain, num_boost_round=best_iteration)
    score = float(roc_auc_score(y_valid, booster.predict(X_valid, raw_score=True)))
    return TuneResult(
        params=params,
        best_iteration=best_iteration,
        best_score=score,
        study=study,
        booster=booster,
    )
