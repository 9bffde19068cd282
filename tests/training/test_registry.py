"""Registry: the promotion gate on a real SQLite MLflow store, loading the champion by alias,
manual promotion, and the model listing."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from churn.config import Config
from churn.errors import NotFound
from training.calibration import PlattCalibrator
from training.model import ChurnModel
from training.pipeline import Blocks, evaluate, fit_model, labelled, split_blocks
from training.registry import (
    CHALLENGER,
    CHAMPION,
    ensure_experiment,
    gate,
    load_by_alias,
    log_model,
    model_table,
    promote_version,
)


def _blocks(cfg: Config, synthetic, raw: Path) -> Blocks:
    return split_blocks(cfg, labelled(cfg, synthetic.snapshots, raw))


def _worse(good: ChurnModel, blocks: Blocks, seed: int) -> ChurnModel:
    """One tree fitted on shuffled labels: no better than chance."""
    X = good.prepare(blocks.train)
    y = np.random.default_rng(seed).permutation(blocks.train["label"].to_numpy())
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "seed": seed}, lgb.Dataset(X, y), 1
    )
    # identity Platt map: a fitted one may have a negative slope here, which training refuses
    return ChurnModel(booster, PlattCalibrator(1.0, 0.0), good.features, good.categorical_levels)


def _register(cfg: Config, model: ChurnModel, blocks: Blocks, raw: Path):
    y = blocks.test["label"].to_numpy()
    proba = model.predict_proba(blocks.test)
    result, _ = evaluate(cfg, model, blocks, raw)  # what the gate judges without a champion
    with mlflow.start_run(experiment_id=ensure_experiment(cfg)):
        version = log_model(cfg, model, blocks.test)
        return gate(cfg, version, proba, result, blocks.test, y), roc_auc_score(y, proba)


def test_gate_load_and_promote(fresh_mlflow: Config, synthetic, synthetic_files) -> None:
    cfg = fresh_mlflow
    raw = synthetic_files[0]
    blocks = _blocks(cfg, synthetic, raw)
    good, _ = fit_model(cfg, blocks)
    bad = _worse(good, blocks, seed=1)

    with pytest.raises(NotFound, match="run `churn train`"):
        load_by_alias(cfg)

    first, bad_auc = _register(cfg, bad, blocks, raw)  # no champion yet: even a bad model gets it
    assert first.promoted and first.alias == CHAMPION and first.champion_version is None

    second, good_auc = _register(cfg, good, blocks, raw)
    assert good_auc > bad_auc
    assert second.promoted and second.alias == CHAMPION
    assert second.champion_version == first.version
    assert second.champion_roc_auc == pytest.approx(bad_auc)  # re-scored on the same rows

    third, _ = _register(cfg, _worse(good, blocks, seed=2), blocks, raw)
    assert not third.promoted and third.alias == CHALLENGER
    assert third.champion_roc_auc == pytest.approx(good_auc)

    champ = load_by_alias(cfg)
    assert champ.version == second.version and champ.alias == CHAMPION
    expected = good.predict_proba(blocks.test)
    np.testing.assert_allclose(champ.model.predict_proba(blocks.test), expected)
    assert champ.model.risk_thresholds == good.risk_thresholds
    assert load_by_alias(cfg, CHALLENGER).version == third.version

    pyfunc = mlflow.pyfunc.load_model(f"models:/{cfg.registry.model_name}@champion")
    np.testing.assert_allclose(np.asarray(pyfunc.predict(blocks.test[good.features])), expected)

    promote_version(cfg, version=first.version, alias=CHAMPION)
    assert load_by_alias(cfg).version == first.version
    with pytest.raises(NotFound, match="no version 99"):
        promote_version(cfg, version=99)

    table = model_table(cfg)
    assert table["version"].tolist() == [1, 2, 3]
    assert table.set_index("version").loc[int(first.version), "aliases"] == CHAMPION
    assert table.set_index("version").loc[int(third.version), "aliases"] == CHALLENGER
