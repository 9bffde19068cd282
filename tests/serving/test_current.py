"""The served week (``serving.current``) on a real SQLite store, without a server: the
fallback while the store is empty, the swap to a newer week, a broken week left unserved,
earlier weeks and the previous week of a client; and the key cache's time to live."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from serving_helpers import make_snapshot
from week_helpers import write_test_week

from churn.config import load_config
from churn.errors import NotFound
from serving.access import KeyCache
from serving.current import CurrentWeek, from_snapshots
from serving.loading import index_snapshots
from store.db import connect
from store.weeks import get_week


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def _snap(as_of: str, seed: int) -> pd.DataFrame:
    return index_snapshots(make_snapshot(n=120, seed=seed, as_of=as_of), "test").get()


@pytest.fixture
def engine(tmp_path: Path):
    return connect(f"sqlite:///{tmp_path / 'store.db'}")


def _write(engine, tiny_model, cfg, snapshot, tmp_path):
    return write_test_week(
        engine,
        model=tiny_model,
        model_version="7",
        snapshot=snapshot,
        cfg=cfg,
        weeks_dir=tmp_path / "weeks",
    )


def test_fallback_until_a_week_is_stored_then_newer_weeks(engine, tiny_model, cfg, tmp_path):
    fallback_calls = []

    def fallback():
        fallback_calls.append(1)
        return index_snapshots(make_snapshot(n=50, seed=3, as_of="2025-05-01"), "file")

    week = CurrentWeek(engine, fallback=fallback, poll_s=60)
    served = week.start()
    assert (served.source, served.as_of_text) == ("snapshot", "2025-05-01")
    assert fallback_calls == [1]
    assert week.refresh() is False  # nothing stored: keep the fallback
    old = week.get()
    _write(engine, tiny_model, cfg, _snap("2025-06-02", 1), tmp_path)
    assert week.refresh() is True
    new = week.get()
    assert (new.source, new.as_of_text, new.model_version) == ("store", "2025-06-02", "7")
    assert old.source == "snapshot", "the old week object is never mutated"
    assert week.snapshots is None
    assert week.refresh() is False  # same week: no reload
    _write(engine, tiny_model, cfg, _snap("2025-06-09", 2), tmp_path)
    assert week.refresh() is True and week.get().as_of_text == "2025-06-09"
    # the same as_of rewritten (a rerun) is a new version: served again
    _write(engine, tiny_model, cfg, _snap("2025-06-09", 4), tmp_path)
    assert week.refresh() is True


def test_store_week_at_start_skips_the_fallback(engine, tiny_model, cfg, tmp_path):
    _write(engine, tiny_model, cfg, _snap("2025-06-02", 1), tmp_path)

    def fallback():
        raise AssertionError("the fallback must not be loaded when the store has a week")

    week = CurrentWeek(engine, fallback=fallback, poll_s=60)
    assert week.start().source == "store"


def test_no_week_and_no_fallback_is_a_clear_error(engine):
    with pytest.raises(NotFound, match="churn weekly"):
        CurrentWeek(engine, fallback=None, poll_s=60).start()


def test_a_week_whose_snapshot_is_gone_is_not_served(engine, tiny_model, cfg, tmp_path):
    _write(engine, tiny_model, cfg, _snap("2025-06-02", 1), tmp_path)
    week = CurrentWeek(engine, fallback=None, poll_s=60)
    week.start()
    as_of = _write(engine, tiny_model, cfg, _snap("2025-06-09", 2), tmp_path)
    Path(get_week(engine, as_of).snapshot_path).unlink()
    assert week.refresh() is False
    assert week.get().as_of_text == "2025-06-02"
    assert week.last_error and "2025-06-09" in week.last_error


def test_earlier_weeks_and_the_previous_week(engine, tiny_model, cfg, tmp_path):
    first = _snap("2025-06-02", 1)
    _write(engine, tiny_model, cfg, first, tmp_path)
    _write(engine, tiny_model, cfg, _snap("2025-06-09", 2), tmp_path)
    week = CurrentWeek(engine, fallback=None, poll_s=60)
    week.start()
    assert week.cached_weeks() == [date(2025, 6, 2)]  # the previous week, read ahead
    frame, as_of = week.snapshot_of(date(2025, 6, 2))
    assert as_of.date() == date(2025, 6, 2) and len(frame) == len(first)
    with pytest.raises(NotFound, match="as_of"):
        week.snapshot_of(date(2020, 1, 1))
    cid = int(first.index[0])
    prev_score, prev_row = week.previous(cid, date(2025, 6, 9))
    assert prev_score["as_of"] == date(2025, 6, 2)
    assert prev_row.index.tolist() == [cid]
    assert week.previous(cid, date(2025, 6, 2)) is None  # nothing before the first week


def test_evidence_of_a_snapshot_week_comes_from_tenure():
    snap = index_snapshots(make_snapshot(n=20, seed=5), "t")
    snap.get().loc[snap.get().index[0], "tenure_days"] = 10
    served = from_snapshots(snap)
    first = int(served.snapshot.index[0])
    assert served.evidence([first, 987654321]) == ["limited", None]


def test_key_cache_remembers_for_its_ttl_only():
    now = [0.0]
    calls: list[str] = []
    roles = {"ck_a": "admin"}

    def verify(key):
        calls.append(key)
        return roles.get(key)

    cache = KeyCache(verify, ttl_s=5, clock=lambda: now[0])
    assert cache.role("ck_a") == "admin" and cache.role("ck_a") == "admin"
    assert cache.role("ck_unknown") is None and cache.role("ck_unknown") is None
    assert calls == ["ck_a", "ck_unknown"]
    del roles["ck_a"]  # revoked
    now[0] = 4.9
    assert cache.role("ck_a") == "admin"  # still within the TTL
    now[0] = 5.1
    assert cache.role("ck_a") is None
    no_cache = KeyCache(verify, ttl_s=0)
    no_cache.role("ck_b")
    no_cache.role("ck_b")
    assert calls.count("ck_b") == 2
