"""``python -m serving.demo``: starts the real server, prints /score, /explain and the UI
URL, stops it, and leaves no process behind."""

from __future__ import annotations

import subprocess
import sys

import pytest

from serving.run import free_port, write_config


@pytest.mark.slow
def test_demo_prints_samples_and_stops_cleanly(
    session_config, trained, small_snapshots, mlflow_uri, tmp_path
):
    cfg = session_config.model_copy(deep=True)
    cfg.paths.features_path = small_snapshots
    cfg.paths.reports_dir = tmp_path / "reports"
    config = write_config(cfg, tmp_path / "default.yaml")
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "serving.demo", "--port", str(port), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "POST /score" in out and '"probability"' in out
    assert "POST /explain" in out and '"drivers"' in out and "risk" in out
    assert f"http://localhost:{port}/ui" in out
    assert "service stopped" in out
    leftovers = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "server processes left behind"


@pytest.mark.slow
def test_churn_serve_with_an_unknown_alias_fails_with_one_line(
    session_config, trained, small_snapshots, mlflow_uri, tmp_path
):
    cfg = session_config.model_copy(deep=True)
    cfg.paths.features_path = small_snapshots
    config = write_config(cfg, tmp_path / "default.yaml")
    port = free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "churn.cli",
            "--config",
            str(config),
            "serve",
            "--port",
            str(port),
            "--alias",
            "nosuch",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "nosuch" in result.stderr.strip().splitlines()[-1]
    leftovers = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
