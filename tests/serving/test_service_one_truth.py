"""One probability per client and week, whichever endpoint asks (issue 17, item 2).

A week is stored by model version 1; then a retrain registers version 2 and it is promoted
to champion, with no new week. A real server started after that (its alias now version 2)
must still answer the stored week's numbers everywhere: ``/score`` for a listed client
equals its ``/history`` newest probability and its ``/call_list`` row; ``/explain`` comes
from version 1, loaded by version, so its drivers add up to that same probability; posted
feature rows are scored by version 1 and say so. The old service rescored ``/score`` live
with whatever held the alias at start-up, so these disagreed after every retrain.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from week_helpers import Server, make_keys, running_service, weekly_config, write_test_week

from churn.config import Config
from serving.loading import load_model, load_snapshots
from store.db import connect


@pytest.fixture(scope="module")
def retrained(
    tmp_path_factory: pytest.TempPathFactory,
    session_config: Config,
    small_snapshots: Path,
    mlflow_switch: Any,
) -> Iterator[tuple[Server, pd.DataFrame, Any, Any]]:
    from training.pipeline import run_train
    from training.registry import promote_version

    work = tmp_path_factory.mktemp("one-truth")
    fresh = session_config.paths.under(work)
    cfg = weekly_config(session_config).override(
        paths__mlflow_tracking_uri=fresh.mlflow_tracking_uri,
        paths__mlflow_artifacts_dir=fresh.mlflow_artifacts_dir,
        paths__reports_dir=fresh.reports_dir,
        training__n_trials=1,
        training__bootstrap_rounds=20,
    )
    snap = load_snapshots(cfg, features_file=small_snapshots).get()
    with mlflow_switch(cfg.paths.mlflow_tracking_uri):
        run_train(cfg, raw=cfg.paths.raw_dir, features_file=small_snapshots, report=None)
        first = load_model(cfg, "champion")
        store = f"sqlite:///{work / 'store.db'}"
        engine = connect(store)
        write_test_week(
            engine,
            model=first.model,
            model_version=str(first.version),
            snapshot=snap,
            cfg=cfg,
            weeks_dir=work / "weeks",
            capacity=60,
        )
        # the retrain: another model registered and promoted, no new week
        second_cfg = cfg.override(
            training__seed=cfg.training.seed + 1, training__max_boost_rounds=40
        )
        run_train(second_cfg, raw=cfg.paths.raw_dir, features_file=small_snapshots, report=None)
        from mlflow import MlflowClient

        found = MlflowClient().search_model_versions(f"name='{cfg.registry.model_name}'")
        versions = sorted(int(v.version) for v in found)
        promote_version(cfg, version=versions[-1], reason="test: a retrain", by="test")
        second = load_model(cfg, "champion")
        assert second.version != first.version
        with running_service(
            cfg,
            work=work,
            store=store,
            tracking_uri=cfg.paths.mlflow_tracking_uri,
            keys=make_keys(engine),
        ) as server:
            yield server, snap, first, second
        engine.dispose()


def post(server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{server.url}{path}", json=body, headers=server.headers(), timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def test_every_endpoint_answers_the_stored_weeks_probability(retrained) -> None:
    server, snap, first, second = retrained
    listed = post(server, "/call_list", {"capacity": 10})
    assert listed["model_version"] == first.version
    row = listed["clients"][0]
    cid = int(row["client_id"])
    # the two models do disagree on this client: the check below could fail
    now = float(second.model.predict_proba(snap.loc[[cid]])[0])
    assert abs(now - row["probability"]) > 1e-6

    score = post(server, "/score", {"client_ids": [cid]})
    assert score["model_version"] == first.version
    history = post(server, "/history", {"client_id": cid})["history"]
    assert score["scores"][0]["probability"] == row["probability"]
    assert history[-1]["probability"] == row["probability"]
    assert history[-1]["model_version"] == first.version

    explain = post(server, "/explain", {"client_id": cid, "top_k": 3})
    assert explain["model_version"] == first.version
    assert explain["probability"] == pytest.approx(row["probability"], abs=1e-9)
    shown = explain["base_value"] + sum(c["contribution"] for c in explain["contributions"])
    assert 1 / (1 + np.exp(-shown)) == pytest.approx(row["probability"], abs=1e-9)

    ready = httpx.get(f"{server.url}/readyz", timeout=60).json()
    assert ready["model_version"] == first.version and "week_model_version" not in ready
    version = httpx.get(f"{server.url}/version", headers=server.headers(), timeout=60).json()
    assert version["model_version"] == first.version
    assert version["alias_version"] == second.version  # named, but not what answers


def test_posted_rows_say_which_model_scored_them(retrained) -> None:
    server, snap, first, _ = retrained
    cid = int(snap.index[0])
    row = snap.loc[cid]
    from features.catalog import CATALOG

    fields = [f.name for f in CATALOG if f.name not in ("client_id", "as_of")]
    body = {"clients": [{"client_id": cid, **{f: _json(row.get(f), f) for f in fields}}]}
    out = post(server, "/score", body)
    assert out["model_version"] == first.version and out["as_of"] is None
    stored = post(server, "/score", {"client_ids": [cid]})["scores"][0]["probability"]
    assert out["scores"][0]["probability"] == pytest.approx(stored, abs=1e-9)


def _json(value: Any, name: str) -> Any:
    """A snapshot value as the scheduler would post it (ints for integer features)."""
    from features.catalog import CATALOG

    if isinstance(value, str) or value is None:
        return value
    if pd.isna(value):
        return None
    ints = {f.name for f in CATALOG if f.dtype == "int"}
    return int(value) if name in ints and float(value).is_integer() else float(value)
