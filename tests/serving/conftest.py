"""Serving fixtures: a small real model for library tests, and real BentoML servers that
other packages' tests (the UI test) reuse:

* ``service_url``: one server per session with the session's champion over a score store
  holding API keys and the last three monthly snapshots as stored weeks (the service only
  reads stored weeks), every profitable client listed; ``service_keys`` are its keys by
  role (plus a revoked and an unknown one);
* ``weekly_service``: one server per session over a store with two weeks written from the
  session's snapshots (``week_helpers.write_test_week``), polling the store every second.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from serving_helpers import make_model, make_snapshot
from week_helpers import Server, make_keys, running_service, weekly_config, write_test_week

from churn.config import Config
from serving.loading import load_model, load_snapshots
from serving.run import (
    free_port,
    service_env,
    start_service,
    stop_service,
    wait_ready,
    write_config,
)
from store.db import connect
from training.model import ChurnModel

READY_TIMEOUT_S = 180
SERVICE_WEEKS = 3  # monthly snapshots stored as weeks for the session server
EXTERNAL_URL_ENV = "CHURN_TEST_SERVICE_URL"  # with CHURN_STORE_URL: that server's store


@pytest.fixture(scope="session")
def tiny_snapshot() -> pd.DataFrame:
    return make_snapshot(n=300, seed=1)


@pytest.fixture(scope="session")
def tiny_model(tiny_snapshot: pd.DataFrame) -> ChurnModel:
    return make_model(tiny_snapshot, seed=1)


@pytest.fixture(scope="session")
def service_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session server's score store (keys; weeks written by ``service_url``)."""
    if os.environ.get(EXTERNAL_URL_ENV) and os.environ.get("CHURN_STORE_URL"):
        return os.environ["CHURN_STORE_URL"]
    return f"sqlite:///{tmp_path_factory.mktemp('service-store') / 'store.db'}"


@pytest.fixture(scope="session")
def service_keys(service_store: str) -> dict[str, str]:
    """Keys by role for the session server (and 'revoked', 'unknown')."""
    prefix = f"test-{os.getpid()}" if os.environ.get(EXTERNAL_URL_ENV) else "test"
    return make_keys(connect(service_store), prefix)


@pytest.fixture(scope="session")
def admin_headers(service_keys: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {service_keys['admin']}"}


@pytest.fixture(scope="session")
def service_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    service_store: str,
    service_keys: dict[str, str],
) -> Iterator[str]:
    """``bentoml serve`` on a free localhost port with the session's champion and stored weeks;
    the whole process group is killed at the end of the session. With
    ``CHURN_TEST_SERVICE_URL`` set, the tests use that running server instead."""
    if external := os.environ.get(EXTERNAL_URL_ENV):
        yield external.rstrip("/")
        return
    session_config: Config = request.getfixturevalue("session_config")
    mlflow_uri: str = request.getfixturevalue("mlflow_uri")
    request.getfixturevalue("trained")
    champion = load_model(session_config, "champion")
    small_snapshots: Path = request.getfixturevalue("small_snapshots")
    snaps = load_snapshots(session_config, features_file=small_snapshots)
    snapshot_weeks = [snaps.get(t) for t in sorted(snaps.by_as_of)]
    work = tmp_path_factory.mktemp("service")
    engine = connect(service_store)
    for snap in snapshot_weeks[-SERVICE_WEEKS:]:
        write_test_week(
            engine,
            model=champion.model,
            model_version=str(champion.version),
            snapshot=snap,
            cfg=session_config,
            weeks_dir=work / "weeks",
            capacity=len(snap),
        )
    engine.dispose()
    env = service_env(
        session_config,
        alias="champion",
        tracking_uri=mlflow_uri,
        config_path=write_config(session_config, work / "config.yaml"),
    )
    env["CHURN_STORE_URL"] = service_store
    env["BENTOML_HOME"] = str(work / "bentoml")
    port = free_port()
    with (work / "server.log").open("w") as log:
        proc = start_service(port, env, log=log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, proc, READY_TIMEOUT_S)
            yield url
        finally:
            stop_service(proc)


@pytest.fixture(scope="session")
def champion(session_config: Config, mlflow_uri: str, trained: dict[str, Any]) -> Any:
    """The session's registered champion (``training.registry.LoadedModel``)."""
    return load_model(session_config, "champion")


@pytest.fixture(scope="session")
def snapshot_weeks(session_config: Config, small_snapshots: Path) -> list[pd.DataFrame]:
    """The session's monthly snapshots, oldest first (each indexed by client_id)."""
    snaps = load_snapshots(session_config, features_file=small_snapshots)
    return [snaps.get(t) for t in sorted(snaps.by_as_of)]


@pytest.fixture(scope="session")
def weekly_service(
    tmp_path_factory: pytest.TempPathFactory,
    session_config: Config,
    champion: Any,
    snapshot_weeks: list[pd.DataFrame],
    mlflow_uri: str,
) -> Iterator[Server]:
    """A server over a SQLite store holding the last two monthly snapshots as two stored
    weeks; ``extra['weeks']`` are their dates, ``extra['engine']`` the store."""
    work = tmp_path_factory.mktemp("weekly-service")
    store = f"sqlite:///{work / 'store.db'}"
    engine = connect(store)
    cfg = weekly_config(session_config)
    weeks = [
        write_test_week(
            engine,
            model=champion.model,
            model_version=str(champion.version),
            snapshot=snap,
            cfg=cfg,
            weeks_dir=work / "weeks",
        )
        for snap in snapshot_weeks[-2:]
    ]
    keys = make_keys(engine)
    with running_service(
        cfg,
        work=work,
        store=store,
        tracking_uri=mlflow_uri,
        keys=keys,
    ) as server:
        server.extra.update(engine=engine, weeks=weeks, cfg=cfg)
        yield server
