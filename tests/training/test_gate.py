"""The promotion gate on a real MLflow store: noise does not promote, a real gain does, a tie
keeps the champion, an incompatible champion does not freeze promotion; manual promotion
records who and why; a non-positive Platt slope stops training."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from churn.config import Config
from training.calibration import CalibrationError, PlattCalibrator, fit_platt
from training.model import ChurnModel
from training.pipeline import Blocks, evaluate, fit_model, labelled, split_blocks
from training.registry import (
    CHALLENGER,
    CHAMPION,
    ensure_experiment,
    gate,
    load_by_alias,
    log_model,
    promote_version,
    unseen_rows,
)
from training.results import Evaluation


@pytest.fixture(scope="module")
def setting(base_config: Config, synthetic, synthetic_files):
    """Blocks of the synthetic base, the pipeline's model and its evaluation (fitted once)."""
    cfg = base_config.override(
        training__n_trials=3,
        training__timeout_s=60,
        training__bootstrap_rounds=200,
        training__max_boost_rounds=200,
    )
    raw = synthetic_files[0]
    blocks = split_blocks(cfg, labelled(cfg, synthetic.snapshots, raw))
    good, _ = fit_model(cfg, blocks)
    result, _ = evaluate(cfg, good, blocks, raw)
    return cfg, raw, blocks, good, result


def _cfg(fresh: Config, setting) -> Config:
    return fresh.override(training=setting[0].training)


def _register(cfg: Config, model: ChurnModel, blocks: Blocks, result: Evaluation):
    proba = model.predict_proba(blocks.test)
    with mlflow.start_run(experiment_id=ensure_experiment(cfg)):
        version = log_model(cfg, model, blocks.test)
        return gate(cfg, version, proba, result, blocks.test, blocks.test["label"].to_numpy())


def _chance(good: ChurnModel, blocks: Blocks) -> ChurnModel:
    """One tree on shuffled labels: a champion any real model beats."""
    X = good.prepare(blocks.train)
    y = np.random.default_rng(1).permutation(blocks.train["label"].to_numpy())
    booster = lgb.train({"objective": "binary", "verbosity": -1, "seed": 1}, lgb.Dataset(X, y), 1)
    return ChurnModel(booster, PlattCalibrator(1.0, 0.0), good.features, good.categorical_levels)


def test_first_model_is_champion_and_a_clearly_better_one_promotes(fresh_mlflow, setting) -> None:
    cfg = _cfg(fresh_mlflow, setting)
    _, _, blocks, good, result = setting
    first = _register(cfg, _chance(good, blocks), blocks, result)
    assert first.promoted and first.decision.champion_status == "none"
    second = _register(cfg, good, blocks, result)
    d = second.decision
    assert second.promoted and second.alias == CHAMPION and d.champion_status == "compared"
    assert d.comparison.auc_gain.ci_low > cfg.training.gate.min_gain
    assert d.reason.startswith("promoted")
    assert load_by_alias(cfg).version == second.version
    tags = MlflowClient().get_model_version(cfg.registry.model_name, second.version).tags
    assert tags["gate_alias"] == CHAMPION and tags["gate_champion"] == f"v{first.version}"
    assert float(tags["gate_auc_gain_ci_low"]) > 0


def test_same_pipeline_with_another_seed_does_not_promote(fresh_mlflow, setting) -> None:
    cfg = _cfg(fresh_mlflow, setting)
    _, _, blocks, good, result = setting
    assert _register(cfg, good, blocks, result).promoted
    reseeded = cfg.override(training__seed=7)
    other, _ = fit_model(reseeded, blocks)
    y = blocks.test["label"].to_numpy()
    assert not np.allclose(other.predict_proba(blocks.test), good.predict_proba(blocks.test))
    reg = _register(cfg, other, blocks, result)
    gain = reg.decision.comparison.auc_gain
    assert not reg.promoted and reg.alias == CHALLENGER, reg.decision.reason
    assert gain.ci_low <= 0 <= gain.ci_high  # the seed's effect is inside the noise
    assert reg.champion_roc_auc == pytest.approx(
        float(pd.Series(good.predict_proba(blocks.test)).pipe(lambda p: _auc(y, p)))
    )
    assert "not beyond noise" in reg.decision.reason


