"""``churn train`` end to end through the CLI: bad input fails with one line, a good run
writes the report and a complete MLflow run; the session ``trained`` report has every key."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from churn.config import Config
from cli.main import app
from training import artifact

REPORT_METRICS = ("roc_auc", "pr_auc", "brier", "lift_top_decile", "recall_at_capacity")


def _write_config(cfg: Config, root: Path) -> Path:
    path = root / "cfg" / "default.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    return path


def _train(config: Path, *args: str):
    return CliRunner().invoke(app, ["--config", str(config), "train", *args])


def _assert_one_line_error(result, pattern: str) -> None:
    assert result.exit_code != 0, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(pattern, lines[0]), lines[0]


def test_bad_input_is_one_line_and_nonzero(
    fresh_mlflow: Config, synthetic_files, synthetic_factory, tmp_path: Path
) -> None:
    raw, snap = synthetic_files
    config = _write_config(fresh_mlflow, tmp_path)  # paths.raw_dir points to a missing dir
    _assert_one_line_error(_train(config), r"give --raw DIR .* or --features FILE")
    _assert_one_line_error(
        _train(config, "--features", str(tmp_path / "nope.parquet")), r"snapshot file not found"
    )
    _assert_one_line_error(_train(config, "--raw", str(tmp_path / "nope")), r"--raw: directory not")
    # a snapshot file alone cannot be labelled: the churn events live in the raw data
    _assert_one_line_error(_train(config, "--features", str(snap)), r"labels need the raw churn")
    broken = tmp_path / "broken.parquet"
    pd.read_parquet(snap).drop(columns=["logins_30d"]).to_parquet(broken)
    _assert_one_line_error(
        _train(config, "--features", str(broken), "--raw", str(raw)),
        r"lacks snapshot column.*logins_30d",
    )
    not_parquet = tmp_path / "text.parquet"
    not_parquet.write_text("client_id,as_of\n1,2024-01-01\n")
    _assert_one_line_error(
        _train(config, "--features", str(not_parquet)), r"not a readable Parquet"
    )
    make, write = synthetic_factory
    short_raw, short_snap = write(make(n_clients=200, n_months=8), tmp_path / "short")
    _assert_one_line_error(
        _train(config, "--features", str(short_snap), "--raw", str(short_raw)), r"too few labelled"
    )


def test_trained_run_is_complete_in_mlflow(trained: dict, session_config: Config) -> None:
    """The session training run logged everything a data scientist needs to compare runs."""
    _check_report(trained)
    client = MlflowClient(session_config.paths.mlflow_tracking_uri)
    run = client.get_run(trained["run_id"])
    assert run.data.tags["dataset_digest"] == trained["dataset_digest"]
    assert run.inputs.dataset_inputs[0].dataset.digest == trained["dataset_digest"]
    assert "git_commit" in run.data.tags
    calibration = session_config.training.calibration
    assert run.data.params["calibration"] == calibration.method + (
        "+recent" if calibration.recent_update else ""
    )
    winner = trained["calibration_backtest"]["winner"].replace("+", "_")
    assert run.data.metrics[f"backtest_{winner}_log_loss"] == pytest.approx(
        trained["calibration_backtest"]["pooled"][trained["calibration_backtest"]["winner"]][
            "log_loss"
        ]
    )
    model_auc = trained["test"]["model"]["roc_auc"]
    assert run.data.metrics["test_model_roc_auc"] == pytest.approx(model_auc)
    folders = ("", "optuna", "evaluation", "config", "report")
    artifacts = {a.path for d in folders for a in client.list_artifacts(run.info.run_id, d)}
    for expected in (
        "config/config.json",
        "config/split.json",
        "optuna/trials.csv",
        "optuna/best_trial.json",
        "optuna/optimization_history.png",
        "report/train.json",
    ):
        assert expected in artifacts, sorted(artifacts)
    assert any(p.startswith("evaluation/") and p.endswith(".html") for p in artifacts)
    assert any(p.startswith("evaluation/") and p.endswith(".png") for p in artifacts)
    artifact_root = Path(session_config.paths.mlflow_artifacts_dir)
    assert any(artifact_root.rglob("MLmodel"))  # artifacts land in the configured directory
    mv = client.get_model_version(session_config.registry.model_name, trained["model_version"])
    assert float(mv.tags["test_roc_auc"]) == pytest.approx(model_auc, abs=1e-6)
    assert mv.tags["test_block"].split(",") == trained["split"]["test"]


def test_churn_models_lists_versions(trained: dict, session_config: Config, tmp_path: Path) -> None:
    config = _write_config(session_config, tmp_path)
    result = CliRunner().invoke(app, ["--config", str(config), "models"])
    assert result.exit_code == 0, result.stderr
    row = next(
        ln for ln in result.output.splitlines() if ln.split()[:1] == [trained["model_version"]]
    )
    assert trained["alias"] in row


def _check_report(report: dict) -> None:
    for name in ("model", "rule"):
        for key in REPORT_METRICS:
            assert isinstance(report["test"][name][key], float), (name, key)
    assert "reference" in report["test"]
    for key in ("run_id", "model_version", "promoted", "auc_gain", "gap_closed"):
        assert key in report
    gain = report["auc_gain"]
    assert gain["ci_low"] <= gain["ci_high"]
    split = report["split"]
    assert max(split["train"]) < min(split["valid"]) and max(split["valid"]) < min(split["test"])


def test_trained_fixture_report_has_every_key(trained: dict) -> None:
    _check_report(trained)
    reference = trained["test"]["reference"]
    assert reference is not None and reference["roc_auc"] > 0.5
    assert trained["gap_closed"] is not None
    labels = trained["labels"]  # which churn types are positives, and what was left out
    assert labels["churn_types"] == ["termination", "suspension", "debt_suspension"]
    assert labels["dropped_other_types_only"] == 0  # every type chosen: nothing left out
    assert labels["rows"] >= sum(trained["rows"].values())  # gap rows are labelled too
    assert 0 < labels["positives"] < labels["rows"]


def test_served_model_is_refitted_on_every_labelled_snapshot(
    trained: dict, session_config: Config
) -> None:
    """The registered model learned from all labelled rows; the test figures stay held out."""
    from training.registry import HOLDOUT_ARTIFACT, load_version, seen_as_of

    served = load_version(session_config.registry.model_name, trained["model_version"]).model
    meta = served.metadata
    split = trained["split"]
    labelled_dates = sorted({*split["train"], *split["valid"], *split["test"], *split["dropped"]})
    assert meta["fit_as_of"] == labelled_dates  # gaps and the test block included
    assert meta["calibration_as_of"] == split["test"]  # Platt on time the twin never saw
    assert max(meta["calibration_twin_fit_as_of"]) < min(split["test"])
    assert served.calibrator.slope > 0
    prov = trained["provenance"]
    assert prov["served_model"]["fit_as_of"] == f"{labelled_dates[0]}..{labelled_dates[-1]}"
    assert split["test"][0] in prov["test_figures"] and "held-out" in prov["test_figures"]
    # the held-out twin beside it is what the gate re-scores; it never saw the test block
    path = mlflow.artifacts.download_artifacts(
        run_id=trained["run_id"], artifact_path=HOLDOUT_ARTIFACT
    )
    holdout = artifact.load(Path(path))
    assert max(d.date().isoformat() for d in seen_as_of(holdout)) < min(split["test"])
    assert trained["gate"]["champion_status"] in ("none", "compared", "incompatible")


def test_calibration_backtest_in_the_report(
    trained: dict, session_config: Config, small_snapshots: Path
) -> None:
    """The report replays the served recipe on the newest monthly blocks (point in time),
    compares the calibrators and says which one the served model uses and why; the served
    calibrator is that one, kept as JSON in the model's metadata."""
    from training.calibrators import from_dict, to_dict
    from training.labels import data_end_of, label_snapshots, read_churn_events
    from training.pipeline import recent_rate

    c = session_config.training.calibration
    backtest = trained["calibration_backtest"]
    assert len(backtest["blocks"]) == c.backtest_blocks
    horizon = pd.Timedelta(days=session_config.training.horizon_days)
    for block in backtest["blocks"]:
        start = pd.Timestamp(block["block"])
        assert pd.Timestamp(block["served_fit"][-1]) + horizon <= start  # labels known then
        assert pd.Timestamp(block["twin_fit"][-1]) + horizon < pd.Timestamp(block["calibration"][0])
        assert set(block["calibrators"]) == set(backtest["pooled"])
    pooled = backtest["pooled"]
    assert {"platt", "isotonic", "venn_abers", "platt+recent"} <= set(pooled)
    assert backtest["winner"] == min(pooled, key=lambda n: pooled[n]["log_loss"])
    assert backtest["configured"] == c.method + ("+recent" if c.recent_update else "")
    assert backtest["winner"] in backtest["why"]
    for name in pooled:
        assert len(pooled[name]["reliability"]) == 10
        assert pooled[name]["goal"]["ece"]["max"] == 0.005
    from training.registry import load_version

    served = load_version(session_config.registry.model_name, trained["model_version"]).model
    meta = served.metadata
    assert served.calibrator.method == c.method
    assert from_dict(to_dict(served.calibrator)) == served.calibrator
    assert meta["calibrated_at"] == pd.Timestamp(meta["trained_at"]).date().isoformat()
    # the intercept update: the newest snapshot's mean probability is the recent churn rate
    snaps = pd.read_parquet(small_snapshots)
    newest = snaps[snaps["as_of"] == snaps["as_of"].max()]
    raw = session_config.paths.raw_dir
    known = label_snapshots(snaps, read_churn_events(raw), 90, data_end_of(raw))
    rate = recent_rate(known, c.recent_months)
    assert served.predict_proba(newest).mean() == pytest.approx(rate, rel=1e-6)
