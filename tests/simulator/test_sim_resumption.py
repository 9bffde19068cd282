"""Resumed suspensions in the generator: off by default (the base is byte-identical), and
when on, only ``churn_events`` changes: a ``resumed_ts`` column, valid by the contract."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sim_helpers import small_cfg

from churn.config import Config
from features.contract import RESUMABLE_CHURN_TYPES, TABLES
from features.schema import validate_dir
from features.snapshot import build_snapshots
from simulator.config import SimulateConfig
from simulator.generate import simulate

DAY = pd.Timedelta(days=1)


def _bytes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


@pytest.fixture(scope="module")
def bases(base_sim: SimulateConfig, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("resumption")
    plain = small_cfg(base_sim, clients=400, months=10, seed=8)
    resumed = plain.override(resumption__share=0.6, resumption__mean_days=40)
    return {
        "plain": (simulate(plain, root / "plain"), root / "plain", plain),
        "resumed": (simulate(resumed, root / "resumed"), root / "resumed", resumed),
    }


def test_default_share_writes_no_column_and_no_resumption(bases: dict) -> None:
    summary, raw, _ = bases["plain"]
    assert summary["resumed_suspensions"] == 0
    assert pq.read_schema(raw / "churn_events.parquet").names == (
        TABLES["churn_events"].required_columns
    )


def test_only_churn_events_change_and_only_by_the_column(bases: dict) -> None:
    _, plain, _ = bases["plain"]
    summary, resumed, _ = bases["resumed"]
    a, b = _bytes(plain), _bytes(resumed)
    assert {k for k in a if a[k] != b[k]} == {"churn_events.parquet"}
    before = pd.read_parquet(plain / "churn_events.parquet")
    after = pd.read_parquet(resumed / "churn_events.parquet")
    pd.testing.assert_frame_equal(before, after.drop(columns="resumed_ts"))
    assert after["resumed_ts"].notna().sum() == summary["resumed_suspensions"] > 0


def test_resumptions_are_valid_day_stamps_after_a_suspension(bases: dict) -> None:
    _, raw, cfg = bases["resumed"]
    churn = pd.read_parquet(raw / "churn_events.parquet")
    back = churn[churn["resumed_ts"].notna()]
    assert back["churn_type"].isin(RESUMABLE_CHURN_TYPES).all()
    assert (back["resumed_ts"] > back["ts"]).all()
    assert (back["resumed_ts"] == back["resumed_ts"].dt.floor("D")).all()
    end = pd.Timestamp(cfg.start_date.replace(day=1), tz="UTC") + pd.DateOffset(months=cfg.months)
    assert (back["resumed_ts"] < end).all()
    suspended = churn["churn_type"].isin(RESUMABLE_CHURN_TYPES).sum()
    assert 0.2 < len(back) / suspended < 0.8  # share 0.6, minus those past the window end
    assert validate_dir(raw) == []


def test_a_resumed_generated_client_is_back_in_the_next_snapshot(
    bases: dict, base_config: Config
) -> None:
    _, raw, _ = bases["resumed"]
    churn = pd.read_parquet(raw / "churn_events.parquet")
    back = churn[churn["resumed_ts"].notna()].sort_values("resumed_ts").iloc[0]
    day = back["resumed_ts"].date()
    after = day + pd.Timedelta(days=1).to_pytimedelta()
    snaps = build_snapshots(raw, [day, after], base_config)
    ids = {d: set(snaps.loc[snaps["as_of"].dt.date == d, "client_id"]) for d in (day, after)}
    assert back["client_id"] not in ids[day]  # resumed on the as_of day: not seen yet
    assert back["client_id"] in ids[after]


def test_same_seed_same_resumptions(bases: dict, tmp_path: Path) -> None:
    _, raw, cfg = bases["resumed"]
    simulate(cfg, tmp_path / "again")
    assert _bytes(tmp_path / "again") == _bytes(raw)
