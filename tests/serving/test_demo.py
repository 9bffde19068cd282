"""``python -m serving.demo``: starts the real server, prints /score, /explain and the UI
URL, stops it, and leaves no process behind; ``churn serve`` fails cleanly; ``--raw``
builds the snapshot at start-up. Each starts its own server (~10 s)."""

from __future__ import annotations

import subprocess
import sys

from serving.run import free_port, write_config


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


def test_service_builds_the_snapshot_from_raw_at_start_up(
    session_config, trained, small_raw, mlflow_uri, tmp_path
):
    import httpx

    from features.cli import latest_as_of
    from serving.run import service_env, start_service, stop_service, wait_ready

    env = service_env(
        session_config,
        raw=small_raw,
        tracking_uri=mlflow_uri,
        config_path=write_config(session_config, tmp_path / "c.yaml"),
    )
    port = free_port()
    with (tmp_path / "server.log").open("w") as log:
        proc = start_service(port, env, log=log)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, proc)
            version = httpx.get(f"{url}/version").json()
            assert version["as_of"] == latest_as_of(small_raw).isoformat()
            assert version["as_of_available"] == [version["as_of"]]
            top = httpx.post(f"{url}/call_list", json={"capacity": 2}).json()["clients"]
            r = httpx.post(f"{url}/score", json={"client_ids": [top[0]["client_id"]]})
            assert r.status_code == 200 and r.json()["as_of"] == version["as_of"]
        finally:
            stop_service(proc)
