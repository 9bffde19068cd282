"""Benchmark the feature layer against a plain scan of the same columns: ONE JSON line.

    python benchmarks/features.py [--clients 100000] [--months 24] [--seed 42]
                                  [--cache-dir ~/.cache/churn-bench] [--repeat 1]

Self-contained: the raw base is generated once with the project's generator (in a child
process, so its memory does not count here) and cached under ``--cache-dir`` keyed by
clients, months, seed and the generator config. Then, with the same engine (DuckDB, same
settings):

* ``scan_s``: read every raw column the features use (an aggregate per column that
  decodes every value, one query per table);
* ``build_s``: one snapshot as of the day after the newest event, written to Parquet;
* ``build_12_s``: 12 monthly snapshots (the 12 latest month starts), one Parquet file.

``peak_rss_mb`` is this process's maximum resident set size (DuckDB runs in-process).
The target is ``build_over_scan`` <= 4.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _cached_base(cache_dir: Path, clients: int, months: int, seed: int) -> Path:
    """Generate (once) and return the raw directory for these parameters."""
    from churn.config import load_config

    sim = load_config().simulate.model_copy(
        update={"clients": clients, "months": months, "seed": seed}
    )
    key = hashlib.sha256(sim.model_dump_json().encode()).hexdigest()[:10]
    raw = cache_dir / f"c{clients}_m{months}_s{seed}_{key}"
    if (raw / "clients.parquet").is_file():
        return raw
    tmp = Path(tempfile.mkdtemp(prefix=raw.name + ".", dir=cache_dir))
    cmd = [sys.executable, "-m", "cli.main", "simulate", "--clients", str(clients)]
    cmd += ["--months", str(months), "--seed", str(seed), "--out", str(tmp)]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    tmp.rename(raw)
    return raw


def _best(fn, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _scan(raw: Path, cfg) -> None:  # noqa: ANN001
    """Read every used column once, one query per table.

    Each column gets an aggregate that must decode every value (a plain min() would be
    answered from the Parquet statistics without reading the data).
    """
    import pyarrow.parquet as pq

    from features.contract import TABLES
    from features.snapshot import USED_COLUMNS, connect

    con = connect(cfg.features)
    for table, used in USED_COLUMNS.items():
        found = set(pq.read_schema(raw / f"{table}.parquet").names)
        columns = [c for c in used if c in found]  # an optional column may be absent
        types = {c.name: c.type for c in TABLES[table].columns}
        reads = {"ts": "min(epoch_us({}))", "str": "max(length({}))"}
        cols = ", ".join(reads.get(types[c], "min({} + 0)").format(c) for c in columns)
        path = (raw / f"{table}.parquet").as_posix()
        con.raw_sql(f"SELECT count(*), {cols} FROM read_parquet('{path}')").fetchall()
    con.disconnect()


def _events(raw: Path) -> int:
    import pyarrow.parquet as pq

    from features.contract import TABLES

    return sum(
        pq.ParquetFile(raw / f"{name}.parquet").metadata.num_rows
        for name, spec in TABLES.items()
        if spec.is_event
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "churn-bench")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measure; the best counts")
    args = ap.parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)

    from churn.config import load_config
    from features.cli import latest_as_of
    from features.snapshot import write_snapshots
    from features.windows import month_starts

    cfg = load_config()
    t0 = time.perf_counter()
    raw = _cached_base(args.cache_dir, args.clients, args.months, args.seed)
    generate_s = time.perf_counter() - t0
    latest = latest_as_of(raw)
    monthly = month_starts(date(latest.year - 1, latest.month, 1), latest)[-12:]
    out = Path(tempfile.mkdtemp(prefix="churn-bench-features-"))
    try:
        scan_s = _best(lambda: _scan(raw, cfg), args.repeat)
        rows: dict[str, int] = {}
        build_s = _best(
            lambda: rows.__setitem__("1", write_snapshots(raw, [latest], cfg, out / "one.parquet")),
            args.repeat,
        )
        build_12_s = _best(
            lambda: rows.__setitem__("12", write_snapshots(raw, monthly, cfg, out / "12.parquet")),
            args.repeat,
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    result = {
        "clients": args.clients,
        "months": args.months,
        "events": _events(raw),
        "rows_1": rows["1"],
        "rows_12": rows["12"],
        "scan_s": round(scan_s, 2),
        "build_s": round(build_s, 2),
        "build_12_s": round(build_12_s, 2),
        "build_over_scan": round(build_s / scan_s, 2),
        "build_12_over_build": round(build_12_s / build_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "generate_s": round(generate_s, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
