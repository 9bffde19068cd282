"""The generic source's snapshots and churn events on Spark (local mode) equal DuckDB's.

``features/generic`` is Ibis only; these run its expressions over the same raw Parquet on
both backends (``features.generic.build`` with ``ibis.pyspark.connect``) and compare every
column, NaN-aware, per (client_id, as_of), and the churn events and data end. PySpark is a
dev dependency: they run in ``make test`` on the session's SparkSession (``spark`` fixture
in ``tests/conftest.py``), like ``test_spark_engine.py``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import pandas as pd
import pytest

from features.generic.build import build_snapshots, churn_events, data_span
from features.generic.load import import_source
from features.generic.spec import ActivitySource, SourceSpec, SubscriptionsSource, load_spec
from simulator.generic import GenericSimConfig, write

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "configs" / "sources" / "generic_demo.yaml"
KEYS = ["as_of", "client_id"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A small generated base (leavers, returners, late renewals, yearly payers) imported
    through the demo spec into canonical Parquet."""
    d = tmp_path_factory.mktemp("generic_spark")
    write(GenericSimConfig(customers=160, months=14, seed=5), d / "export")
    import_source(load_spec(SPEC), d / "export", d / "raw")
    return d / "raw"


def _same_rows(spark_rows: pd.DataFrame, duck_rows: pd.DataFrame) -> None:
    """Same columns in the same order and dtypes; per (as_of, client_id) every value equal,
    NaN where DuckDB has NaN."""
    assert list(spark_rows.columns) == list(duck_rows.columns)
    assert spark_rows.dtypes.to_dict() == duck_rows.dtypes.to_dict()
    assert len(spark_rows) == len(duck_rows) > 0
    got = spark_rows.sort_values(KEYS).reset_index(drop=True)
    want = duck_rows.sort_values(KEYS).reset_index(drop=True)
    for name in want.columns:  # one column at a time, so a failure names the signal
        pd.testing.assert_series_equal(got[name], want[name], rtol=1e-9, atol=1e-9, obj=name)


def _same_events(spark_events: pd.DataFrame, duck_events: pd.DataFrame) -> None:
    keys = ["client_id", "ts"]
    assert spark_events.dtypes.to_dict() == duck_events.dtypes.to_dict()
    pd.testing.assert_frame_equal(
        spark_events.sort_values(keys).reset_index(drop=True),
        duck_events.sort_values(keys).reset_index(drop=True),
    )


def test_generated_base_snapshots_on_spark_equal_duckdb(spark, generated):
    """Month starts and a mid-month Monday (a weekly run's date) in one query."""
    spec = load_spec(SPEC)
    dates = [date(2024, 4, 1), date(2024, 9, 1), date(2024, 11, 18), date(2025, 2, 1)]
    con = ibis.pyspark.connect(spark)
    got = build_snapshots(spec, generated, dates, con=con)
    want = build_snapshots(spec, generated, dates)
    _same_rows(got.frame, want.frame)
    assert got.data_end == want.data_end and got.signals == want.signals
    f = want.frame
    assert sorted(set(f["as_of"].dt.date)) == dates
    # not a vacuous match: counts, values, missing days, returners and attributes all present
    assert f["login_n_30d"].sum() > 0 and f["export_value_90d"].sum() > 0
    assert f["support_ticket_days_since_last"].isna().any()
    assert f["support_ticket_days_since_last"].notna().any()
    assert (f["earlier_periods"] > 0).any() and f["plan"].notna().all()


def test_generated_base_churn_events_on_spark_equal_duckdb(spark, generated):
    spec = load_spec(SPEC)
    con = ibis.pyspark.connect(spark)
    got, got_certain = churn_events(spec, generated, con)
    want, want_certain = churn_events(spec, generated)
    _same_events(got, want)
    assert got_certain == want_certain
    assert set(want["churn_type"]) == {"termination", "suspension"}  # leavers and returners
    assert want["resumed_ts"].notna().any()
    assert data_span(generated, con) == data_span(generated)


