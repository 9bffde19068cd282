"""Serving fixtures: a small real model for library tests, and one real BentoML server
per test session (``service_url``) that other packages' tests (the UI test) reuse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from serving_helpers import make_model, make_snapshot

from churn.config import Config
from serving.run import (
    free_port,
    service_env,
    start_service,
    stop_service,
    wait_ready,
    write_config,
)
from training.model import ChurnModel

READY_TIMEOUT_S = 180
EXTERNAL_URL_ENV = "CHURN_TEST_SERVICE_URL"


@pytest.fixture(scope="session")
def tiny_snapshot() -> pd.DataFrame:
    return make_snapshot(n=300, seed=1)


@pytest.fixture(scope="session")
def tiny_model(tiny_snapshot: pd.DataFrame) -> ChurnModel:
    return make_model(tiny_snapshot, seed=1)


@pytest.fixture(scope="session")
def service_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``bentoml serve`` on a free localhost port with the session's champion and snapshots;
    the whole process group is killed at the end of the session. With
    ``CHURN_TEST_SERVICE_URL`` set, the tests use that running server instead."""
    if external := os.environ.get(EXTERNAL_URL_ENV):
        yield external.rstrip("/")
        return
    session_config: Config = request.getfixturevalue("session_config")
    request.getfixturevalue("trained")
    small_snapshots: Path = request.getfixturevalue("small_snapshots")
    mlflow_uri: str = request.getfixturevalue("mlflow_uri")
    work = tmp_path_factory.mktemp("service")
    env = service_env(
        session_config,
        features_file=small_snapshots,
        alias="champion",
        tracking_uri=mlflow_uri,
        config_path=write_config(session_config, work / "config.yaml"),
    )
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