def _auc(y: np.ndarray, p: pd.Series) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p.to_numpy()))


def test_a_tie_keeps_the_champion(fresh_mlflow, setting) -> None:
    cfg = _cfg(fresh_mlflow, setting)
    _, _, blocks, good, result = setting
    champion = _register(cfg, good, blocks, result)
    tie = _register(cfg, good, blocks, result)
    gain = tie.decision.comparison.auc_gain
    assert not tie.promoted and gain.observed == 0 and gain.ci_low == 0
    assert load_by_alias(cfg).version == champion.version


def test_a_worse_calibrated_challenger_does_not_promote(fresh_mlflow, setting) -> None:
    cfg = _cfg(fresh_mlflow, setting)
    _, _, blocks, good, result = setting
    _register(cfg, _chance(good, blocks), blocks, result)
    # the same ranking as `good`, but probabilities pushed far from the observed rates
    shifted = ChurnModel(
        good.booster, PlattCalibrator(good.calibrator.slope, good.calibrator.intercept + 3.0),
        good.features, good.categorical_levels,
    )  # fmt: skip
    reg = _register(cfg, shifted, blocks, result)
    assert not reg.promoted and "Brier" in reg.decision.reason and "worse" in reg.decision.reason


def test_an_incompatible_champion_does_not_freeze_promotion(fresh_mlflow, setting) -> None:
    cfg = _cfg(fresh_mlflow, setting)
    _, raw, blocks, good, result = setting
    # a champion of an older catalog: it needs a column this snapshot no longer has
    old_rows = blocks.train.assign(retired_signal=1.0)
    old = ChurnModel(None, None, [*good.features, "retired_signal"], good.categorical_levels)
    old.booster = lgb.train(
        {"objective": "binary", "verbosity": -1},
        lgb.Dataset(old.prepare(old_rows), old_rows["label"].to_numpy()),
        5,
    )
    old.calibrator = PlattCalibrator(1.0, 0.0)
    with mlflow.start_run(experiment_id=ensure_experiment(cfg)):
        version = log_model(cfg, old, old_rows)
        MlflowClient().set_registered_model_alias(cfg.registry.model_name, CHAMPION, version)

    reg = _register(cfg, good, blocks, result)
    d = reg.decision
    assert d.champion_status == "incompatible" and "retired_signal" in d.champion_detail
    assert d.comparison.against == "rule"
    assert reg.promoted and reg.champion_roc_auc is None  # judged on its gain over the rule
    text = json.dumps(d.to_dict(), allow_nan=False)  # no inf / NaN anywhere
    assert "Infinity" not in text

    # ... and against the rule a model that does not beat it is not promoted
    MlflowClient().set_registered_model_alias(cfg.registry.model_name, CHAMPION, version)
    losing = replace(result, auc_gain=replace(result.auc_gain, ci_low=-0.01, observed=0.0))
    lost = _register(cfg, good, blocks, losing)
    assert not lost.promoted and lost.decision.champion_status == "incompatible"


def _without_rule(result: Evaluation) -> Evaluation:
    """The evaluation of a source that lacks the rule's inputs (no rule score, no gain)."""
    why = {"en": "no rule indicator: this source lacks its inputs"}
    return replace(
        result,
        scores={**result.scores, "rule": None},
        auc_gain=None,
        rule_indicator={"available": False, "reason": why},
    )


