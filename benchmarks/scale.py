"""A network-sized week on one machine: ONE JSON line.

    python benchmarks/scale.py [--clients 1000000] [--small 100000] [--months 24] [--seed 42]
                               [--cache-dir ~/.cache/churn-bench] [--engine duckdb|spark]
                               [--capacity 100]

Issue 12, item 4. The raw bases are read from ``--cache-dir`` when a base with the same
generator config digest is there (the directory name of ``benchmarks/features.py``:
``c{clients}_m{months}_s{seed}_{digest}``), else generated into it once. A small model is
trained on a small generated base and registered in a temporary MLflow store (not timed:
the week is what scales). Then, at ``--clients`` and again at ``--small`` clients, each
step runs in its own child process, so its seconds and peak RSS are its own:

* ``scan``: DuckDB reads every raw column the features use (``benchmarks/features.py``'s
  scan: an aggregate per column that decodes every value);
* ``snapshot``: one snapshot as of the day after the newest event, DuckDB -> Parquet;
* ``score``: the registered model scores every client of that snapshot (probabilities,
  bands and the rule next to them: ``churn score``), written to Parquet;
* ``call_list``: the weekly path on the same snapshot, :func:`serving.weekly.score_week`:
  every client's score with its top drivers, evidence and money, ranked, and the call
  list (profit-sized, with the randomised holdout) -- what ``churn weekly`` stores;
* ``store``: that week written to a fresh SQLite store (``store.weeks.write_week``, one
  transaction), reported beside the target, not in it.

Peak RSS (``peak_rss_mb``) is sampled from ``/proc`` over the step's whole process tree
(the JVM too, for Spark) and is at least the child's own ``ru_maxrss``. ``cpu_s`` is the
child's own user + system CPU time: on a shared box wall seconds stretch with the load,
CPU seconds much less, so both ratios are reported. The scan and the snapshot are
measured ``--repeat`` times, interleaved, best of each.

Targets (issue 12): ``snapshot_over_scan`` <= 3, peak RSS <= 8 GiB, snapshot + scores +
call list (``week_s`` = snapshot + call_list) <= 15 minutes at 1 000 000 clients; cost
linear in clients: ``per_client_ratio`` (week seconds per active client at ``--clients``
over the same at ``--small``) near 1 (below 1: fixed costs amortised); on a loaded box
``per_client_ratio_cpu`` (the same in CPU seconds) is the steadier figure.
``--engine spark`` also builds and scores the ``--small`` base on Spark local mode
(``serving.spark_batch``) and reports its seconds over DuckDB's for the same work.
The box is shared, so ``load_avg`` (1-minute, before and after) is in the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
# benchmarks/features.py must not shadow the project's features package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE.parent]
sys.path.insert(0, str(REPO))

from benchmarks._sibling import sibling  # noqa: E402 - after the repo is on sys.path

TRAIN_CLIENTS, TRAIN_MONTHS, TRAIN_SEED, TRAIN_TRIALS = 1500, 20, 7, 4
STEPS = ("scan", "snapshot", "score", "call_list", "store")
GIB = 1024**3


# --------------------------------------------------------------------------- memory sampling


def _tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and all its descendants (Linux /proc), 0 once gone."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


class _Sampler(threading.Thread):
    """Largest process-tree RSS of one child, sampled every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, _tree_rss(self.pid))
            self.done.wait(self.every)


