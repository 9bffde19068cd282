"""The portable model artifact: LightGBM text + JSON metadata, logged as models-from-code.

A registered version must keep loading and scoring where the project's modules cannot be
imported (a subprocess that blocks them: what renaming the training module does to a
pickle), with scores equal to the in-process ChurnModel's; serving loads it by alias and by
version; a version in the old pickle format is reported as such, not as a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from churn.config import Config
from training import artifact, portable
from training.artifact import ModelFormatError
from training.calibration import PlattCalibrator
from training.model import ChurnModel
from training.pipeline import Blocks, evaluate, fit_model, labelled, split_blocks
from training.registry import (
    CHAMPION,
    ensure_experiment,
    gate,
    load_by_alias,
    load_version,
    log_model,
    promote_version,
)

PROJECT_PACKAGES = ("churn", "training", "features", "serving", "store", "monitoring", "cli")

# A process where none of the project's packages can be imported; it loads the registered
# version through MLflow alone and writes its scores.
STANDALONE = """
import sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"project module {{name}} is blocked in this process")

sys.meta_path.insert(0, Blocked())
sys.path = [p for p in sys.path if p not in ("", {root!r})]
import mlflow, numpy as np, pandas as pd

mlflow.set_tracking_uri({uri!r})
mlflow.set_registry_uri({uri!r})
try:
    import training  # noqa: F401
    raise SystemExit("the project is importable here: the test proves nothing")
except ImportError:
    pass
model = mlflow.pyfunc.load_model({model_uri!r})
np.save({out!r}, np.asarray(model.predict(pd.read_parquet({rows!r}))))
"""


@pytest.fixture(scope="module")
def registered(
    base_config: Config, synthetic, synthetic_files, tmp_path_factory, mlflow_switch
) -> Iterator[tuple[Config, ChurnModel, Blocks, str]]:
    """A fresh store with one fitted model registered as champion."""
    root = tmp_path_factory.mktemp("artifact")
    cfg = base_config.override(
        paths=base_config.paths.under(root),
        training__n_trials=2,
        training__max_boost_rounds=100,
        training__bootstrap_rounds=30,
    )
    with mlflow_switch(cfg.paths.mlflow_tracking_uri):
        blocks = split_blocks(cfg, labelled(cfg, synthetic.snapshots, synthetic_files[0]))
        model, _ = fit_model(cfg, blocks)
        with mlflow.start_run(experiment_id=ensure_experiment(cfg)):
            version = log_model(cfg, model, blocks.test)
        promote_version(cfg, version, CHAMPION, reason="test")
        yield cfg, model, blocks, version


def test_registered_version_scores_where_the_project_cannot_be_imported(
    registered, tmp_path: Path
) -> None:
    cfg, model, blocks, version = registered
    rows = tmp_path / "rows.parquet"
    blocks.test[model.features].to_parquet(rows)
    out = tmp_path / "scores.npy"
    script = STANDALONE.format(
        blocked=set(PROJECT_PACKAGES),
        root=str(Path(__file__).resolve().parents[2]),
        uri=cfg.paths.mlflow_tracking_uri,
        model_uri=f"models:/{cfg.registry.model_name}/{version}",
        out=str(out),
        rows=str(rows),
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    standalone = np.load(out)
    expected = model.predict_proba(blocks.test)
    assert standalone.shape == expected.shape
    np.testing.assert_allclose(standalone, expected, rtol=0, atol=1e-12)


def test_serving_loads_by_alias_and_by_version(registered) -> None:
    from serving.loading import load_model

    cfg, model, blocks, version = registered
    expected = model.predict_proba(blocks.test)
    by_alias, by_version = load_model(cfg), load_model(cfg, version=version)
    for loaded in (by_alias, by_version):
        assert loaded.version == version and isinstance(loaded.model, ChurnModel)
        np.testing.assert_allclose(loaded.model.predict_proba(blocks.test), expected, atol=1e-12)
        assert loaded.model.risk_thresholds == model.risk_thresholds
        assert loaded.model.categorical_levels == model.categorical_levels
        assert loaded.model.calibrator == model.calibrator  # Platt: same slope and intercept
        assert loaded.model.metadata == model.metadata
        raw = loaded.model.predict_raw(blocks.test)  # SHAP needs the booster's raw score
        np.testing.assert_allclose(raw, model.predict_raw(blocks.test), atol=1e-12)
    with pytest.raises(Exception, match="no version 99"):
        load_model(cfg, version=99)


def test_artifact_files_are_lightgbm_text_and_json(registered, tmp_path: Path) -> None:
    _, model, blocks, _ = registered
    folder = artifact.save(model, tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["metadata.json", "model.txt"]
    assert (folder / "model.txt").read_text().startswith("tree")  # LightGBM's own text
    meta = portable.read(folder).metadata
    assert meta["calibration"] == {"method": "platt", "params": model.calibrator.params()}
    assert meta["features"] == model.features
    assert meta["catalog_digest"] == artifact.catalog_digest()
    again = artifact.load(folder)
    np.testing.assert_array_equal(
        again.predict_proba(blocks.test), model.predict_proba(blocks.test)
    )
    (folder / "metadata.json").write_text('{"format": "something else"}')
    with pytest.raises(ModelFormatError, match="this code reads"):
        artifact.load(folder)


def test_calibrators_round_trip_through_json() -> None:
    platt = PlattCalibrator(slope=0.8125, intercept=-1.25)
    spec = portable.calibration_to_json(platt)
    assert spec == {"method": "platt", "params": {"slope": 0.8125, "intercept": -1.25}}
    back = portable.calibration_from_json(spec)
    raw = np.linspace(-4, 4, 9)
    np.testing.assert_array_equal(back.predict(raw), platt.predict(raw))
    with pytest.raises(portable.ArtifactError, match="'beta' is unknown.*platt"):
        portable.calibration_from_json({"method": "beta", "params": {}})
    with pytest.raises(portable.ArtifactError, match="bad params"):
        portable.calibration_from_json({"method": "venn_abers", "params": {}})
    with pytest.raises(portable.ArtifactError, match="bad params"):
        portable.calibration_from_json({"method": "platt", "params": {"slope": 1.0}})


with __import__("warnings").catch_warnings(record=True):

    class OldPicklePyfunc(mlflow.pyfunc.PythonModel):
        """What versions registered before the portable format were: a cloudpickled
        python_model around a joblib pickle of the project's ChurnModel."""

        def load_context(self, context):
            self.model = joblib.load(context.artifacts["churn_model"])

        def predict(self, context, model_input, params=None):
            return self.model.predict_proba(pd.DataFrame(model_input))