def test_without_a_rule_the_gate_falls_back_to_the_baseline(fresh_mlflow, setting) -> None:
    cfg = _cfg(fresh_mlflow, setting)
    _, _, blocks, good, result = setting
    assert result.baseline is not None and result.baseline_gain is not None
    norule = _without_rule(result)
    first = _register(cfg, good, blocks, norule)
    d = first.decision
    assert first.promoted and d.champion_status == "none"
    assert d.comparison.against == "baseline" and "logistic baseline" in d.reason
    assert d.comparison.auc_gain == result.baseline_gain
    assert d.comparison.roc_auc.reference == result.baseline.roc_auc
    assert d.comparison.brier.reference == result.baseline.brier
    assert json.loads(json.dumps(d.to_dict()))["comparison"]["against"] == "baseline"

    # an incompatible champion: judged against the baseline with the same thresholds
    champion = first.version
    old_rows = blocks.train.assign(retired_signal=1.0)
    old = ChurnModel(None, None, [*good.features, "retired_signal"], good.categorical_levels)
    old.booster = lgb.train(
        {"objective": "binary", "verbosity": -1},
        lgb.Dataset(old.prepare(old_rows), old_rows["label"].to_numpy()),
        5,
    )
    old.calibrator = PlattCalibrator(1.0, 0.0)
    with mlflow.start_run(experiment_id=ensure_experiment(cfg)):
        version = log_model(cfg, old, old_rows)
    client = MlflowClient()
    client.set_registered_model_alias(cfg.registry.model_name, CHAMPION, version)
    losing = replace(norule, baseline_gain=replace(result.baseline_gain, ci_low=-0.01))
    lost = _register(cfg, good, blocks, losing)
    d = lost.decision
    assert d.champion_status == "incompatible" and d.comparison.against == "baseline"
    assert "judged against the logistic baseline" in d.reason and not lost.promoted
    assert load_by_alias(cfg).version == version != champion
    winning = replace(norule, baseline_gain=replace(result.baseline_gain, ci_low=0.02))
    won = _register(cfg, good, blocks, winning)
    assert won.promoted and won.decision.comparison.against == "baseline"


def test_a_champion_fitted_on_the_test_block_is_not_compared_on_it(setting) -> None:
    _, _, blocks, good, _ = setting
    as_of = blocks.test["as_of"]
    assert unseen_rows(good, as_of, 90).all()  # the selection model never saw the test block
    served = ChurnModel(good.booster, good.calibrator, good.features, good.categorical_levels)
    served.metadata = {"seen_as_of": [str(pd.Timestamp(d).date()) for d in as_of.unique()]}
    assert not unseen_rows(served, as_of, 90).any()


def test_manual_promotion_records_who_and_why(fresh_mlflow, setting) -> None:
    cfg = _cfg(fresh_mlflow, setting)
    _, _, blocks, good, result = setting
    first = _register(cfg, good, blocks, result)
    second = _register(cfg, good, blocks, result)  # a tie: challenger
    assert load_by_alias(cfg).version == first.version
    promote_version(cfg, second.version, reason="rollback test", by="alice")
    assert load_by_alias(cfg).version == second.version
    mv = MlflowClient().get_model_version(cfg.registry.model_name, second.version)
    assert mv.tags["promoted_by"] == "alice" and mv.tags["promoted_reason"] == "rollback test"
    assert mv.tags["promoted_alias"] == CHAMPION and "by alice: rollback test" in mv.description
    assert mv.description.startswith("gate: not promoted")


def test_churn_promote_cli_takes_a_reason(fresh_mlflow, setting, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    cfg = _cfg(fresh_mlflow, setting)
    _, _, blocks, good, result = setting
    reg = _register(cfg, good, blocks, result)
    config = tmp_path / "cfg" / "default.yaml"
    config.parent.mkdir()
    config.write_text(json.dumps(cfg.model_dump(mode="json")), encoding="utf-8")
    run = CliRunner().invoke(
        app, ["--config", str(config), "promote", "--version", reg.version, "--reason", "why not"]
    )
    assert run.exit_code == 0, run.output
    mv = MlflowClient().get_model_version(cfg.registry.model_name, reg.version)
    assert mv.tags["promoted_reason"] == "why not" and mv.tags["promoted_by"]


def test_platt_slope_must_be_positive() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(size=2000)
    y = (rng.random(2000) < 1 / (1 + np.exp(-2 * raw))).astype(int)
    assert fit_platt(raw, y).slope > 0
    with pytest.raises(CalibrationError, match=r"Platt slope is -\d.*must be > 0"):
        fit_platt(-raw, y)
