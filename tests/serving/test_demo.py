"""``python -m cli.demo``: makes a supervisor key, starts the real server, prints
/score, /explain, posted outcomes and the UI URL with the key, stops it, and leaves no
process behind; ``churn serve`` fails cleanly; ``--raw`` builds the snapshot at start-up.
Each starts its own server (~10 s)."""

from __future__ import annotations

import subprocess
import sys

from serving.run import free_port, write_config


def test_demo_prints_samples_and_stops_cleanly(
    session_config, trained, small_snapshots, mlflow_uri, tmp_path
):
    cfg = session_config.override(
        paths__features_path=small_snapshots,
        paths__reports_dir=tmp_path / "reports",
        paths__store_path=tmp_path / "data" / "store.db",
    )
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


def test_service_builds_the_snapshot_from_raw_at_start_up(
    session_config, trained, small_raw, mlflow_uri, tmp_path
):
    import httpx

    from features.dates import latest_as_of
    from serving.run import service_env, start_service, stop_service, wait_ready
    from store.db import connect
    from store.keys import add_key

    env = service_env(
        session_config,
        raw=small_raw,
        tracking_uri=mlflow_uri,
        config_path=write_config(session_config, tmp_path / "c.yaml"),
    )
    store = f"sqlite:///{tmp_path / 'store.db'}"
    env["CHURN_STORE_URL"] = store
    headers = {"Authorization": f"Bearer {add_key(connect(store), 'scheduler', 'raw-test')}"}
    port = free_port()
    with (tmp_path / "server.log").open("w") as log:
        proc = start_service(port, env, log=log)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, proc)
            version = httpx.get(f"{url}/version", headers=headers).json()
            assert version["as_of"] == latest_as_of(small_raw).isoformat()
            assert version["as_of_available"] == [version["as_of"]]
            top = httpx.post(f"{url}/call_list", json={"capacity": 2}, headers=headers).json()
            r = httpx.post(
                f"{url}/score",
                json={"client_ids": [top["clients"][0]["client_id"]]},
                headers=headers,
            )
            assert r.status_code == 200 and r.json()["as_of"] == version["as_of"]
        finally:
            stop_service(proc)
