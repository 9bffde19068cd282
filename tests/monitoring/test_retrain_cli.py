"""``churn retrain`` for a scheduler: exit 0 with a new champion, 5 when the gate keeps the
champion, non-zero on failure; a not promoted or failed retrain leaves the champion alias
and the store's served week exactly as they were (a failure after the gate moved the alias
puts it back)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from monitoring_helpers import write_config
from typer.testing import CliRunner

from churn.config import Config
from cli.main import app
from monitoring.run import NOT_PROMOTED_EXIT
from store.db import connect
from store.weeks import latest_week
from training.champion import champion_version

WEEK = date(2025, 7, 7)


@pytest.fixture
def retrain_cfg(
    session_config: Config, small_snapshots: Path, tmp_path: Path, mlflow_switch: Any
) -> Iterator[Config]:
    """The session base with an empty MLflow store and score store of its own."""
    fresh = session_config.paths.under(tmp_path)
    cfg = session_config.override(
        paths__mlflow_tracking_uri=fresh.mlflow_tracking_uri,
        paths__mlflow_artifacts_dir=fresh.mlflow_artifacts_dir,
        paths__reports_dir=fresh.reports_dir,
        paths__weeks_dir=fresh.weeks_dir,
        paths__features_path=tmp_path / "unused" / "snapshots.parquet",
        store__url=f"sqlite:///{tmp_path / 'store.db'}",
        training__n_trials=2,
        training__bootstrap_rounds=50,
        training__max_boost_rounds=200,
    )
    with mlflow_switch(cfg.paths.mlflow_tracking_uri):
        yield cfg


def _retrain(cfg: Config, root: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    config = write_config(cfg, root / "cfg" / "default.yaml")
    summary = root / "retrain.json"
    summary.unlink(missing_ok=True)
    result = CliRunner().invoke(
        app, ["--config", str(config), "retrain", "--json", str(summary), *args]
    )
    return result, (json.loads(summary.read_text()) if summary.exists() else {})


def test_failed_retrain_moves_nothing(
    session_config: Config, trained: dict[str, Any], small_raw: Path, tmp_path: Path
) -> None:
    """Fast: a retrain that cannot start (bad raw directory) against the session champion."""
    from serving.weekly import run_weekly

    cfg = session_config.override(
        store__url=f"sqlite:///{tmp_path / 'store.db'}", paths__weeks_dir=tmp_path / "weeks"
    )
    run_weekly(cfg, small_raw, as_of=WEEK)
    engine = connect(cfg.store.url)
    served, champion = latest_week(engine), champion_version(cfg)
    assert champion is not None
    result, summary = _retrain(cfg, tmp_path, "--raw", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "--raw: directory not found" in result.stderr
    assert summary == {} and champion_version(cfg) == champion
    assert latest_week(engine) == served
    engine.dispose()


@pytest.mark.slow  # three trainings: ~25 s of CPU, a minute or more on a shared box
def test_retrain_keeps_champion_and_week_unless_promoted(
    retrain_cfg: Config, small_raw: Path, small_snapshots: Path, tmp_path: Path, monkeypatch
) -> None:
    cfg = retrain_cfg
    data = ["--raw", str(small_raw), "--features", str(small_snapshots)]

    # 1. fails after the gate promoted it (the report folder cannot be written): alias undone
    import training.pipeline

    def broken_copy(run_id: str, dst: Path) -> None:
        raise OSError(f"disk full: {dst}")

    monkeypatch.setattr(training.pipeline, "_copy_evaluation", broken_copy)
    result, _ = _retrain(cfg, tmp_path, *data, "--report", str(tmp_path / "r" / "train.json"))
    assert result.exit_code != 0 and isinstance(result.exception, OSError)
    assert champion_version(cfg) is None  # version 1 is registered, but never served
    monkeypatch.undo()

    # 2. a first good retrain promotes; the weekly run serves it
    result, summary = _retrain(cfg, tmp_path, *data)
    assert result.exit_code == 0, result.output
    assert summary["promoted"] and summary["champion_after"] == summary["version"] == "2"
    assert (
        "note: the store has no scored week yet: run `churn weekly`"
        in summary["monitoring"]["lines"]
    )
    from serving.weekly import run_weekly

    run_weekly(cfg, small_raw, as_of=WEEK)
    engine = connect(cfg.store.url)
    served = latest_week(engine)

    # 3. the same data again: the gate keeps the champion, exit 5, the week untouched
    result, summary = _retrain(cfg, tmp_path, *data)
    assert result.exit_code == NOT_PROMOTED_EXIT, result.output
    assert not summary["promoted"] and summary["alias"] == "challenger"
    assert summary["champion_before"] == summary["champion_after"] == champion_version(cfg) == "2"
    assert latest_week(engine) == served
    assert summary["monitoring"]["alert_names"] == []
    assert any(line.startswith(f"week {WEEK}") for line in summary["monitoring"]["lines"])

    # 4. a bad raw directory fails before training: one line, exit 2, nothing moved
    result, summary = _retrain(cfg, tmp_path, "--raw", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "--raw: directory not found" in result.stderr
    assert summary == {} and champion_version(cfg) == "2"
    assert latest_week(engine) == served
    engine.dispose()
