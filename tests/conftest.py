"""Session fixtures shared by every test package: one small generated client base, its
monthly snapshots, a real SQLite-backed MLflow store in a temp dir, and one trained and
registered model. Built once per session with the project's own generator and pipeline,
so tests exercise real parts, not mocks. Package-specific fixtures live in
``tests/<package>/conftest.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from churn.config import Config, load_config
from churn.tracking import use_tracking_uri
from simulator.config import SimulateConfig, load_simulate_config

# the `rule_free` fixture: the configured signal spec without the rule indicator
pytest_plugins = ["rule_free_helpers"]

SMALL_CLIENTS = 800
SMALL_MONTHS = 20
SMALL_SEED = 7


@pytest.fixture(scope="session")
def base_config() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def base_sim() -> SimulateConfig:
    """The generator's settings (``configs/simulate.yaml``)."""
    return load_simulate_config()


@pytest.fixture(scope="session")
def session_sim(base_sim: SimulateConfig) -> SimulateConfig:
    """The small base every session fixture generates."""
    return base_sim.override(
        clients=SMALL_CLIENTS,
        months=SMALL_MONTHS,
        seed=SMALL_SEED,
        reference__paths=16,  # the reference's precision is tested on its own base
    )


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="session")
def session_config(base_config: Config, work_dir: Path) -> Config:
    """The default config pointed at temp dirs, with a small, fast tuning budget."""
    return base_config.override(
        paths=base_config.paths.under(work_dir),
        training__n_trials=6,
        training__timeout_s=60,
        training__bootstrap_rounds=100,
    )


@pytest.fixture(scope="session")
def small_raw(session_config: Config, session_sim: SimulateConfig) -> Path:
    """A small generated client base in the raw-data contract."""
    from simulator.generate import simulate

    simulate(session_sim, session_config.paths.raw_dir)
    return session_config.paths.raw_dir


@pytest.fixture(scope="session")
def small_snapshots(session_config: Config, small_raw: Path) -> Path:
    """Monthly snapshots over the whole small base (one Parquet file)."""
    from features.build import run_features

    out = session_config.paths.features_path
    run_features(session_config, raw=small_raw, out=out, as_of=None, to=None, every="month")
    return out


@contextmanager
def switched_mlflow(uri: str) -> Iterator[str]:
    """Point MLflow (``MLFLOW_TRACKING_URI``, tracking and registry URIs) at ``uri`` for a
    block and put all three back afterwards, so a test's own fresh store does not leak into
    the session store other tests use. Shared by the fixtures that need an empty registry."""
    import mlflow

    old_tracking, old_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    use_tracking_uri(uri)
    try:
        yield uri
    finally:
        mp.undo()
        mlflow.set_tracking_uri(old_tracking)
        mlflow.set_registry_uri(old_registry)


@pytest.fixture(scope="session")
def mlflow_switch() -> Any:
    """:func:`switched_mlflow`, for fixtures in test packages (which cannot import this
    conftest by name): ``with mlflow_switch(uri): ...``."""
    return switched_mlflow


@pytest.fixture(scope="session")
def mlflow_uri(session_config: Config) -> str:
    """A real MLflow tracking + registry store (SQLite) in a temp dir, for this session."""
    uri = session_config.paths.mlflow_tracking_uri
    os.environ["MLFLOW_TRACKING_URI"] = uri
    return use_tracking_uri(uri)


@pytest.fixture(scope="session")
def trained(session_config: Config, small_snapshots: Path, mlflow_uri: str) -> dict[str, Any]:
    """Train, evaluate and register one model on the small base; returns the report."""
    from simulator.truth import TRUTH_DIR, TRUTH_HORIZON_FILE
    from training.pipeline import run_train

    report_path = session_config.paths.reports_dir / "train.json"
    run_train(
        session_config,
        raw=session_config.paths.raw_dir,
        features_file=small_snapshots,
        report=report_path,
        reference=session_config.paths.raw_dir / TRUTH_DIR / TRUTH_HORIZON_FILE,
    )
    return json.loads(report_path.read_text())


@pytest.fixture(scope="session")
def closed_loop(
    base_config: Config,
    tmp_path_factory: pytest.TempPathFactory,
    mlflow_uri: str,
    trained: dict[str, Any],
) -> dict[str, Any]:
    """One small closed-loop run (``churn simulate-weeks`` + ``churn uplift``), shared by its
    tests and notebook 04; it takes the session's registered champion (``--registry``)
    rather than training its own (``tests/cli`` covers the training path too)."""
    from loop_helpers import run_closed_loop

    assert trained["model_version"]
    return run_closed_loop(base_config, tmp_path_factory.mktemp("closed_loop"), mlflow_uri)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str | None]:
    """A superuser URL on a PostgreSQL server for this session, or ``None`` (see
    ``tests/pg_server.py``): ``CHURN_TEST_PG_URL`` if set, else a throwaway server that is
    stopped when the session ends."""
    from pg_server import PG_URL_ENV, PgServer

    if external := os.environ.get(PG_URL_ENV):
        yield external
        return
    server = PgServer().start()
    _PG_STATE["reason"] = server.reason
    try:
        yield server.url
    finally:
        server.stop()


_PG_STATE: dict[str, str] = {"reason": ""}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty score store on each backend: a SQLite file in the test's temp dir, or
    a new database on the session's PostgreSQL server (skipped, with the reason, when no
    server could be started)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    admin = request.getfixturevalue("pg_admin_url")
    if admin is None:
        pytest.skip(f"PostgreSQL unavailable: {_PG_STATE['reason']}")
    from pg_server import create_database

    return create_database(admin)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession for the whole test session (JVM start-up is ~10 s): two
    cores, 1 GB, no UI, 4 shuffle partitions (``features.spark.local_session``)."""
    from features.spark import local_session

    session = local_session(cores=2, driver_memory="1g")
    yield session
    session.stop()
