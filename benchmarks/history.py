"""``/history`` latency with 100 000 clients x 26 weeks in the score store (issue 9: p99 < 20 ms).

Fills a SQLite store (WAL, the migrated schema) by bulk insert: ``--clients`` clients scored
in each of ``--weeks`` weekly runs, one outcome for every tenth client. Then it times
``--requests`` random clients (a fixed seed) two ways, in the same run:

* ``inproc``: :func:`serving.stored.history_answer`, exactly what the ``/history`` endpoint
  runs (the store's history and outcomes queries, JSON records, response validation);
* ``http`` (with ``--http``): the real BentoML service over that store, sequential
  ``POST /history`` with an API key. The service needs a champion: the configured one
  (``make demo``), else ``benchmarks/service.py``'s small generated base (minutes).

It also prints SQLite's plan for the history query, to show the ``(client_id, as_of)``
index is used. One JSON line: p50/p99 in ms, rows stored, fill time, ``targets_met``.
Usage: ``python benchmarks/history.py [--clients 100000 --weeks 26 --requests 2000 --http]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks._sibling import sibling  # noqa: E402 - after the repo is on sys.path

TARGET_P99_MS = 20.0
FIRST_WEEK = date(2025, 1, 6)
MODEL_VERSION = "1"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def fill(path: Path, clients: int, weeks: int, seed: int, snapshot_path: str | None) -> float:
    """Migrate an empty SQLite store at ``path`` and bulk-insert the weeks; seconds taken."""
    from store.db import connect

    connect(f"sqlite:///{path}")  # the schema (and its indexes) by the Alembic migrations
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    ids = np.arange(1, clients + 1, dtype=np.int64)
    created = datetime(2025, 1, 1, tzinfo=UTC)
    with con:
        for w in range(weeks):
            as_of = (FIRST_WEEK + timedelta(weeks=w)).isoformat()
            con.execute(
                "INSERT INTO weeks (as_of, model_version, created_at, n_clients, snapshot_path,"
                " status) VALUES (?, ?, ?, ?, ?, 'complete')",
                (
                    as_of,
                    MODEL_VERSION,
                    (created + timedelta(weeks=w)).isoformat(sep=" "),
                    clients,
                    snapshot_path if w == weeks - 1 else None,
                ),
            )
            p = rng.beta(1.2, 8.0, size=clients)
            band = np.where(p >= 0.5, "high", np.where(p >= 0.3, "dynamic", "no_threat"))
            contact = rng.choice([0.2, 0.3, 0.5, 0.7], size=clients)
            rank = np.argsort(np.argsort(-p)) + 1
            evidence = np.where(rng.random(clients) < 0.1, "limited", "full")
            rows = zip(
                [as_of] * clients,
                [MODEL_VERSION] * clients,
                ids.tolist(),
                p.tolist(),
                band.tolist(),
                contact.tolist(),
                np.where(contact >= 0.34, "high", "no_threat").tolist(),
                rank.tolist(),
                evidence.tolist(),
                strict=True,
            )
            con.executemany(
                "INSERT INTO weekly_scores (as_of, model_version, client_id, probability,"
                " risk_band, contact_index, rule_band, rank, evidence)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        last = FIRST_WEEK + timedelta(weeks=weeks - 1)
        called = ids[::10]
        con.executemany(
            "INSERT INTO outcomes (outcome_id, client_id, called_on, reached, result, note,"
            " received_at) VALUES (?, ?, ?, 1, 'callback', NULL, ?)",
            ((f"bench-{c}", int(c), last.isoformat(), created.isoformat(sep=" ")) for c in called),
        )
    con.execute("ANALYZE")
    con.close()
    return time.perf_counter() - t0


def query_plan(path: Path) -> str:
    """SQLite's plan for the history query as the store runs it (compiled by SQLAlchemy)."""
    import sqlalchemy as sa

    from store.db import connect
    from store.weeks import _client_weeks, weekly_scores  # the query itself

    engine = connect(f"sqlite:///{path}")
    query = _client_weeks(42).order_by(weekly_scores.c.as_of.desc()).limit(26)
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")).fetchall()
    return " | ".join(str(r[-1]) for r in rows)


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def time_each(fn: Any, ids: list[int], warmup: int = 0) -> list[float]:
    """Seconds per call: ``benchmarks/service.py``'s timer, so both benchmarks time alike."""
    return sibling("service").time_calls(fn, ids, warmup)


