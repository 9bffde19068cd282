"""The snapshot expressions run on Spark (local mode) and give the DuckDB rows, column by column.

PySpark is a dev dependency: these run in ``make test`` on the session's one local
SparkSession (``spark`` fixture in ``tests/conftest.py``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from tiny_base import AS_OF, write_tiny_base

from churn.config import Config, load_config
from features.catalog import COLUMNS
from features.snapshot import build_snapshots
from features.spark import build_snapshots_spark

KEYS = ["as_of", "client_id"]


def _assert_same(spark_rows: pd.DataFrame, duck_rows: pd.DataFrame) -> None:
    assert list(spark_rows.columns) == list(COLUMNS)
    assert len(spark_rows) == len(duck_rows) > 0
    got = spark_rows.sort_values(KEYS).reset_index(drop=True)
    want = duck_rows.sort_values(KEYS).reset_index(drop=True)
    for name in COLUMNS:  # one column at a time, so a failure names the signal
        pd.testing.assert_series_equal(
            got[name], want[name], check_dtype=False, rtol=1e-9, atol=1e-9, obj=name
        )


def test_hand_built_base_on_spark_equals_duckdb(spark: object, tmp_path: Path) -> None:
    """Edge cases by construction: events exactly on as_of / on window bounds, churn on
    as_of, no events at all; several dates in one query (the shared history table)."""
    raw = write_tiny_base(tmp_path / "raw")
    cfg = load_config()
    dates = [date(2025, 4, 1), AS_OF, date(2025, 7, 15)]
    got = build_snapshots_spark(raw, dates, cfg, session=spark)
    _assert_same(got, build_snapshots(raw, dates, cfg))
    assert sorted(set(got["as_of"].dt.date)) == dates


def test_generated_base_on_spark_equals_duckdb(
    spark: object, small_raw: Path, session_config: Config, session_sim: object
) -> None:
    """A realistic base (hundreds of clients, every table populated) at two month starts."""
    start = session_sim.start_date
    dates = [date(start.year + 1, 1, 1), date(start.year + 1, 4, 1)]
    got = build_snapshots_spark(small_raw, dates, session_config, session=spark)
    want = build_snapshots(small_raw, dates, session_config)
    _assert_same(got, want)
    assert want["n_users"].sum() > 0 and want["logins_30d"].sum() > 0  # not a vacuous match


def test_resumed_suspension_on_spark_equals_duckdb(spark: object, tmp_path: Path) -> None:
    """``resumed_ts`` on Spark: client 3 suspended 2025-05-20, resumed 2025-06-10, checked on
    both sides of the resumption day (on it: still out; the day after: back)."""
    import copy

    from tiny_base import ROWS

    rows = copy.deepcopy(ROWS)
    churn = next(r for r in rows["churn_events"] if r["client_id"] == 3)
    churn.update(churn_type="suspension", resumed_ts="2025-06-10")
    raw = write_tiny_base(tmp_path / "raw", rows)
    cfg = load_config()
    dates = [date(2025, 6, 10), date(2025, 6, 11)]
    got = build_snapshots_spark(raw, dates, cfg, session=spark)
    _assert_same(got, build_snapshots(raw, dates, cfg))
    ids = got.groupby(got["as_of"].dt.date)["client_id"].agg(set)
    assert 3 not in ids[date(2025, 6, 10)] and 3 in ids[date(2025, 6, 11)]
