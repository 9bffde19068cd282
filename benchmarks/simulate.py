"""Benchmark the generator at scale: prints ONE JSON line.

    python benchmarks/simulate.py [--clients 100000] [--months 24] [--seed 42] [--out DIR]

Peak RSS is the process's maximum resident set size (``resource.getrusage``), so it
includes the interpreter and imported libraries.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--out", type=Path, default=None, help="output dir (default: a temp dir, removed)"
    )
    args = ap.parse_args(argv)
    # benchmarks/ holds features.py etc.: keep it from shadowing the project's packages
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]

    from simulator.config import load_simulate_config
    from simulator.generate import simulate

    cfg = load_simulate_config().override(clients=args.clients, months=args.months, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="churn-sim-") as tmp:
        out = args.out or Path(tmp)
        t0 = time.perf_counter()
        summary = simulate(cfg, out)
        seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "clients": summary["clients"],
                "months": summary["months"],
                "events": summary["events"],
                "seconds": round(seconds, 1),
                "events_per_s": round(summary["events"] / seconds),
                "peak_rss_mb": round(peak_kb / 1024),
                "monthly_churn_rate": round(summary["monthly_churn_rate"], 4),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
