"""Service benchmark: what HTTP costs on top of the library, and whether it holds under load.

Self-contained: with a champion under ``MLFLOW_TRACKING_URI`` (or the configured store) it
uses that model and the configured snapshot; otherwise it generates a small base, builds
snapshots and trains a small model in a temp dir. The newest snapshot is stored as a week
(``serving.weekly.build_week``, as ``churn weekly`` does: the service only reads stored
weeks). It then starts the real BentoML server on a free localhost port and prints ONE
JSON line with

* ``score_p50_ms_http`` / ``score_p99_ms_http``: sequential single-client ``/score``;
* ``explain_p50_ms_http`` / ``explain_p99_ms_http``: sequential ``/explain``;
* ``bulk_rows_per_s_http``: ``/score`` with 10 000 ids (ids repeated if the snapshot is
  smaller);
* the same five measured in-process in the same run (``*_inproc``: ``score_frame`` and
  ``serving.stored.explain_answer``, what ``/explain`` runs: the stored week's SHAP values
  worded, with what changed), and the ratios ``bulk_http_over_inproc`` (target >= 0.30)
  and ``explain_p99_http_over_inproc`` (target <= 2); ``explain_computed_*_ms_inproc``:
  ``explain_client``, SHAP computed per request (what ``/explain`` did before the weekly
  run stored every client's SHAP values, and still does for a week stored without them);
* ``load``: 20 concurrent async clients for 30 s against ``/score`` and ``/explain``:
  requests, errors (must be 0), throughput and p50/p99 (targets, issue 17: >= 300
  requests/s, stored-client ``/score`` p99 <= 100 ms, ``explain_p99_http_over_inproc``
  <= 2); ``load_score_only``: the same clients against ``/score`` alone (a lookup). The
  clients are aiohttp's (``--client httpx``: httpx's, which cost about 5 ms of CPU per
  request against the service's 1-3 ms, so on 2 cores they, not the service, bounded the
  throughput).

Only localhost traffic. Usage: ``python benchmarks/service.py [--load-seconds 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from churn.config import Config, load_config  # noqa: E402

HEADERS: dict[str, str] = {}  # the benchmark's API key (set when its server starts)
TARGET_BULK_RATIO = 0.30
TARGET_EXPLAIN_RATIO = 2.0
TARGET_SCORE_RPS = 300.0
TARGET_SCORE_P99_MS = 100.0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Setup:
    """What the benchmark runs against: a config file, its MLflow store and snapshot."""

    cfg: Config
    config_path: Path
    tracking_uri: str
    features_path: Path
    source: str  # "champion" or "generated"


# ------------------------------------------------------------------------- setup --


def _write_config(cfg: Config, path: Path) -> Path:
    """The full config (rules and reasons included) as a file the server loads."""
    from serving.run import write_config

    return write_config(cfg, path)


def _set_tracking(uri: str) -> None:
    from churn.tracking import use_tracking_uri

    os.environ["MLFLOW_TRACKING_URI"] = uri
    use_tracking_uri(uri)


def _champion_setup(cfg: Config, work: Path) -> Setup | None:
    """The configured champion and snapshot, when both exist."""
    from training.registry import load_by_alias

    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg.paths.mlflow_tracking_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return None
    if not Path(cfg.paths.features_path).exists():
        return None
    _set_tracking(uri)
    try:
        load_by_alias(cfg)
    except Exception as exc:  # no registered model / alias: fall back to generating one
        log(f"no champion under {uri} ({type(exc).__name__}: {exc}); generating a small base")
        return None
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{Path(uri.removeprefix('sqlite:///')).resolve()}"
        _set_tracking(uri)
    cfg = cfg.override(
        paths__features_path=Path(cfg.paths.features_path).resolve(),
        paths__raw_dir=Path(cfg.paths.raw_dir).resolve(),
        paths__mlflow_tracking_uri=uri,
    )
    path = _write_config(cfg, work / "config" / "default.yaml")
    return Setup(cfg, path, uri, cfg.paths.features_path, "champion")


def _generated_setup(cfg: Config, work: Path, clients: int, months: int, trials: int) -> Setup:
    """Generate a small base, build snapshots and train + register a small model."""
    from features.build import run_features
    from simulator.config import load_simulate_config
    from simulator.generate import simulate
    from training.pipeline import run_train

    cfg = cfg.override(
        paths=cfg.paths.under(work),
        training__n_trials=trials,
        training__timeout_s=120,
        training__bootstrap_rounds=50,
    )
    sim = load_simulate_config().override(clients=clients, months=months)
    _set_tracking(cfg.paths.mlflow_tracking_uri)

    t0 = time.perf_counter()
    simulate(sim, cfg.paths.raw_dir)
    run_features(
        cfg, raw=cfg.paths.raw_dir, out=cfg.paths.features_path, as_of=None, to=None, every="month"
    )
    run_train(
        cfg,
        raw=cfg.paths.raw_dir,
        features_file=cfg.paths.features_path,
        report=cfg.paths.reports_dir / "train.json",
    )
    took = time.perf_counter() - t0
    log(f"generated {clients} clients x {months} months and trained in {took:.0f} s")
    path = _write_config(cfg, work / "config" / "default.yaml")
    return Setup(cfg, path, cfg.paths.mlflow_tracking_uri, cfg.paths.features_path, "generated")


def latest_snapshot(setup: Setup) -> pd.DataFrame:
    """The newest ``as_of``, indexed by client_id, read exactly as the service reads it."""
    from serving.loading import load_snapshots

    return load_snapshots(setup.cfg, features_file=setup.features_path).get()


# ------------------------------------------------------------------------ server --


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    setup: Setup,
    work: Path,
    startup_timeout_s: float = 240,
    store: str | None = None,
    store_latest: bool = True,
) -> Iterator[str]:
    """The real service (``serving.run``, as ``churn serve`` starts it) on a free localhost
    port over ``store`` (default: a fresh one in ``work``; ``store_latest``: the newest
    snapshot stored as a week first); yields its base URL and stops the whole process
    group afterwards."""
    from serving.run import service_env, start_service, stop_service

    env = service_env(
        setup.cfg,
        tracking_uri=setup.tracking_uri,
        config_path=setup.config_path,
    )
    env["BENTOML_HOME"] = str(work / "bentoml")
    # a throwaway score store holding one admin key: every request must carry a key
    from store.db import connect
    from store.keys import add_key

    store = store or f"sqlite:///{work / 'store.db'}"
    env["CHURN_STORE_URL"] = store
    if store_latest:
        store_week(setup, connect(store), work / "weeks")
    name = f"bench-admin-{os.getpid()}-{time.time_ns()}"  # a kept store may hold earlier ones
    HEADERS["Authorization"] = f"Bearer {add_key(connect(store), 'admin', name)}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = work / "server.log"
    with log_path.open("w") as log_file:
        proc = start_service(port, env, log=log_file)
        try:
            try:
                wait_ready_or_failed(url, proc, startup_timeout_s)
            except (RuntimeError, TimeoutError) as exc:
                raise RuntimeError(f"{exc}\n{log_path.read_text()[-3000:]}") from exc
            yield url
        finally:
            stop_service(proc)


def store_week(setup: Setup, engine: Any, weeks_dir: Path) -> None:
    """The newest snapshot as a stored week, built by the weekly run's one builder
    (``serving.weekly.build_week``) and written as ``churn weekly`` writes it."""
    from serving.weekly import build_week
    from store.weeks import get_week, read_scores, write_week
    from training.registry import load_by_alias

    snapshot = latest_snapshot(setup).reset_index(drop=True)
    as_of = pd.Timestamp(snapshot["as_of"].iloc[0]).date()
    loaded = load_by_alias(setup.cfg)
    if get_week(engine, as_of, loaded.version) is not None:
        kept = read_scores(engine, as_of, loaded.version, columns=("shap_raw",))
        if kept["shap_raw"].notna().all():
            return  # a kept store holds it already (rewritten if stored without SHAP values)
    weeks_dir.mkdir(parents=True, exist_ok=True)
    path = weeks_dir / f"as_of={as_of.isoformat()}.parquet"
    snapshot.to_parquet(path, index=False)
    frames = build_week(loaded.model, snapshot, engine, cfg=setup.cfg, as_of=as_of)
    write_week(
        engine,
        as_of=as_of,
        model_version=str(loaded.version),
        scores=frames.scores,
        call_list=frames.call_list,
        snapshot_path=str(path),
    )


def wait_ready_or_failed(url: str, proc: Any, timeout_s: float) -> None:
    """Poll ``/readyz``; stop early when the process dies or the service reports (on
    ``/readyz``) that loading the model or snapshot failed, instead of waiting it out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
            from serving.run import load_failure

            if failure := load_failure(url):
                raise RuntimeError(f"service failed to load: {failure}")
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"service at {url} not ready after {timeout_s:.0f} s")


