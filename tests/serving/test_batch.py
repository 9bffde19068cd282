"""``churn score`` and ``churn call-list``: the registered champion, real Parquet/CSV files,
the same numbers as the library, and one-line errors with a non-zero exit code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from serving.loading import load_model, load_snapshots
from serving.run import write_config
from serving.scoring import score_frame


@pytest.fixture(scope="module")
def cli_config(session_config, trained, mlflow_uri, tmp_path_factory) -> Path:
    return write_config(session_config, tmp_path_factory.mktemp("batch") / "default.yaml")


def churn(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_churn_score_writes_the_latest_snapshot_scores(
    cli_config, session_config, small_snapshots, tmp_path
):
    out = tmp_path / "scores.parquet"
    result = churn(
        "--config", str(cli_config), "score", "--features", str(small_snapshots), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    latest = load_snapshots(session_config, features_file=small_snapshots).get()
    assert len(scores) == len(latest)
    assert scores["as_of"].nunique() == 1
    champion = load_model(session_config, "champion")
    expected = score_frame(champion.model, latest, session_config.rules)
    np.testing.assert_allclose(scores["probability"], expected["probability"].to_numpy())
    np.testing.assert_allclose(
        scores["probability"], champion.model.predict_proba(latest), atol=1e-12
    )
    assert (scores["model_version"] == str(champion.version)).all()


@pytest.fixture(scope="module")
def dry_config(session_config, trained, mlflow_uri, tmp_path_factory) -> Path:
    """The session config with a score store and weeks dir of its own."""
    work = tmp_path_factory.mktemp("dry")
    cfg = session_config.override(
        paths__store_path=work / "store.db", paths__weeks_dir=work / "weeks"
    )
    return write_config(cfg, work / "default.yaml")


def test_churn_call_list_csv(dry_config, small_raw, tmp_path):
    """``churn call-list`` is the dry run of ``churn weekly``: the week's list with its
    holdout, ranked, with reasons and actions in words; nothing stored."""
    out = tmp_path / "calls.csv"
    args = ["--config", str(dry_config), "call-list", "--raw", str(small_raw)]
    result = churn(*args, "--capacity", "15", "--out", str(out))
    assert result.exit_code == 0, result.output
    calls = pd.read_csv(out)
    assert len(calls) == 15
    assert calls["rank"].tolist() == list(range(1, 16))
    assert (np.diff(calls["expected_loss_rub"]) <= 1e-9).all()
    assert calls["reason_1"].notna().all() and calls["action_1"].notna().all()
    assert set(calls["assignment"]) <= {"call", "holdout"}
    assert (calls["selected"] == (calls["assignment"] == "call")).all()
    from churn.config import load_config
    from store.db import connect
    from store.weeks import list_weeks

    cfg = load_config(dry_config)
    assert list_weeks(connect(f"sqlite:///{cfg.paths.store_path}")) == []
    assert not list(Path(cfg.paths.weeks_dir).glob("*.parquet"))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--capacity", "0"], "capacity"),
        (["--capacity", "5", "--as-of", "1999-01-01"], "--as-of"),
        (["--capacity", "5", "--as-of", "soon"], "--as-of"),
        (["--capacity", "5", "--raw", "/nowhere/raw"], "--raw"),
    ],
)
def test_call_list_bad_arguments_exit_non_zero_naming_them(
    dry_config, small_raw, tmp_path, args, needle
):
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(dry_config),
            "call-list",
            "--raw",
            str(small_raw),
            "--out",
            str(tmp_path / "x.csv"),
            *args,
        ],
    )
    assert result.exit_code != 0
    assert needle in result.output
    assert not (tmp_path / "x.csv").exists()


def test_missing_features_file_is_named(cli_config, tmp_path):
    missing = tmp_path / "nope.parquet"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(cli_config),
            "score",
            "--features",
            str(missing),
            "--out",
            str(tmp_path / "s.parquet"),
        ],
    )
    assert result.exit_code != 0 and "nope.parquet" in result.output
