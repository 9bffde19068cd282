"""A suspended client who resumes is scored and can be called again; one still suspended
is neither (the snapshot's active-client filter, ``churn_events.resumed_ts``)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.config import Config, load_config
from features.contract import RESUMABLE_CHURN_TYPES
from features.dates import data_span
from features.snapshot import build_snapshots
from serving.scoring import score_frame
from serving.weekly import score_week

DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def resumed_base(small_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the session base where half the suspensions in effect at as_of ended three
    days before it; returns the dir, as_of, resumed and still-suspended client ids."""
    first, _ = data_span(small_raw)
    as_of = date(first.year + (first.month + 9) // 12, (first.month + 9) % 12 + 1, 1)
    t0 = pd.Timestamp(as_of, tz="UTC")
    raw = tmp_path_factory.mktemp("resumed") / "raw"
    shutil.copytree(small_raw, raw)
    churn = pd.read_parquet(raw / "churn_events.parquet")
    suspended = churn["churn_type"].isin(RESUMABLE_CHURN_TYPES) & (churn["ts"] < t0 - 10 * DAY)
    rows = np.flatnonzero(suspended.to_numpy())
    assert len(rows) >= 4, "the session base needs suspensions before as_of"
    back = rows[::2]
    churn["resumed_ts"] = pd.Series(pd.NaT, index=churn.index, dtype="datetime64[us, UTC]")
    churn.loc[churn.index[back], "resumed_ts"] = t0 - 3 * DAY
    churn.to_parquet(raw / "churn_events.parquet", index=False)
    ids = churn["client_id"]
    return {
        "raw": raw,
        "as_of": as_of,
        "resumed": set(ids.iloc[back]),
        "suspended": set(ids.iloc[rows]) - set(ids.iloc[back]),
    }


def test_resumed_clients_are_scored_suspended_ones_are_not(
    resumed_base: dict, small_raw: Path, tiny_model
) -> None:
    cfg: Config = load_config()
    as_of = resumed_base["as_of"]
    before = build_snapshots(small_raw, [as_of], cfg)
    snap = build_snapshots(resumed_base["raw"], [as_of], cfg)
    resumed, suspended = resumed_base["resumed"], resumed_base["suspended"]
    assert not resumed & set(before["client_id"])
    assert set(snap["client_id"]) == set(before["client_id"]) | resumed
    scores = score_frame(tiny_model, snap, cfg.rules)
    scored = scores.set_index("client_id")["probability"]
    assert resumed <= set(scored.index) and not suspended & set(scored.index)
    assert np.isfinite(scored.loc[sorted(resumed)]).all()


def test_resumed_clients_can_be_on_the_call_list(resumed_base: dict, tiny_model) -> None:
    cfg = load_config().override(serving__ranking="probability")
    snap = build_snapshots(resumed_base["raw"], [resumed_base["as_of"]], cfg)
    week = score_week(tiny_model, snap, cfg=cfg, as_of=resumed_base["as_of"], capacity=len(snap))
    listed = set(week.call_list["client_id"])
    assert resumed_base["resumed"] & listed
    assert not resumed_base["suspended"] & listed
