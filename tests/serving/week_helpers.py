"""Stored weeks and running servers for the service tests.

``write_test_week`` stores one week the way ``churn weekly`` does (its ``score_week`` on
real snapshot rows: scores of every client, the call list with the randomised holdout, the
snapshot Parquet beside it), so the service reads a week exactly as in production.
``running_service`` starts the real BentoML server on a free port for a given config and
store.
"""

from __future__ import annotations

import concurrent.futures
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from sqlalchemy.engine import Engine

from churn.config import Config
from serving.run import (
    free_port,
    service_env,
    start_service,
    stop_service,
    wait_ready,
    write_config,
)
from store.keys import add_key, revoke_key
from store.weeks import write_week

ROLES = ("scheduler", "supervisor", "admin")
READY_TIMEOUT_S = 180


def write_test_week(
    engine: Engine,
    *,
    model: Any,
    model_version: str,
    snapshot: pd.DataFrame,
    cfg: Config,
    weeks_dir: Path,
    capacity: int = 40,
    exclude: set[int] | None = None,
    shap_weeks: int | None = None,
) -> date:
    """Score ``snapshot`` (one as_of, indexed by client_id) as ``churn weekly`` does
    (``serving.weekly.score_week``), write its Parquet and store the week; ``exclude``
    leaves clients out of the call list (called recently); ``shap_weeks``: clear the stored
    SHAP values of older weeks as ``store.shap_weeks`` does (None: keep them all)."""
    from serving.weekly import score_week

    rows = snapshot.reset_index(drop=True)
    as_of = pd.Timestamp(rows["as_of"].iloc[0]).date()
    weeks_dir.mkdir(parents=True, exist_ok=True)
    path = weeks_dir / f"as_of={as_of.isoformat()}.parquet"
    rows.to_parquet(path, index=False)
    frames = score_week(
        model, rows, cfg=cfg, as_of=as_of, recently_called=exclude or set(), capacity=capacity
    )
    write_week(
        engine,
        as_of=as_of,
        model_version=model_version,
        scores=frames.scores,
        call_list=frames.call_list,
        snapshot_path=str(path),
        shap_weeks=shap_weeks,
    )
    return as_of


def make_keys(engine: Engine, prefix: str = "test") -> dict[str, str]:
    """A key per role, plus a revoked one and one that was never issued."""
    keys = {role: add_key(engine, role, f"{prefix}-{role}") for role in ROLES}
    keys["revoked"] = add_key(engine, "admin", f"{prefix}-revoked")
    revoke_key(engine, f"{prefix}-revoked")
    keys["unknown"] = "ck_" + "x" * 43
    return keys


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Server:
    """A running service: its URL, store, keys and log."""

    url: str
    store_url: str
    keys: dict[str, str]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def headers(self, role: str = "admin") -> dict[str, str]:
        return bearer(self.keys[role])


@contextmanager
def running_service(
    cfg: Config,
    *,
    work: Path,
    store: str,
    tracking_uri: str,
    keys: dict[str, str],
    no_week_ok: bool = False,
) -> Iterator[Server]:
    """``bentoml serve`` on a free port over ``store``; ``no_week_ok``: started over a
    store without a week yet (it answers 503 until one is stored). The whole process group
    is stopped afterwards."""
    work.mkdir(parents=True, exist_ok=True)
    env = service_env(
        cfg,
        alias="champion",
        tracking_uri=tracking_uri,
        config_path=write_config(cfg, work / "config.yaml"),
    )
    env["CHURN_STORE_URL"] = store
    env["BENTOML_HOME"] = str(work / "bentoml")
    port = free_port()
    log_path = work / "server.log"
    with log_path.open("w") as log:
        proc = start_service(port, env, log=log)
        url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_ready(url, proc, READY_TIMEOUT_S, no_week_ok=no_week_ok)
            except Exception as exc:
                raise RuntimeError(f"{exc}\n{log_path.read_text()[-3000:]}") from exc
            yield Server(url=url, store_url=store, keys=keys, log=log_path)
        finally:
            stop_service(proc)


def outcome_row(oid: str, cid: int, **over: Any) -> dict[str, Any]:
    row = {
        "outcome_id": oid,
        "client_id": cid,
        "called_on": "2025-09-03",
        "reached": True,
        "result": "callback",
        "note": None,
    }
    return {**row, **over}


def concurrent_posters(url: str, key: str, ids: list[int], prefix: str) -> tuple[int, int, int]:
    """20 threads × 5 batches of 8 outcomes over a shared pool of outcome ids (so posters
    race on the same ids, each id one call: the same content wherever it is sent); returns
    (acknowledged inserted, acknowledged known, distinct)."""
    rng = random.Random(7)
    pool = {f"{prefix}-{i}": rng.choice(ids) for i in range(300)}
    batches = [
        [outcome_row(oid, pool[oid]) for oid in rng.sample(sorted(pool), 8)] for _ in range(20 * 5)
    ]

    def poster(worker: int) -> tuple[int, int]:
        inserted = known = 0
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            for batch in batches[worker * 5 : worker * 5 + 5]:
                r = client.post("/outcomes", json={"outcomes": batch}, timeout=120)
                assert r.status_code == 200, r.text
                inserted += r.json()["inserted"]
                known += r.json()["already_recorded"]
        return inserted, known

    with concurrent.futures.ThreadPoolExecutor(20) as pool_:
        results = list(pool_.map(poster, range(20)))
    distinct = len({row["outcome_id"] for batch in batches for row in batch})
    return sum(r[0] for r in results), sum(r[1] for r in results), distinct


def weekly_config(cfg: Config) -> Config:
    """``cfg`` with a one-second week poll and key cache (tests see changes at once)."""
    return cfg.override(serving__week_poll_s=1.0, serving__key_cache_s=1.0)
