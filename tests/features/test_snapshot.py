"""Every signal on the hand-built base (tiny_base.py), with the expected numbers written out;
the output contract; engine neutrality (compiles to Spark SQL)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from tiny_base import AS_OF, write_tiny_base

from churn.config import Config, load_config
from features.catalog import CATALOG, COLUMNS
from features.snapshot import (
    build_snapshots,
    connect,
    load_tables,
    snapshot_expr,
    snapshots_expr,
    unbound_tables,
)
from features.spark_sql import to_spark_sql

NAN = math.nan
PANDAS_DTYPES = {"int": "int64", "float": "float64", "str": "str", "ts": "datetime64[us, UTC]"}

# client -> signal -> expected value on AS_OF = 2025-06-01 (see tiny_base.py comments)
EXPECTED: dict[str, dict[int, object]] = {
    "centre_id": {1: "C01", 2: "C02", 4: "C01"},
    "name": {1: None, 2: None, 4: None},  # the hand-built export has no names (optional)
    "category": {1: "A", 2: "B", 4: "C"},
    "segment": {1: "large", 2: "small_medium", 4: "small_medium"},
    "service_mode": {1: "in_person", 2: "remote", 4: "remote"},
    "region": {1: "North", 2: None, 4: "South"},
    "monthly_fee_rub": {1: 20_000.0, 2: 10_000.0, 4: 9_000.0},
    "tenure_days": {1: 503, 2: 92, 4: 365},
    "first_advance_months": {1: 3.0, 2: NAN, 4: 12.0},
    "n_users": {1: 4, 2: 2, 4: 0},  # user 14 registers on as_of
    "logins_7d": {1: 2, 2: 0, 4: 0},  # 05-31 23:59 and exactly 05-25 00:00
    "logins_30d": {1: 4, 2: 0, 4: 0},
    "logins_90d": {1: 6, 2: 1, 4: 0},
    "login_trend": {1: 4.0, 2: 0.0, 4: NAN},  # 4 / (2 base logins / 2 months); 0 / (1/2)
    "active_users_30d": {1: 3, 2: 0, 4: 0},
    "training_coverage": {1: 0.5, 2: 0.5, 4: NAN},  # users 12, 13 of 4; 21 of 2; no users
    "training_norm_met": {1: 0, 2: 1, 4: 0},  # A needs 0.8; B 0.5 exactly met
    "key_user_trained": {1: 0, 2: 1, 4: 0},  # user 11's training is 731 days old
    "days_since_training": {1: 1.0, 2: 83.0, 4: NAN},
    "webinars_180d": {1: 1, 2: 2, 4: 0},
    "cabinet_requests_90d": {1: 1, 2: 0, 4: 0},
    "hotline_requests_60d": {1: 1, 2: 0, 4: 0},
    "consultation_requests_60d": {1: 1, 2: 0, 4: 0},
    "newsletter_clicks_30d": {1: 1, 2: 0, 4: 0},
    "newsletter_clicks_90d": {1: 2, 2: 0, 4: 0},
    "newsletter_bounce_share_90d": {1: 0.25, 2: NAN, 4: NAN},  # 1 bounced of 4 sent
    "video_clicks_90d": {1: 1, 2: 0, 4: 0},
    "kit_updates_90d": {1: 1, 2: 0, 4: 0},
    "open_debt_rub": {1: 65_000.0, 2: 0.0, 4: 0.0},  # invoice paid on as_of is still open
    "overdue_debt_rub": {1: 60_000.0, 2: 0.0, 4: 0.0},
    "days_overdue": {1: 47, 2: 0, 4: 0},
    "renewal_period_arrived": {1: 1, 2: 0, 4: 0},  # paid to 03-31; to 07-02; never billed
    "competitor_present": {1: "unknown", 2: None, 4: None},
    "days_since_competitor_check": {1: 31.0, 2: NAN, 4: NAN},
    "key_user_changed_180d": {1: 1, 2: 0, 4: 0},
    "decision_maker_changed_180d": {1: 0, 2: 0, 4: 0},
    "days_since_contact": {1: 12.0, 2: 78.0, 4: NAN},  # the unanswered call does not count
    # rules: 0.2 + 0.3 renewal + 0.1 overdue + 0.2 norm; 0.2 + 0.1 kit + 0.05 no hotline/LK;
    # 0.2 + 0.1 + 0.05 + 0.2
    "contact_index": {1: 0.8, 2: 0.35, 4: 0.55},
    "rule_band": {1: "high", 2: "high", 4: "high"},
    "training_indicator": {1: 0.34, 2: 0.2, 4: 0.34},
    "webinar_indicator": {1: 0.30, 2: 0.2, 4: 0.34},
    "cabinet_indicator": {1: 0.30, 2: 0.34, 4: 0.34},
}


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def tiny_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_base(tmp_path_factory.mktemp("tiny") / "raw")


@pytest.fixture(scope="module")
def tiny(tiny_raw: Path, cfg: Config) -> pd.DataFrame:
    return build_snapshots(tiny_raw, [AS_OF], cfg).set_index("client_id")


def _same(got: object, want: object) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or pd.isna(got)
    if isinstance(want, float):
        return got == pytest.approx(want, abs=1e-9)
    return got == want


def test_active_clients_only(tiny: pd.DataFrame) -> None:
    # 3 churned before as_of, 5 starts on as_of; 4 churns on as_of so is still active
    assert sorted(tiny.index) == [1, 2, 4]
    assert (tiny["as_of"] == pd.Timestamp("2025-06-01", tz="UTC")).all()


@pytest.mark.parametrize("signal", list(EXPECTED))
def test_signal_on_hand_built_base(tiny: pd.DataFrame, signal: str) -> None:
    for client, want in EXPECTED[signal].items():
        got = tiny.loc[client, signal]
        assert _same(got, want), f"{signal} of client {client}: got {got!r}, want {want!r}"


def test_every_catalog_signal_is_checked() -> None:
    assert set(EXPECTED) == set(COLUMNS) - {"client_id", "as_of"}


def test_columns_and_dtypes_are_the_catalog(tiny: pd.DataFrame) -> None:
    frame = tiny.reset_index()
    assert list(frame.columns) == COLUMNS
    for f in CATALOG:
        assert str(frame[f.name].dtype) == PANDAS_DTYPES[f.dtype], f.name


def test_snapshots_of_several_dates_equal_single_ones(tiny_raw: Path, cfg: Config) -> None:
    """One query over many as_of dates gives the same rows as one query per date."""
    dates = [AS_OF.replace(month=4), AS_OF]
    both = build_snapshots(tiny_raw, dates, cfg)
    for d in dates:
        one = build_snapshots(tiny_raw, [d], cfg)
        part = both[both["as_of"] == pd.Timestamp(d, tz="UTC")].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, one)


def test_plan_compiled_once_equals_the_pure_expression(tiny_raw: Path, cfg: Config) -> None:
    """build_snapshots instantiates one compiled plan per date; it must equal the pure
    Ibis expression (a union of per-date literal plans) run by Ibis."""
    dates = [date(2025, 4, 1), AS_OF, date(2025, 7, 15)]
    fast = build_snapshots(tiny_raw, dates, cfg)
    con = connect(cfg.features)
    pure = con.to_pandas(snapshots_expr(load_tables(tiny_raw, con), dates, cfg.features, cfg.rules))
    assert sorted(set(fast["as_of"].dt.date)) == sorted(dates)
    pd.testing.assert_frame_equal(fast, pure)


def test_compiles_to_spark_sql(cfg: Config) -> None:
    """Engine neutrality: the same expression compiles for Spark without a Spark runtime."""
    expr = snapshot_expr(unbound_tables(), AS_OF, cfg.features, cfg.rules)
    sql = to_spark_sql(expr)
    assert "DATEDIFF" in sql.upper() and "UNBOUNDED PRECEDING" in sql.upper()
    assert all(f"`{c}`" in sql for c in COLUMNS)
    assert list(expr.columns) == COLUMNS


def test_several_dates_compile_to_spark_sql(cfg: Config) -> None:
    """The multi-date expression (shared history + UNION ALL) is engine-neutral too."""
    expr = snapshots_expr(unbound_tables(), [date(2025, 5, 1), AS_OF], cfg.features, cfg.rules)
    sql = to_spark_sql(expr).upper()
    assert "UNION ALL" in sql and "ORDER BY" in sql
    assert list(expr.columns) == COLUMNS


def test_export_without_centre_id_has_it_missing(tmp_path: Path, cfg: Config) -> None:
    """centre_id is optional in the contract: a single centre's export lacks the column,
    validation finds nothing new, and its snapshot has the column, all missing, the rest
    unchanged."""
    import pyarrow.parquet as pq

    from features.schema import validate_dir

    raw = write_tiny_base(tmp_path / "raw")
    with_centres = build_snapshots(raw, [AS_OF], cfg)
    found = validate_dir(raw)
    clients = pq.read_table(raw / "clients.parquet").drop_columns(["centre_id"])
    pq.write_table(clients, raw / "clients.parquet")
    assert validate_dir(raw) == found
    without = build_snapshots(raw, [AS_OF], cfg)
    assert list(without.columns) == COLUMNS
    assert without["centre_id"].isna().all() and str(without["centre_id"].dtype) == "str"
    pd.testing.assert_frame_equal(
        without.drop(columns="centre_id"), with_centres.drop(columns="centre_id")
    )
