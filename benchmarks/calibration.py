"""Calibration goal of the served recipe on a generated base (issue 23): ONE JSON line.

    python benchmarks/calibration.py [--clients 3000 --months 24 --seed 42] [--trials 20]
                                     [--blocks 6] [--cache-dir ~/.cache/churn-bench]

Generates the base with the project's generator (cached by its parameters, without the
Monte Carlo reference: not needed here), builds the monthly snapshots, tunes LightGBM the
way ``churn train`` does (``--trials`` Optuna trials on train / validation) and runs the
rolling calibration backtest (:mod:`training.backtest`) that the training report carries:
for each of the newest ``--blocks`` monthly blocks, the served recipe fitted with only
the labels known before the block, every calibrator fitted on the newest labelled months,
the block scored. Nothing is registered; no MLflow store is touched.

The line gives, per calibrator, the pooled calibration-in-the-large, ECE, log loss, the
top decile (mean predicted, observed and its client-bootstrap interval) and whether the
goal holds (pooled ECE <= 0.005, mean predicted within 5 % of observed, top-decile
predicted inside the observed interval); ``winner`` is the lowest pooled log loss and
``base_rate_by_block`` the observed churn rate of each block (drift between blocks is
what a calibrator fitted months earlier cannot know).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _base(cfg, sim, cache: Path) -> Path:  # noqa: ANN001
    """Raw export + monthly snapshots of the generated base, built once per parameters."""
    from features.build import run_features
    from simulator.generate import simulate

    root = cache / f"calib-c{sim.clients}-m{sim.months}-s{sim.seed}"
    raw, feats = root / "raw", root / "features" / "snapshots.parquet"
    if not feats.exists():
        simulate(sim, raw)
        run_features(cfg, raw=raw, out=feats, as_of=None, to=None, every="month")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=None, help="default: the config's")
    parser.add_argument("--rounds", type=int, default=None, help="bootstrap rounds")
    parser.add_argument("--recent-months", type=int, default=None, help="default: the config's")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache/churn-bench")
    args = parser.parse_args()

    from churn.config import load_config
    from simulator.config import load_simulate_config
    from training.pipeline import (
        backtest_calibration,
        fit_model,
        labelled,
        split_blocks,
        training_snapshots,
    )

    sim = load_simulate_config().override(
        clients=args.clients, months=args.months, seed=args.seed, reference__paths=0
    )
    changes: dict = {"training__n_trials": args.trials}
    if args.blocks is not None:
        changes["training__calibration__backtest_blocks"] = args.blocks
    if args.recent_months is not None:
        changes["training__calibration__recent_months"] = args.recent_months
    if args.rounds is not None:
        changes["training__calibration__backtest_bootstrap_rounds"] = args.rounds
    cfg = load_config().override(**changes)
    started = time.perf_counter()
    root = _base(cfg, sim, args.cache_dir)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        snaps, _ = training_snapshots(cfg, root / "raw", root / "features" / "snapshots.parquet")
        frame = labelled(cfg, snaps, root / "raw")
        blocks = split_blocks(cfg, frame)
        t0 = time.perf_counter()
        _, tuned = fit_model(cfg, blocks)
        tune_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = backtest_calibration(cfg, frame, tuned)
        backtest_s = time.perf_counter() - t0

    def summary(pooled: dict) -> dict:
        top = pooled["reliability"][-1]
        return {
            "calibration_in_the_large": round(pooled["calibration_in_the_large"], 4),
            "ece": round(pooled["ece"], 5),
            "log_loss": round(pooled["log_loss"], 5),
            "brier": round(pooled["brier"], 5),
            "top_decile_predicted": round(top["mean_predicted"], 4),
            "top_decile_observed": round(top["observed_rate"], 4),
            "top_decile_observed_ci": [
                round(top["observed_ci_low"], 4),
                round(top["observed_ci_high"], 4),
            ],
            "goal_met": pooled["goal"]["met"],
        }

    line = {
        "benchmark": "calibration",
        "clients": args.clients,
        "months": args.months,
        "seed": args.seed,
        "trials": args.trials,
        "recent_months": cfg.training.calibration.recent_months,
        "blocks": [b["block"] for b in out["blocks"]],
        "base_rate_by_block": [round(r, 4) for r in out["base_rate_by_block"]],
        "winner": out["winner"],
        "configured": out["configured"],
        "goal_met_by": [n for n, p in out["pooled"].items() if p["goal"]["met"]],
        "calibrators": {n: summary(p) for n, p in out["pooled"].items()},
        "fits": out["fits"],
        "tune_s": round(tune_s, 1),
        "backtest_s": round(backtest_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
