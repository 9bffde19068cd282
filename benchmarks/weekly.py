"""Benchmark ``churn weekly`` against building its snapshot alone: ONE JSON line.

    python benchmarks/weekly.py [--raw DIR | --clients 100000 --months 24 --seed 42]
                                [--cache-dir ~/.cache/churn-bench] [--repeat 1]

The weekly run needs a registered champion: a quick one is trained first on a small
generated base (``--train-clients``, a few Optuna trials) in a temporary MLflow store, so
nothing outside a temp dir is touched. The scored base is ``--raw`` (read only) or one
generated with the project's generator and cached like ``benchmarks/features.py`` does.
Then, on the same raw directory and the same engine settings:

* ``snapshot_s``: one snapshot as of the day after the newest event, written to Parquet
  (``features.snapshot.write_snapshots``: what the weekly run builds);
* ``weekly_new_export_s``: the whole ``serving.weekly.run_weekly`` (as of a week earlier)
  into a fresh SQLite store: full validation of the export (every value of every table:
  the ``churn validate`` checks), snapshot, champion scores with SHAP drivers for every
  client, call list with holdout, the store transaction;
* ``weekly_validated_export_s``: the next week on the same export, which is recorded as
  validated by its digest (so only the value checks are skipped), compared with the week
  before. ``*_parts_s`` are each run's own breakdown.

The target (issue 9) is weekly / snapshot <= 3. Best of ``--repeat`` runs each.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._sibling import sibling  # noqa: E402 - after the repo is on sys.path


def _champion(cfg, work: Path, clients: int, trials: int) -> None:  # noqa: ANN001
    """Train and register a quick champion on a small generated base under ``work``."""
    from churn.tracking import setup_mlflow
    from features.build import run_features
    from simulator.config import load_simulate_config
    from simulator.generate import simulate
    from training.pipeline import run_train

    cfg = cfg.override(training__n_trials=trials, training__bootstrap_rounds=50)
    simulate(load_simulate_config().override(clients=clients, months=16, seed=3), cfg.paths.raw_dir)
    feats = cfg.paths.features_path
    run_features(cfg, raw=cfg.paths.raw_dir, out=feats, as_of=None, to=None, every="month")
    setup_mlflow(cfg)
    run_train(cfg, raw=cfg.paths.raw_dir, features_file=feats, report=work / "train.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=None, help="existing raw dir (read only)")
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache/churn-bench")
    parser.add_argument("--train-clients", type=int, default=1500)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--work", type=Path, default=None, help="keep the champion here (reused when present)"
    )
    args = parser.parse_args()

    import contextlib
    import io

    from churn.config import load_config
    from features.dates import latest_as_of
    from features.snapshot import write_snapshots
    from serving.weekly import run_weekly

    raw = args.raw
    if raw is None:
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        raw = sibling("features")._cached_base(args.cache_dir, args.clients, args.months, args.seed)
    with contextlib.ExitStack() as stack:
        if args.work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="churn-bench-")))
        else:
            work = args.work.resolve()
        cfg = load_config()
        cfg = cfg.override(paths=cfg.paths.under(work))
        os.environ["MLFLOW_TRACKING_URI"] = cfg.paths.mlflow_tracking_uri
        t0 = time.perf_counter()
        if not (work / "train.json").is_file():
            with contextlib.redirect_stdout(io.StringIO()):
                _champion(cfg, work, args.train_clients, args.trials)
        train_s = time.perf_counter() - t0

        as_of = latest_as_of(raw)
        runs: dict[str, list] = {"snapshot": [], "new_export": [], "next_week": []}
        for i in range(args.repeat):
            cfg = cfg.override(paths__weeks_dir=work / f"weeks{i}")  # nothing validated yet
            store_path = work / f"store{i}.db"
            shutil.rmtree(cfg.paths.weeks_dir, ignore_errors=True)
            for old in work.glob(f"store{i}.db*"):
                old.unlink()
            store = f"sqlite:///{store_path}"
            t0 = time.perf_counter()
            rows = write_snapshots(raw, [as_of], cfg, work / f"snapshot{i}.parquet")
            runs["snapshot"].append(time.perf_counter() - t0)
            week1 = as_of - timedelta(days=7)
            for name, day in (("new_export", week1), ("next_week", as_of)):
                t0 = time.perf_counter()
                summary = run_weekly(cfg, raw, as_of=day, store_url=store)
                runs[name].append((time.perf_counter() - t0, summary))
    snap = min(runs["snapshot"])
    first_s, first = min(runs["new_export"], key=lambda r: r[0])
    second_s, second = min(runs["next_week"], key=lambda r: r[0])
    print(
        json.dumps(
            {
                "benchmark": "weekly",
                "raw": str(raw),
                "as_of": as_of.isoformat(),
                "clients": second.clients,
                "snapshot_rows": rows,
                "snapshot_s": round(snap, 2),
                "weekly_new_export_s": round(first_s, 2),
                "weekly_new_export_over_snapshot": round(first_s / snap, 2),
                "weekly_new_export_parts_s": first.seconds,
                "weekly_validated_export_s": round(second_s, 2),
                "weekly_validated_export_over_snapshot": round(second_s / snap, 2),
                "weekly_validated_export_parts_s": second.seconds,
                "target": 3.0,
                "call_list": second.call_list,
                "held_out": second.held_out,
                "changed_band": second.changed_band,
                "train_champion_s": round(train_s, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
