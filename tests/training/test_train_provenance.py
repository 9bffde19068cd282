"""``churn train --features F --raw D`` refuses snapshots built from other raw data."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.config import Config
from churn.errors import InputError
from cli.main import app
from training.pipeline import run_train, training_snapshots


def _other_raw(raw: Path, tmp_path: Path) -> Path:
    other = tmp_path / "other-raw"
    shutil.copytree(raw, other)
    events = pd.read_parquet(other / "churn_events.parquet")
    events.iloc[: len(events) // 2].to_parquet(other / "churn_events.parquet", index=False)
    return other


def test_train_refuses_snapshots_from_another_raw_dir(
    synthetic_files, fresh_mlflow: Config, tmp_path: Path
) -> None:
    raw, snap = synthetic_files
    other = _other_raw(raw, tmp_path)
    with pytest.raises(InputError, match="built from other raw data"):
        run_train(fresh_mlflow, raw=other, features_file=snap, report=None)
    result = CliRunner().invoke(
        app, ["train", "--features", str(snap), "--raw", str(other), "--trials", "1"]
    )
    assert result.exit_code != 0
    assert "error:" in result.output and "other raw data" in result.output
    assert "Traceback" not in result.output


def test_matching_and_unrecorded_snapshots_are_read(
    synthetic_files, fresh_mlflow: Config, tmp_path: Path, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="training")
    raw, snap = synthetic_files
    frame, _ = training_snapshots(fresh_mlflow, raw, snap)
    assert "digest matches" in caplog.text and len(frame) > 0
    caplog.clear()
    bare = tmp_path / "bare.parquet"
    pd.read_parquet(snap).to_parquet(bare, index=False)
    training_snapshots(fresh_mlflow, raw, bare)
    assert "digest not recorded" in caplog.text