# ---------------------------------------------------------------------- timing --


def percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    arr = np.asarray(seconds) * 1000.0
    return round(float(np.percentile(arr, 50)), 3), round(float(np.percentile(arr, 99)), 3)


def time_calls(fn: Callable[[int], Any], ids: list[int], warmup: int) -> list[float]:
    for cid in ids[:warmup]:
        fn(cid)
    out = []
    for cid in ids:
        t0 = time.perf_counter()
        fn(cid)
        out.append(time.perf_counter() - t0)
    return out


def best_rate(fn: Callable[[], Any], rows: int, repeats: int) -> float:
    """Rows per second of the fastest of ``repeats`` runs (after one warm-up)."""
    fn()
    best = min(_elapsed(fn) for _ in range(repeats))
    return round(rows / best, 1)


def _elapsed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bulk_ids(snapshot: pd.DataFrame, rows: int) -> list[int]:
    ids = snapshot["client_id"].astype("int64").tolist()
    return (ids * (rows // len(ids) + 1))[:rows]


# -------------------------------------------------------------------- in-process --


def measure_inproc(
    setup: Setup,
    snapshot: pd.DataFrame,
    sample: list[int],
    rows: int,
    warmup: int,
    repeats: int,
    store: str,
) -> dict[str, float]:
    """The library functions the service calls, without HTTP, on the same model, rows and
    stored week (``store``)."""
    from serving.current import CurrentWeek
    from serving.explain import explain_client
    from serving.scoring import score_frame
    from serving.stored import explain_answer
    from store.db import connect
    from training.registry import load_by_alias

    cfg = setup.cfg
    model = load_by_alias(cfg).model
    score_lat = time_calls(
        lambda cid: score_frame(model, snapshot.loc[[cid]], cfg.rules), sample, warmup
    )
    weeks = CurrentWeek(connect(store), poll_s=3600)
    weeks.start()
    explain_lat = time_calls(
        lambda cid: explain_answer(weeks, lambda version: model, cfg, client_id=cid, top_k=5),
        sample,
        warmup,
    )
    computed_lat = time_calls(
        lambda cid: explain_client(
            model, snapshot.loc[[cid]], top_k=5, reasons=cfg.reasons, rules=cfg.rules
        ),
        sample,
        warmup,
    )
    many = bulk_ids(snapshot, rows)  # the service's work for ids: look them up, then score
    rate = best_rate(lambda: score_frame(model, snapshot.loc[many], cfg.rules), rows, repeats)
    s50, s99 = percentiles_ms(score_lat)
    e50, e99 = percentiles_ms(explain_lat)
    c50, c99 = percentiles_ms(computed_lat)
    return {
        "score_p50_ms_inproc": s50,
        "score_p99_ms_inproc": s99,
        "explain_p50_ms_inproc": e50,
        "explain_p99_ms_inproc": e99,
        "explain_computed_p50_ms_inproc": c50,
        "explain_computed_p99_ms_inproc": c99,
        "bulk_rows_per_s_inproc": rate,
    }


# -------------------------------------------------------------------------- http --


def measure_http(
    url: str, snapshot: pd.DataFrame, sample: list[int], rows: int, warmup: int, repeats: int
) -> dict[str, float]:
    with httpx.Client(base_url=url, timeout=120, headers=HEADERS) as client:

        def post(path: str, body: dict[str, Any]) -> Any:
            response = client.post(path, json=body)
            response.raise_for_status()
            return response

        score_lat = time_calls(lambda cid: post("/score", {"client_ids": [cid]}), sample, warmup)
        explain_lat = time_calls(
            lambda cid: post("/explain", {"client_id": cid, "top_k": 5}), sample, warmup
        )
        body = {"client_ids": bulk_ids(snapshot, rows)}
        scored = post("/score", body).json()["scores"]
        if len(scored) != rows:
            raise RuntimeError(f"/score returned {len(scored)} rows for {rows} ids")
        rate = best_rate(lambda: post("/score", body), rows, repeats)
    s50, s99 = percentiles_ms(score_lat)
    e50, e99 = percentiles_ms(explain_lat)
    return {
        "score_p50_ms_http": s50,
        "score_p99_ms_http": s99,
        "explain_p50_ms_http": e50,
        "explain_p99_ms_http": e99,
        "bulk_rows_per_s_http": rate,
    }


async def _load_worker(
    post: Callable[[str, dict[str, Any]], Awaitable[str | None]],
    ids: list[int],
    stop_at: float,
    seed: int,
    lat: dict[str, list[float]],
    errors: list[str],
    explain_share: float,
) -> None:
    """One client's loop; ``post`` sends a request and returns an error text or None (the
    same requests whichever HTTP client is measured)."""
    rng = random.Random(seed)
    while time.perf_counter() < stop_at:
        cid = rng.choice(ids)
        if rng.random() >= explain_share:
            path, body = "/score", {"client_ids": [cid]}
        else:
            path, body = "/explain", {"client_id": cid, "top_k": 3}
        t0 = time.perf_counter()
        failure = await post(path, body)
        if failure is not None:
            errors.append(f"{path} {failure}")
            continue
        lat[path].append(time.perf_counter() - t0)


async def _workers(
    post: Callable[[str, dict[str, Any]], Awaitable[str | None]],
    ids: list[int],
    seconds: float,
    concurrency: int,
    explain_share: float,
) -> dict[str, Any]:
    lat: dict[str, list[float]] = {"/score": [], "/explain": []}
    errors: list[str] = []
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(
        *(
            _load_worker(post, ids, stop_at, i, lat, errors, explain_share)
            for i in range(concurrency)
        )
    )
    return _load_summary(lat, errors, time.perf_counter() - t0, concurrency)


async def _load(
    url: str, ids: list[int], seconds: float, concurrency: int, explain_share: float
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, timeout=60, limits=limits, headers=HEADERS
    ) as client:

        async def post(path: str, body: dict[str, Any]) -> str | None:
            try:
                response = await client.post(path, json=body)
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__}: {exc}"
            if response.status_code != 200:
                return f"{response.status_code}: {response.text[:200]}"
            return None

        return await _workers(post, ids, seconds, concurrency, explain_share)


def _load_summary(
    lat: dict[str, list[float]], errors: list[str], wall: float, concurrency: int
) -> dict[str, Any]:
    every = lat["/score"] + lat["/explain"]
    out: dict[str, Any] = {
        "concurrency": concurrency,
        "seconds": round(wall, 2),
        "requests": len(every) + len(errors),
        "errors": len(errors),
        "throughput_rps": round(len(every) / wall, 1),
    }
    if every:
        out["p50_ms"], out["p99_ms"] = percentiles_ms(every)
    for path, values in lat.items():
        if values:
            name = path.strip("/")
            out[f"{name}_requests"] = len(values)
            out[f"{name}_p50_ms"], out[f"{name}_p99_ms"] = percentiles_ms(values)
    if errors:
        out["first_errors"] = errors[:5]
    return out


async def _load_aiohttp(
    url: str, ids: list[int], seconds: float, concurrency: int, explain_share: float
) -> dict[str, Any]:
    """:func:`_load` with aiohttp's client: the same requests for a third of the client's
    CPU (httpx's cost per request, measured beside the server on this 2-core box, was
    about three times the server's own, so it, not the service, set the throughput)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=HEADERS
    ) as session:

        async def post(path: str, body: dict[str, Any]) -> str | None:
            try:
                async with session.post(url + path, json=body) as response:
                    text = await response.read()
            except aiohttp.ClientError as exc:
                return f"{type(exc).__name__}: {exc}"
            if response.status != 200:
                return f"{response.status}: {text[:200]!r}"
            return None

        return await _workers(post, ids, seconds, concurrency, explain_share)


def load_run(
    url: str,
    ids: list[int],
    seconds: float,
    concurrency: int,
    explain_share: float = 0.5,
    client: str = "aiohttp",
) -> dict[str, Any]:
    """``concurrency`` clients for ``seconds``: ``/explain`` with ``explain_share``, else
    single-client ``/score``; ``client``: aiohttp (default) or httpx."""
    if client == "httpx":
        return asyncio.run(_load(url, ids, seconds, concurrency, explain_share))
    return asyncio.run(_load_aiohttp(url, ids, seconds, concurrency, explain_share))


# -------------------------------------------------------------------------- main --


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=300, help="timed sequential calls per endpoint")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--bulk-rows", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5, help="bulk runs (the fastest counts)")
    p.add_argument("--load-seconds", type=float, default=30.0, help="0 skips the load run")
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument(
        "--client",
        choices=("aiohttp", "httpx"),
        default="aiohttp",
        help="the load's HTTP client (httpx costs the box about 3x aiohttp's CPU)",
    )
    p.add_argument("--clients", type=int, default=1500, help="generated base size (no champion)")
    p.add_argument("--months", type=int, default=18)
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=None, help="keep data, model and server log here")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.work is None:
        with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
            return measure_all(args, Path(tmp))
    return measure_all(args, args.work.resolve())


def prepare(args: argparse.Namespace, work: Path) -> Setup:
    """A kept ``--work`` dir from an earlier run is reused; else the champion; else generate."""
    kept = work / "config" / "default.yaml"
    if kept.exists():
        os.environ["MLFLOW_TRACKING_URI"] = load_config(kept).paths.mlflow_tracking_uri
        setup = _champion_setup(load_config(kept), work)
        if setup is not None:
            return setup
    return _champion_setup(load_config(), work) or _generated_setup(
        load_config(), work, args.clients, args.months, args.trials
    )


def measure_all(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Everything, in one process and one server run, against ``work``'s setup."""
    setup = prepare(args, work)
    snapshot = latest_snapshot(setup)
    rng = random.Random(args.seed)
    ids = snapshot["client_id"].astype("int64").tolist()
    sample = [rng.choice(ids) for _ in range(args.calls)]
    log(
        f"model: {setup.source}; snapshot {len(snapshot)} clients as of "
        f"{snapshot['as_of'].max():%Y-%m-%d}"
    )

    result: dict[str, Any] = {
        "source": setup.source,
        "snapshot_clients": len(snapshot),
        "calls": args.calls,
        "bulk_rows": args.bulk_rows,
    }
    store = f"sqlite:///{work / 'store.db'}"
    from store.db import connect

    store_week(setup, connect(store), work / "weeks")  # what the server will serve
    result |= measure_inproc(
        setup, snapshot, sample, args.bulk_rows, args.warmup, args.repeats, store
    )
    log("in-process done; starting the server")
    with running_server(setup, work, store=store) as url:
        result |= measure_http(url, snapshot, sample, args.bulk_rows, args.warmup, args.repeats)
        log("sequential HTTP done")
        if args.load_seconds > 0:
            result["load"] = load_run(
                url, ids, args.load_seconds, args.concurrency, client=args.client
            )
            result["load_score_only"] = load_run(
                url, ids, args.load_seconds, args.concurrency, 0.0, client=args.client
            )
            result["load_client"] = args.client
    result["bulk_http_over_inproc"] = round(
        result["bulk_rows_per_s_http"] / result["bulk_rows_per_s_inproc"], 3
    )
    result["explain_p99_http_over_inproc"] = round(
        result["explain_p99_ms_http"] / result["explain_p99_ms_inproc"], 3
    )
    score_load = result.get("load_score_only", {})  # reported; the targets read the mixed load
    result["targets_met"] = {
        "bulk_http_over_inproc>=0.30": result["bulk_http_over_inproc"] >= TARGET_BULK_RATIO,
        "explain_p99_http_over_inproc<=2": result["explain_p99_http_over_inproc"]
        <= TARGET_EXPLAIN_RATIO,
        "load_errors==0": result.get("load", {}).get("errors", 0) == 0
        and score_load.get("errors", 0) == 0,
        "load_rps>=300": result.get("load", {}).get("throughput_rps", 0) >= TARGET_SCORE_RPS,
        "load_score_p99_ms<=100": result.get("load", {}).get("score_p99_ms", 1e9)
        <= TARGET_SCORE_P99_MS,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    result = run(parse_args(argv))
    print(json.dumps(result), flush=True)
    return 0 if all(result["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
