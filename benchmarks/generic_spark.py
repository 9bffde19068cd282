"""One snapshot date of the subscription + activity source on DuckDB vs Spark: ONE JSON line.

    python benchmarks/generic_spark.py [--customers 3000] [--months 18] [--seed 7]
                                       [--repeat 2] [--cores 2]

Self-contained: a base from the generic generator (``simulator.generic``) is imported
through the demo spec into a temporary folder; then the snapshot as of the day after the
data end (what ``churn score --raw`` and the weekly run build) is computed by
:func:`features.generic.build.build_snapshots` on DuckDB and on a local Spark session
(``features.spark.local_session``, ``--cores`` threads), each ``--repeat`` times (the
fastest counts; the first Spark run also pays query planning and JVM warm-up). The JVM
start is reported apart (``spark_session_s``). ``same_rows`` says the two frames are equal
(every column, NaN-aware): a timing of a wrong answer is no timing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SPEC = REPO / "configs" / "sources" / "generic_demo.yaml"


def _fastest(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001 - any callable
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args(argv)

    import ibis
    import pandas as pd

    from features.generic.build import build_snapshots, data_span
    from features.generic.load import import_source
    from features.generic.spec import load_spec
    from features.spark import local_session
    from simulator.generic import GenericSimConfig, write

    spec = load_spec(SPEC)
    with tempfile.TemporaryDirectory(prefix="generic_spark_") as tmp:
        root = Path(tmp)
        sim = GenericSimConfig(customers=args.customers, months=args.months, seed=args.seed)
        write(sim, root / "export")
        import_source(spec, root / "export", root / "raw")
        raw = root / "raw"
        day = data_span(raw)[1] + timedelta(days=1)
        duck_s, duck = _fastest(lambda: build_snapshots(spec, raw, [day]).frame, args.repeat)
        t = time.perf_counter()
        session = local_session(cores=args.cores)
        con = ibis.pyspark.connect(session)
        session_s = time.perf_counter() - t
        try:
            spark_s, on_spark = _fastest(
                lambda: build_snapshots(spec, raw, [day], con=con).frame, args.repeat
            )
        finally:
            session.stop()
        try:
            pd.testing.assert_frame_equal(on_spark, duck, rtol=1e-9, atol=1e-9)
            same = True
        except AssertionError:
            same = False
        n_events = len(pd.read_parquet(raw / "activities.parquet", columns=["client_id"]))
    result = {
        "benchmark": "generic_spark",
        "customers": args.customers,
        "months": args.months,
        "seed": args.seed,
        "activities": n_events,
        "as_of": day.isoformat(),
        "rows": len(duck),
        "columns": duck.shape[1],
        "duckdb_s": round(duck_s, 3),
        "spark_s": round(spark_s, 3),
        "spark_over_duckdb": round(spark_s / duck_s, 2),
        "spark_session_s": round(session_s, 2),
        "spark_cores": args.cores,
        "repeat": args.repeat,
        "same_rows": same,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
