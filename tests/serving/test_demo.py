"""``python -m cli.demo``: makes a supervisor key, starts the real server, prints
/score, /explain, posted outcomes and the UI URL with the key, stops it, and leaves no
process behind (over a store holding two weeks, as after ``churn weekly``); ``churn serve``
fails cleanly. Each starts its own server (~10 s)."""

from __future__ import annotations

import subprocess
import sys

from week_helpers import write_test_week

from serving.run import free_port, write_config


def test_demo_prints_samples_and_stops_cleanly(
    session_config, trained, small_snapshots, mlflow_uri, tmp_path, champion, snapshot_weeks
):
    from store.db import connect as open_store

    cfg = session_config.override(
        paths__features_path=small_snapshots,
        paths__reports_dir=tmp_path / "reports",
        paths__store_path=tmp_path / "data" / "store.db",
    )
    engine = open_store(f"sqlite:///{cfg.paths.store_path}")
    for snap in snapshot_weeks[-2:]:  # what `churn weekly` leaves in the demo's store
        write_test_week(
            engine,
            model=champion.model,
            model_version=str(champion.version),
            snapshot=snap,
            cfg=cfg,
            weeks_dir=tmp_path / "weeks",
        )
    engine.dispose()
    config = write_config(cfg, tmp_path / "default.yaml")
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "cli.demo", "--port", str(port), "--config", str(config)],
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
    # the supervisor key is saved beside the store, printed, and verifies; the run's
    # scheduler key posted outcomes and was revoked at the end
    from store.db import connect
    from store.keys import list_keys, verify_key
    from store.outcomes import count_outcomes

    key = (tmp_path / "data" / "demo_supervisor_key.txt").read_text().strip()
    assert key in out and "POST /outcomes" in out and '"inserted": 3' in out
    engine = connect(f"sqlite:///{cfg.paths.store_path}")
    assert verify_key(engine, key).role == "supervisor"
    assert count_outcomes(engine) == 3
    keys = {k.name: k for k in list_keys(engine)}
    assert keys["demo-supervisor"].revoked_at is None
    assert keys["demo-scheduler-1"].revoked_at is not None
    # a second run reuses the key and acknowledges the same outcomes as already recorded
    again = subprocess.run(
        [sys.executable, "-m", "cli.demo", "--port", str(port), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert key in again.stdout and '"already_recorded": 3' in again.stdout
    assert count_outcomes(engine) == 3


def test_churn_serve_with_an_unknown_alias_fails_with_one_line(
    session_config, trained, small_snapshots, mlflow_uri, tmp_path
):
    cfg = session_config.override(paths__features_path=small_snapshots)
    config = write_config(cfg, tmp_path / "default.yaml")
    port = free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
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