def _child(step: str, **kwargs: Any) -> dict[str, Any]:
    """Run one step in a fresh interpreter; its JSON result plus the sampled peak RSS."""
    cmd = [sys.executable, str(HERE), "--step", step, "--step-args", json.dumps(kwargs)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    sampler = _Sampler(proc.pid)
    sampler.start()
    out, _ = proc.communicate()
    sampler.done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"step {step} failed with exit code {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(max(sampler.peak, result.pop("self_rss") * 1024) / 2**20)
    return result


# --------------------------------------------------------------------------- the steps


class _Clock:
    """Wall and CPU (user + system, this process) seconds since it was started."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), self._cpu()

    @staticmethod
    def _cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def read(self) -> dict[str, float]:
        return {"seconds": time.perf_counter() - self.wall, "cpu_s": self._cpu() - self.cpu}


def _config(mlflow_uri: str | None = None) -> Any:
    from churn.config import load_config

    cfg = load_config()
    if mlflow_uri:
        os.environ["MLFLOW_TRACKING_URI"] = mlflow_uri
        from churn.tracking import use_tracking_uri

        use_tracking_uri(mlflow_uri)
    return cfg


def _model(cfg: Any) -> Any:
    from training.registry import load_by_alias

    for alias in ("champion", "challenger"):
        try:
            return load_by_alias(cfg, alias)
        except Exception:  # noqa: BLE001 - try the next alias
            continue
    raise SystemExit("no registered model in the benchmark's MLflow store")


def step_train(work: str) -> dict[str, Any]:
    """Train and register a small model (few trials) in an MLflow store under ``work``."""
    import contextlib
    import io

    from features.build import run_features
    from simulator.config import load_simulate_config
    from simulator.generate import simulate
    from training.pipeline import run_train

    cfg = _config(f"sqlite:///{Path(work) / 'mlflow.db'}")
    cfg = cfg.override(
        paths=cfg.paths.under(Path(work)),
        training__n_trials=TRAIN_TRIALS,
        training__timeout_s=120,
        training__bootstrap_rounds=50,
    )
    sim = load_simulate_config().override(
        clients=TRAIN_CLIENTS, months=TRAIN_MONTHS, seed=TRAIN_SEED
    )
    clock = _Clock()
    with contextlib.redirect_stdout(io.StringIO()):
        simulate(sim, cfg.paths.raw_dir)
        feats = cfg.paths.features_path
        run_features(cfg, raw=cfg.paths.raw_dir, out=feats, as_of=None, to=None, every="month")
        report = run_train(cfg, raw=cfg.paths.raw_dir, features_file=feats, report=None)
    return {**clock.read(), "alias": report.alias}


def step_scan(raw: str) -> dict[str, Any]:
    cfg = _config()
    scan = sibling("features")._scan
    clock = _Clock()
    scan(Path(raw), cfg)
    return clock.read()


def step_snapshot(raw: str, out: str) -> dict[str, Any]:
    from features.dates import latest_as_of
    from features.snapshot import write_snapshots

    cfg = _config()
    clock = _Clock()
    rows = write_snapshots(Path(raw), [latest_as_of(Path(raw))], cfg, Path(out))
    return {**clock.read(), "rows": rows}


def step_score(snapshot: str, out: str, mlflow_uri: str) -> dict[str, Any]:
    import pandas as pd

    from serving.batch import scored_rows

    cfg = _config(mlflow_uri)
    loaded = _model(cfg)
    clock = _Clock()
    frame = pd.read_parquet(snapshot)
    read_s = clock.read()["seconds"]
    scores = scored_rows(loaded.model, frame, loaded.version, cfg.rules)
    scores.to_parquet(out, index=False)
    return {**clock.read(), "read_s": read_s, "rows": len(scores)}


def _week_frames(snapshot: str, mlflow_uri: str, capacity: int) -> dict[str, Any]:
    """Read the snapshot and run ``serving.weekly.score_week`` on it (the model is loaded
    first, untimed)."""
    import pandas as pd

    from serving.weekly import score_week

    cfg = _config(mlflow_uri)
    loaded = _model(cfg)
    clock = _Clock()
    frame = pd.read_parquet(snapshot)
    as_of = frame["as_of"].iloc[0].date()
    frames = score_week(loaded.model, frame, cfg=cfg, as_of=as_of, capacity=capacity)
    return {"frames": frames, "as_of": as_of, "version": loaded.version, **clock.read()}


def step_call_list(snapshot: str, out: str, mlflow_uri: str, capacity: int) -> dict[str, Any]:
    """``serving.weekly.score_week``: every client's score + drivers, and the call list."""
    week = _week_frames(snapshot, mlflow_uri, capacity)
    calls = week["frames"].call_list
    calls.to_csv(out, index=False)
    return {"seconds": week["seconds"], "cpu_s": week["cpu_s"], "rows": len(calls)}


def step_store(snapshot: str, mlflow_uri: str, capacity: int, store: str) -> dict[str, Any]:
    """The week of ``score_week`` into a fresh SQLite store (timed: the write alone)."""
    from store.db import connect
    from store.weeks import write_week

    week = _week_frames(snapshot, mlflow_uri, capacity)
    engine = connect(f"sqlite:///{store}")
    clock = _Clock()
    write_week(
        engine,
        as_of=week["as_of"],
        model_version=str(week["version"]),
        scores=week["frames"].scores,
        call_list=week["frames"].call_list,
        snapshot_path=snapshot,
    )
    timed = clock.read()
    engine.dispose()
    return {**timed, "rows": len(week["frames"].scores)}


def step_spark(raw: str, out: str, mlflow_uri: str, what: str) -> dict[str, Any]:
    """Spark local mode on all cores: ``snapshot`` (written to Parquet) or ``score``
    (snapshot built and scored on the executors, ``churn score --engine spark``)."""
    import contextlib
    import io

    from features.dates import latest_as_of
    from features.spark import local_session, snapshot_dataframe
    from serving.spark_batch import run_score_spark

    cfg = _config(mlflow_uri)
    session = local_session(cores=os.cpu_count() or 2, driver_memory="4g")
    try:
        clock = _Clock()
        if what == "snapshot":
            frame = snapshot_dataframe(session, raw, [latest_as_of(Path(raw))], cfg)
            frame.write.mode("overwrite").parquet(out)
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                run_score_spark(cfg, out=out, raw=raw, session=session)
        timed = clock.read()  # the driver's CPU only (the executors run in the JVM)
    finally:
        session.stop()
    return timed


STEP_FUNCS = {
    "train": step_train,
    "scan": step_scan,
    "snapshot": step_snapshot,
    "score": step_score,
    "call_list": step_call_list,
    "store": step_store,
    "spark": step_spark,
}


def run_step(name: str, kwargs: dict[str, Any]) -> int:
    result = STEP_FUNCS[name](**kwargs)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["self_rss"] = usage.ru_maxrss  # KiB
    print(json.dumps(result))
    return 0


# --------------------------------------------------------------------------- orchestration


def _events(raw: Path) -> int:
    return int(sibling("features")._events(raw))


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run's figures, with the smallest CPU time and the largest peak RSS."""
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["cpu_s"] = min(r["cpu_s"] for r in runs)
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return best


def _week(raw: Path, work: Path, uri: str, capacity: int, repeat: int) -> dict[str, Any]:
    """The DuckDB steps on one base; seconds, CPU seconds and peak RSS of each."""
    work.mkdir(parents=True, exist_ok=True)
    snap = str(work / "snapshot.parquet")
    scans, snaps = [], []
    for _ in range(repeat):  # interleaved, so a burst of load hits both alike
        scans.append(_child("scan", raw=str(raw)))
        snaps.append(_child("snapshot", raw=str(raw), out=snap))
    res = {
        "scan": _best(scans),
        "snapshot": _best(snaps),
        "score": _child("score", snapshot=snap, out=str(work / "scores.parquet"), mlflow_uri=uri),
        "call_list": _child(
            "call_list",
            snapshot=snap,
            out=str(work / "call_list.csv"),
            mlflow_uri=uri,
            capacity=capacity,
        ),
        "store": _child(
            "store", snapshot=snap, mlflow_uri=uri, capacity=capacity, store=str(work / "s.db")
        ),
    }
    week_s = res["snapshot"]["seconds"] + res["call_list"]["seconds"]
    return {
        "active_clients": res["snapshot"]["rows"],
        "events": _events(raw),
        "seconds": {s: round(res[s]["seconds"], 1) for s in STEPS},
        "cpu_s": {s: round(res[s]["cpu_s"], 1) for s in STEPS},
        "score_read_s": round(res["score"]["read_s"], 1),
        "peak_rss_mb": {s: res[s]["peak_rss_mb"] for s in STEPS},
        "snapshot_over_scan": round(res["snapshot"]["seconds"] / res["scan"]["seconds"], 2),
        "snapshot_over_scan_cpu": round(res["snapshot"]["cpu_s"] / res["scan"]["cpu_s"], 2),
        "week_s": round(week_s, 1),
        "week_cpu_s": round(res["snapshot"]["cpu_s"] + res["call_list"]["cpu_s"], 1),
        "call_list_rows": res["call_list"]["rows"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=100_000, help="the second size, same run")
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "churn-bench")
    ap.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    ap.add_argument("--capacity", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=2, help="scan/snapshot runs; best counts")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--step-args", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:
        return run_step(args.step, json.loads(args.step_args))

    load_before = os.getloadavg()[0]
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    bench = sibling("features")
    t0 = time.perf_counter()
    big = bench._cached_base(args.cache_dir, args.clients, args.months, args.seed)
    small = bench._cached_base(args.cache_dir, args.small, args.months, args.seed)
    generate_s = time.perf_counter() - t0
    work = Path(tempfile.mkdtemp(prefix="churn-bench-scale-"))
    try:
        uri = f"sqlite:///{work / 'train' / 'mlflow.db'}"
        (work / "train").mkdir()
        train = _child("train", work=str(work / "train"))
        at_big = _week(big, work / "big", uri, args.capacity, args.repeat)
        at_small = _week(small, work / "small", uri, args.capacity, args.repeat)
        peak = max(at_big["peak_rss_mb"].values())
        result: dict[str, Any] = {
            "clients": args.clients,
            **at_big,
            "targets": {
                "snapshot_over_scan_le_3": at_big["snapshot_over_scan"] <= 3,
                "snapshot_over_scan_cpu_le_3": at_big["snapshot_over_scan_cpu"] <= 3,
                "peak_rss_le_8gib": peak * 2**20 <= 8 * GIB,
                "week_le_15min": at_big["week_s"] <= 15 * 60,
            },
            "per_client_ratio": round(
                (at_big["week_s"] / at_big["active_clients"])
                / (at_small["week_s"] / at_small["active_clients"]),
                2,
            ),
            "per_client_ratio_cpu": round(
                (at_big["week_cpu_s"] / at_big["active_clients"])
                / (at_small["week_cpu_s"] / at_small["active_clients"]),
                2,
            ),
            "small": {"clients": args.small, **at_small},
        }
        if args.engine == "spark":
            spark_snap = _child(
                "spark",
                raw=str(small),
                out=str(work / "spark_snap"),
                mlflow_uri=uri,
                what="snapshot",
            )
            spark_score = _child(
                "spark",
                raw=str(small),
                out=str(work / "spark_scores"),
                mlflow_uri=uri,
                what="score",
            )
            duck_snap = at_small["seconds"]["snapshot"]
            duck_score = duck_snap + at_small["seconds"]["score"]
            result["spark"] = {
                "active_clients": at_small["active_clients"],
                "snapshot_s": round(spark_snap["seconds"], 1),
                "snapshot_and_score_s": round(spark_score["seconds"], 1),
                "peak_rss_mb": max(spark_snap["peak_rss_mb"], spark_score["peak_rss_mb"]),
                "snapshot_over_duckdb": round(spark_snap["seconds"] / duck_snap, 2),
                "snapshot_and_score_over_duckdb": round(spark_score["seconds"] / duck_score, 2),
            }
        result.update(
            {
                "train_s": round(train["seconds"], 1),
                "generate_s": round(generate_s, 1),
                "cores": os.cpu_count(),
                "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
