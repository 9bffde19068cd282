"""One fresh server per store backend (SQLite file, throwaway PostgreSQL): it starts on an
empty store (every data endpoint 503 "no week scored yet: run churn weekly", and /readyz
says so), serves each new week written while it runs, without a restart, and takes 20
concurrent ``/outcomes`` posters without losing one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from week_helpers import (
    Server,
    concurrent_posters,
    make_keys,
    running_service,
    weekly_config,
    write_test_week,
)

from store.db import connect
from store.outcomes import count_outcomes


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fresh_service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    session_config: Any,
    champion: Any,
    mlflow_uri: str,
) -> Iterator[Server]:
    work = tmp_path_factory.mktemp(f"fresh-{request.param}")
    if request.param == "sqlite":
        store = f"sqlite:///{work / 'store.db'}"
    else:
        from pg_server import create_database

        admin = request.getfixturevalue("pg_admin_url")
        if admin is None:
            pytest.skip("PostgreSQL unavailable (no server could be started: tests/pg_server.py)")
        store = create_database(admin)
    engine = connect(store)
    cfg = weekly_config(session_config)
    with running_service(
        cfg,
        work=work,
        store=store,
        tracking_uri=mlflow_uri,
        keys=make_keys(engine),
        no_week_ok=True,
    ) as server:
        server.extra.update(engine=engine, cfg=cfg, work=work)
        yield server


NO_WEEK = "no week scored yet: run churn weekly"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/score", {"client_ids": [1]}),
        ("/explain", {"client_id": 1}),
        ("/call_list", {"capacity": 5}),
        ("/history", {"client_id": 1}),
        ("/find", {"query": "1"}),
    ],
)
def test_no_week_stored_means_503_and_readyz_says_so(fresh_service, path, body):
    ready = httpx.get(f"{fresh_service.url}/readyz", timeout=60)
    assert ready.status_code == 503 and ready.json()["error"] == NO_WEEK, ready.text
    r = httpx.post(f"{fresh_service.url}{path}", json=body, headers=fresh_service.headers())
    assert r.status_code == 503, r.text
    assert r.json()["error"] == NO_WEEK


def _served(server: Server, want: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    ready: dict[str, Any] = {}
    while time.monotonic() < deadline:
        ready = httpx.get(f"{server.url}/readyz", timeout=60).json()
        if ready.get("as_of") == want:
            break
        time.sleep(0.2)
    return ready


def test_a_new_week_is_served_without_a_restart(fresh_service, champion, snapshot_weeks):
    engine, cfg = fresh_service.extra["engine"], fresh_service.extra["cfg"]
    assert httpx.get(f"{fresh_service.url}/readyz", timeout=60).status_code == 503
    headers = fresh_service.headers()
    for snapshot in snapshot_weeks[-3:-1]:
        as_of = write_test_week(
            engine,
            model=champion.model,
            model_version=str(champion.version),
            snapshot=snapshot,
            cfg=cfg,
            weeks_dir=fresh_service.extra["work"] / "weeks",
        )
        ready = _served(fresh_service, as_of.isoformat())
        want = (as_of.isoformat(), str(champion.version))
        assert (ready["as_of"], ready["model_version"]) == want, ready
        version = httpx.get(f"{fresh_service.url}/version", headers=headers, timeout=60).json()
        assert version["as_of"] == as_of.isoformat()
        calls = httpx.post(
            f"{fresh_service.url}/call_list", json={"capacity": 5}, headers=headers, timeout=60
        ).json()
        assert calls["as_of"] == as_of.isoformat()


def test_twenty_concurrent_posters_lose_nothing(fresh_service, snapshot_weeks):
    engine = fresh_service.extra["engine"]
    ids = snapshot_weeks[-2].index[:50].tolist()  # the served week's clients: known
    assert count_outcomes(engine) == 0
    inserted, known, distinct = concurrent_posters(
        fresh_service.url, fresh_service.keys["scheduler"], ids, "pg"
    )
    assert inserted + known == 20 * 5 * 8
    assert count_outcomes(engine) == inserted == distinct
