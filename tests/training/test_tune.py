"""Tuning: seeded and deterministic, early-stopped on validation, returns a usable booster."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from churn.config import Config
from churn.errors import InputError
from features.catalog import CATEGORICAL_FEATURES, MODEL_FEATURES
from training.model import ChurnModel, categorical_levels_from
from training.tune import tune_lgbm


def _xy(synthetic, cfg: Config):
    s = synthetic.snapshots
    y = (np.random.default_rng(1).random(len(s)) < 0.1).astype(int)
    y = np.where(s["overdue_debt_rub"].to_numpy() > 0, np.maximum(y, np.arange(len(s)) % 3 == 0), y)
    shell = ChurnModel(None, None, MODEL_FEATURES, categorical_levels_from(s, CATEGORICAL_FEATURES))
    X = shell.prepare(s)
    first = s["as_of"] < s["as_of"].quantile(0.6)
    return X[first.to_numpy()], y[first.to_numpy()], X[~first.to_numpy()], y[~first.to_numpy()]


def test_same_seed_same_params_and_scores(synthetic, base_config: Config) -> None:
    cfg = base_config.training.model_copy(update={"max_boost_rounds": 150})
    Xt, yt, Xv, yv = _xy(synthetic, base_config)
    a = tune_lgbm(Xt, yt, Xv, yv, cfg=cfg, n_trials=3, timeout_s=600, seed=3)
    b = tune_lgbm(Xt, yt, Xv, yv, cfg=cfg, n_trials=3, timeout_s=600, seed=3)
    assert a.params == b.params
    assert a.best_iteration == b.best_iteration
    np.testing.assert_allclose(a.booster.predict(Xv), b.booster.predict(Xv))
    assert len(a.study.trials) == 3
    # the returned score is the refitted booster's validation ROC-AUC, and it learned something
    assert a.best_score == pytest.approx(roc_auc_score(yv, a.booster.predict(Xv)))
    assert a.best_score > 0.6
    assert 1 <= a.best_iteration <= 150
    assert a.params["deterministic"] is True and a.params["seed"] == 3


def test_one_class_labels_are_rejected(synthetic, base_config: Config) -> None:
    Xt, yt, Xv, yv = _xy(synthetic, base_config)
    with pytest.raises(InputError, match="validation: labels have one class"):
        tune_lgbm(Xt, yt, Xv, np.zeros_like(yv), cfg=base_config.training, n_trials=1)