def _register_old_pickle(cfg: Config, model: ChurnModel, tmp_path: Path) -> str:
    path = tmp_path / "churn_model.joblib"
    joblib.dump(model, path)
    with mlflow.start_run(experiment_id=ensure_experiment(cfg)):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=OldPicklePyfunc(),
            artifacts={"churn_model": str(path)},
            registered_model_name=cfg.registry.model_name,
        )
    return str(info.registered_model_version)


def test_old_pickle_versions_are_reported_not_a_traceback(
    registered, synthetic_files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = synthetic_files[0]
    cfg, model, blocks, version = registered
    old = _register_old_pickle(cfg, model, tmp_path)
    message = rf"model {cfg.registry.model_name} version {old} was registered in the old pickle"
    with pytest.raises(ModelFormatError, match=message + r" format: retrain with `churn train`"):
        load_version(cfg.registry.model_name, old)
    promote_version(cfg, old, CHAMPION, reason="an old champion")
    try:
        with pytest.raises(ModelFormatError, match=message):
            load_by_alias(cfg)
        # the CLI: one line on stderr and a non-zero exit, no traceback
        config = tmp_path / "cfg.yaml"
        config.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
        snap = tmp_path / "snap.parquet"
        blocks.test.to_parquet(snap)
        from cli.main import app

        result = CliRunner().invoke(
            app,
            [
                "--config",
                str(config),
                "score",
                "--features",
                str(snap),
                "--out",
                str(tmp_path / "o"),
            ],
        )
        assert result.exit_code == ModelFormatError.exit_code, result.output
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "old pickle format" in lines[0], result.stderr
        assert "Traceback" not in result.output
        # the service: its loader raises the same user-facing error, which start-up reports
        # as one line in /readyz and every endpoint instead of a traceback
        from churn.errors import ChurnError
        from serving.service import load_everything

        monkeypatch.setenv("CHURN_CONFIG", str(config))
        with pytest.raises(ChurnError, match=message):
            load_everything()
        # the gate: an old champion cannot be re-scored, so the challenger meets the rule
        y = blocks.test["label"].to_numpy()
        with mlflow.start_run(experiment_id=ensure_experiment(cfg)):
            new = log_model(cfg, model, blocks.test)
        result, _ = evaluate(cfg, model, blocks, raw)
        reg = gate(cfg, new, model.predict_proba(blocks.test), result, blocks.test, y)
        assert reg.decision.champion_status == "incompatible"
        assert reg.decision.champion_version == old
        assert "old pickle format" in reg.decision.reason
    finally:
        promote_version(cfg, version, CHAMPION, reason="back to the portable champion")