def measure_inproc(path: Path, sample: list[int], weeks: int) -> dict[str, Any]:
    """The endpoint's work per client, after one untimed pass over the sample (a served
    store is warm), each call next to a ``SELECT 1`` on the same engine: the box's noise
    floor for one database round trip, measured in the same seconds."""
    import sqlalchemy as sa

    from serving.schemas import HistoryResponse
    from serving.stored import history_answer
    from store.db import connect

    engine = connect(f"sqlite:///{path}")

    def one(cid: int) -> None:
        out = history_answer(engine, cid, weeks, lambda _cid: False)
        assert len(out["history"]) == weeks
        HistoryResponse.model_validate(out)

    def floor(_cid: int) -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1")).scalar_one()

    for cid in sample:  # warm-up pass
        one(cid)
    calls: list[float] = []
    floors: list[float] = []
    for cid in sample:
        calls += time_each(one, [cid], warmup=0)
        floors += time_each(floor, [cid], warmup=0)
    return {**percentiles(calls), "select1_p99_ms": percentiles(floors)["p99_ms"]}


def measure_http(
    bench: Any, setup: Any, path: Path, work: Path, sample: list[int], weeks: int
) -> dict[str, float]:
    import httpx

    with (
        bench.running_server(setup, work, store=f"sqlite:///{path}", store_latest=False) as url,
        httpx.Client(base_url=url, timeout=60, headers=bench.HEADERS) as client,
    ):

        def one(cid: int) -> None:
            r = client.post("/history", json={"client_id": cid, "weeks": weeks})
            r.raise_for_status()

        def floor(_cid: int) -> None:  # an HTTP round trip doing nothing: /healthz
            client.get("/healthz").raise_for_status()

        calls: list[float] = []
        floors: list[float] = []
        time_each(one, sample[:50], warmup=0)
        for cid in sample:
            calls += time_each(one, [cid], warmup=0)
            floors += time_each(floor, [cid], warmup=0)
        return {**percentiles(calls), "healthz_p99_ms": percentiles(floors)["p99_ms"]}


def served_snapshot(bench: Any, setup: Any, work: Path, weeks: int) -> str:
    """A snapshot Parquet for the newest bench week (the service must load one to serve
    the week): the configured or generated setup's latest snapshot, re-dated."""
    import pandas as pd

    snapshot = bench.latest_snapshot(setup).reset_index(drop=True)
    last = FIRST_WEEK + timedelta(weeks=weeks - 1)
    snapshot["as_of"] = pd.Timestamp(last, tz="UTC")
    out = work / "weeks" / f"as_of={last.isoformat()}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    snapshot.to_parquet(out, index=False)
    return str(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=100_000)
    p.add_argument("--weeks", type=int, default=26)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--http", action="store_true", help="also time the real service over HTTP")
    p.add_argument("--work", type=Path, default=None, help="keep the store and logs here")
    return p.parse_args(argv)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    path = work / "store.db"
    if path.exists():
        path.unlink()
    bench = setup = snapshot_path = None
    if args.http:
        bench = sibling("service")
        setup = bench.prepare(bench.parse_args([]), work)
        snapshot_path = served_snapshot(bench, setup, work, args.weeks)
    took = fill(path, args.clients, args.weeks, args.seed, snapshot_path)
    log(f"filled {args.clients} clients x {args.weeks} weeks in {took:.1f} s")
    rng = random.Random(args.seed)
    sample = [rng.randint(1, args.clients) for _ in range(args.requests)]
    result: dict[str, Any] = {
        "clients": args.clients,
        "weeks": args.weeks,
        "rows": args.clients * args.weeks,
        "requests": args.requests,
        "fill_s": round(took, 1),
        "plan": query_plan(path),
    }
    result["inproc"] = measure_inproc(path, sample, args.weeks)
    log(f"in-process: {result['inproc']}")
    if args.http:
        result["http"] = measure_http(bench, setup, path, work, sample, args.weeks)
        log(f"http: {result['http']}")
    result["index_used"] = "ix_weekly_scores_client_id_as_of" in result["plan"]
    worst = result.get("http", result["inproc"])["p99_ms"]
    result["targets_met"] = {"history_p99_ms<20": worst < TARGET_P99_MS}
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.work is None:
        with tempfile.TemporaryDirectory(prefix="churn-history-") as tmp:
            result = run(args, Path(tmp))
    else:
        args.work.mkdir(parents=True, exist_ok=True)
        result = run(args, args.work.resolve())
    print(json.dumps(result), flush=True)
    return 0 if all(result["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