def _boundary_base(d: Path) -> Path:
    """Hand-built rows at the edges: on as_of, on window bounds, a renewal within the gap,
    a return after it, open-ended monthly and yearly subscriptions, activities without a
    user or value, and a type only some customers have."""
    s = pd.DataFrame(
        [
            (1, 1, "2024-01-01", None, 10.0, 1),  # open-ended monthly
            (2, 2, "2024-01-01", "2024-06-01", 20.0, 1),  # ends exactly on as_of
            (3, 3, "2024-01-01", "2024-05-31", 30.0, 1),  # ended the day before
            (4, 4, "2024-06-01", None, 40.0, 1),  # starts on as_of
            (5, 5, "2024-05-31 23:59:59", "2024-07-01", 50.0, 12),  # a second before
            (6, 6, "2023-01-01", "2024-02-01", 5.0, 1),
            (7, 6, "2024-02-05", "2024-09-01", 6.0, 1),  # renewed 4 days late: one period
            (8, 7, "2023-01-01", "2023-06-01", 7.0, 1),
            (9, 7, "2023-09-01", None, 8.0, 12),  # came back after 3 months, yearly
        ],
        columns=[
            "subscription_id",
            "client_id",
            "start_ts",
            "end_ts",
            "amount",
            "billing_period_months",
        ],
    )
    for c in ("start_ts", "end_ts"):
        s[c] = pd.to_datetime(s[c], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    a = pd.DataFrame(
        [
            (1, "2024-05-31 23:59:59", "login", None, 11),  # the last second before as_of
            (1, "2024-06-01 00:00:00", "login", None, 12),  # at as_of: the future
            (1, "2024-05-25 00:00:00", "login", None, 11),  # on the 7-day bound
            (1, "2024-05-24 23:59:59", "login", None, 13),  # just outside it
            (1, "2024-05-20", "export", 5.5, 11),
            (2, "2024-03-01", "export", 2.0, None),
            (6, "2024-01-15", "ticket", None, 61),
            (6, "2024-05-02", "login", None, None),
            (7, "2024-05-30 12:00", "export", None, 71),  # a value type without a value
        ],
        columns=["client_id", "ts", "activity_type", "value", "user_id"],
    )
    a["ts"] = pd.to_datetime(a["ts"], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    a["value"] = a["value"].astype("float64")
    a["user_id"] = a["user_id"].astype("Int64")
    a["activity_type"] = a["activity_type"].astype("str")
    d.mkdir(parents=True)
    s.to_parquet(d / "subscriptions.parquet", index=False)
    a.to_parquet(d / "activities.parquet", index=False)
    return d


def _undeclared_spec() -> SourceSpec:
    """No activity types listed: Spark must discover them (and which carry values)."""
    return SourceSpec(
        subscriptions=SubscriptionsSource(
            file="s", key="k", customer="c", start="s", end="e", amount="a", period="p"
        ),
        activities=(
            ActivitySource(file="a", customer="c", time="t", type="y", value="v", user="u"),
        ),
        windows_days=(7, 30),
        trend_days=(7, 30),
    )


def test_boundary_rows_on_spark_equal_duckdb(spark, tmp_path):
    raw = _boundary_base(tmp_path / "raw")
    spec = _undeclared_spec()
    dates = [date(2024, 2, 3), date(2024, 6, 1), date(2024, 6, 2)]
    con = ibis.pyspark.connect(spark)
    got = build_snapshots(spec, raw, dates, con=con)
    want = build_snapshots(spec, raw, dates)
    _same_rows(got.frame, want.frame)
    f = want.frame.set_index(KEYS)
    june = f.xs(pd.Timestamp("2024-06-01", tz="UTC"), level="as_of")
    assert list(june.index) == [1, 2, 5, 6, 7]  # the boundary cases really are at the edge
    assert june.loc[1, "login_n_7d"] == 2 and june.loc[7, "earlier_periods"] == 1
    assert "ticket_n_30d" in f.columns and "export_value_30d" in f.columns
    got_events, _ = churn_events(spec, raw, con)
    want_events, _ = churn_events(spec, raw)
    _same_events(got_events, want_events)
    assert len(want_events) > 0


def test_the_loops_spark_entry_points_build_the_generic_source(spark, generated, tmp_path):
    """``features.spark`` (what ``churn score --engine spark --raw`` and ``churn weekly
    --engine spark`` call) dispatches on the config's source: the generic snapshot as of
    the day after the data end, lazily and collected, equals DuckDB's."""
    from datetime import timedelta

    from churn.config import load_config
    from features.generic.build import utc_frame
    from features.spark import build_snapshots_spark, latest_as_of_spark, snapshot_dataframe

    cfg = load_config(ROOT / "configs" / "generic" / "default.yaml")
    day = latest_as_of_spark(spark, generated, cfg)
    assert day == data_span(generated)[1] + timedelta(days=1)
    want = build_snapshots(load_spec(SPEC), generated, [day]).frame
    _same_rows(build_snapshots_spark(generated, [day], cfg, session=spark), want)
    lazy = snapshot_dataframe(spark, generated, [day], cfg).toPandas()
    _same_rows(utc_frame(lazy.astype({c: "str" for c in ("name", "plan", "country")})), want)
