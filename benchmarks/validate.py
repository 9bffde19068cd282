"""Benchmark validation of a clean export, proof first vs every row-level pass: ONE JSON line.

    python benchmarks/validate.py [--raw DIR | --clients 100000 --months 24 --seed 42
                                   --cache-dir ~/.cache/churn-bench] [--repeat 3]

On the same raw base, in one process and alternating so that a busy box slows both alike:

* ``old_s``: ``features.schema.inspect_dir(fast=False)``, pandera's value pass over every row
  and the cross-table rules joining every event row with clients and users;
* ``new_s``: ``inspect_dir()`` (default ``fast=True``): a DuckDB proof per table
  (``features/proof.py``), the row-level passes only where it finds something;
* ``snapshot_s``: one snapshot as of the day after the newest event, written to Parquet
  (the work the weekly run validates for: its target is 3x this for the whole week).

``ratio`` = ``old_s / new_s``; ``new_over_snapshot`` = ``new_s / snapshot_s``. The base is the
one ``benchmarks/features.py`` generates and caches, or ``--raw`` (e.g. a base under
/work/scale-data). Each measure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._sibling import sibling  # noqa: E402 - after the repo is on sys.path


def _timed(fn) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=None, help="an existing raw export")
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "churn-bench")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measure; the best counts")
    args = ap.parse_args(argv)

    from churn.config import load_config
    from features.dates import latest_as_of
    from features.schema import inspect_dir
    from features.snapshot import write_snapshots

    cfg = load_config()
    bench = sibling("features")
    if args.raw is None:
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        raw = bench._cached_base(args.cache_dir, args.clients, args.months, args.seed)
    else:
        raw = args.raw
    found: dict[str, int] = {}

    def validate(fast: bool) -> None:
        _, violations = inspect_dir(raw, config=cfg.validation, fast=fast)
        found["old" if not fast else "new"] = len(violations)

    latest = latest_as_of(raw)
    out = Path(tempfile.mkdtemp(prefix="churn-bench-validate-"))
    old, new, snap = [], [], []
    try:
        for _ in range(args.repeat):
            old.append(_timed(lambda: validate(False)))
            new.append(_timed(lambda: validate(True)))
            snap.append(_timed(lambda: write_snapshots(raw, [latest], cfg, out / "one.parquet")))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    old_s, new_s, snapshot_s = min(old), min(new), min(snap)
    result = {
        "raw": str(raw),
        "events": bench._events(raw),
        "violations_old": found["old"],
        "violations_new": found["new"],
        "old_s": round(old_s, 2),
        "new_s": round(new_s, 2),
        "ratio": round(old_s / new_s, 1),
        "snapshot_s": round(snapshot_s, 2),
        "new_over_snapshot": round(new_s / snapshot_s, 2),
        "repeat": args.repeat,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
