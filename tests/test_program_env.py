"""Tests that run the program as an operator does get their own registry and store, not
the session's (``program_env``): ``tests/test_generic_loop.py`` failed after any test that
used the ``mlflow_uri`` session fixture, its server looking for its model in the session's
MLflow database."""

from __future__ import annotations

import os

from program_env import PROGRAM_VARS, program_env, without_program_vars

from churn.config import load_config
from serving.run import absolute_sqlite, service_env
from store.db import store_url


def test_the_session_registry_and_store_do_not_reach_the_programs_own(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////session/mlflow.db")
    monkeypatch.setenv("CHURN_STORE_URL", "sqlite:////session/store.db")
    monkeypatch.setenv("CHURN_MODEL_ALIAS", "session-alias")
    monkeypatch.setenv("UNRELATED_SETTING", "kept")
    env = program_env()
    assert not set(PROGRAM_VARS) & set(env) and env["UNRELATED_SETTING"] == "kept"

    paths = load_config().paths.under(tmp_path)
    cfg = load_config().model_copy(update={"paths": paths})
    with without_program_vars():
        served = service_env(cfg, config_path=tmp_path / "config.yaml")
        assert store_url(cfg) == f"sqlite:///{paths.store_path}"
    assert served["MLFLOW_TRACKING_URI"] == absolute_sqlite(paths.mlflow_tracking_uri)
    assert served["CHURN_STORE_URL"] == absolute_sqlite(f"sqlite:///{paths.store_path}")
    assert served["CHURN_MODEL_ALIAS"] == cfg.serving.alias
    # and put back after the block
    assert os.environ["MLFLOW_TRACKING_URI"] == "sqlite:////session/mlflow.db"
