"""Benchmark ``churn import`` of a CSV export against DuckDB's own CSV reader: ONE JSON line.

    python benchmarks/import.py [--clients 100000 --months 24 --seed 42
                                 --cache-dir ~/.cache/churn-bench]

The base is the one ``benchmarks/features.py`` generates and caches; it is written once as a
CRM export with the shipped mapping (``configs/mappings/crm_report.yaml``), every table as a
UTF-8 CSV (DuckDB reads no Windows-1251; the clients report as CSV too, so both sides read
the same files). Then, each in its own process so that its peak RSS is its own:

* ``duckdb_s``: ``COPY (SELECT * FROM read_csv(file)) TO 'table.parquet'`` for every file
  (DuckDB sniffs types; nothing is checked or mapped);
* ``import_s``: ``importing.run.import_export`` into a new raw directory: read, map, parse
  every value, name the bad ones, write the contract's Parquet and run the contract checks
  of ``churn validate`` on the result.

``ratio`` = ``import_s / duckdb_s`` (target: at most 3 at 100 000 clients x 24 months;
measured on the shared 2-core box under load 12-20 at 5 000 clients x 24 months, 3.2 M rows,
159 MB of CSV: 3.6-4.7 wall, 3.9-4.8 CPU, peak RSS ~500 MB; the 100 000-client base was too
heavy to generate there);
``cpu_ratio`` the same in CPU seconds (steadier on a shared, loaded box: wall time there is
mostly waiting); ``import_peak_rss_mb`` (target: under 4 GiB).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._sibling import sibling  # noqa: E402 - after the repo is on sys.path

_DUCKDB = """
import json, resource, sys, time
from pathlib import Path
import duckdb
src, out = Path(sys.argv[1]), Path(sys.argv[2])
t0 = time.perf_counter()
con = duckdb.connect()
# sample_size=-1: DuckDB sniffs types over the whole file; its default 20 480-row sample
# guesses a column's type from early rows and fails on the 100 000-client export
for i, f in enumerate(sorted(src.glob("*.csv"))):
    con.execute(
        f"COPY (SELECT * FROM read_csv('{f.as_posix()}', delim=';', header=true, "
        "sample_size=-1)) "
        f"TO '{(out / f'{i}.parquet').as_posix()}' (FORMAT parquet)"
    )
seconds = time.perf_counter() - t0
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"s": seconds, "rss_kb": use.ru_maxrss, "cpu": use.ru_utime + use.ru_stime}))
"""

_IMPORT = """
import json, resource, sys, time
from pathlib import Path
from importing.mapping import load_mapping
from importing.run import import_export
src, mapping, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
t0 = time.perf_counter()
report = import_export(src, load_mapping(mapping), out)
seconds = time.perf_counter() - t0
rows = sum(c.rows for c in report.tables.values())
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"s": seconds, "rss_kb": use.ru_maxrss, "cpu": use.ru_utime + use.ru_stime,
                  "rows": rows}))
"""


def _csv_mapping(src: Path, dst: Path) -> Path:
    """The shipped mapping with every table a UTF-8 CSV (the clients report too)."""
    raw = yaml.safe_load(src.read_text(encoding="utf-8"))
    raw["csv"]["encoding"] = "utf-8"
    clients = raw["tables"]["clients"]
    clients["file"] = clients["file"].replace(".xlsx", ".csv")
    clients.pop("sheet", None)
    clients["header_row"] = 1
    dst.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return dst


def _run(code: str, *args: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        check=True, cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "churn-bench")
    args = ap.parse_args(argv)

    from importing.export import export_crm
    from importing.mapping import load_mapping

    bench = sibling("features")
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    raw = bench._cached_base(args.cache_dir, args.clients, args.months, args.seed)
    work = Path(tempfile.mkdtemp(prefix="churn-bench-import-"))
    try:
        mapping = _csv_mapping(REPO / "configs" / "mappings" / "crm_report.yaml", work / "m.yaml")
        export = work / "export"
        export_crm(raw, load_mapping(mapping), export)
        csv_bytes = sum(p.stat().st_size for p in export.glob("*.csv"))
        (work / "duckdb").mkdir()
        duck = _run(_DUCKDB, export, work / "duckdb")
        ours = _run(_IMPORT, export, mapping, work / "raw")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "clients": args.clients,
        "months": args.months,
        "rows": ours["rows"],
        "csv_mb": round(csv_bytes / 2**20, 1),
        "duckdb_s": round(duck["s"], 2),
        "import_s": round(ours["s"], 2),
        "ratio": round(ours["s"] / duck["s"], 2),
        "duckdb_cpu_s": round(duck["cpu"], 2),
        "import_cpu_s": round(ours["cpu"], 2),  # the whole process: imports and all
        "cpu_ratio": round(ours["cpu"] / duck["cpu"], 2),
        "import_peak_rss_mb": round(ours["rss_kb"] / 1024),
        "duckdb_peak_rss_mb": round(duck["rss_kb"] / 1024),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
