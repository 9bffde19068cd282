"""The served week (``serving.current``) on a real SQLite store, without a server: no week
while the store is empty ("run churn weekly"), the swap to a newer week, a broken week left
unserved, earlier weeks and the previous week of a client, stored score rows by id; and the
key cache's time to live."""

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
from serving.current import NO_WEEK, CurrentWeek, NoWeekYet
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


def test_no_week_until_one_is_stored_then_newer_weeks(engine, tiny_model, cfg, tmp_path):
    week = CurrentWeek(engine, poll_s=60)
    assert week.start() is None and not week.ready
    with pytest.raises(NoWeekYet, match="no week scored yet: run churn weekly"):
        week.get()
    assert NO_WEEK == "no week scored yet: run churn weekly"
    assert week.refresh() is False  # nothing stored yet
    _write(engine, tiny_model, cfg, _snap("2025-06-02", 1), tmp_path)
    assert week.refresh() is True
    old = week.get()
    assert (old.as_of_text, old.model_version) == ("2025-06-02", "7")
    assert week.refresh() is False  # same week: no reload
    _write(engine, tiny_model, cfg, _snap("2025-06-09", 2), tmp_path)
    assert week.refresh() is True and week.get().as_of_text == "2025-06-09"
    assert old.as_of_text == "2025-06-02", "the old week object is never mutated"
    # the same as_of rewritten (a rerun) is a new version: served again
    _write(engine, tiny_model, cfg, _snap("2025-06-09", 4), tmp_path)
    assert week.refresh() is True


def test_stored_score_rows_by_id(engine, tiny_model, cfg, tmp_path):
    snap = _snap("2025-06-02", 1)
    snap.loc[snap.index[0], "tenure_days"] = 10  # a new client: limited evidence
    _write(engine, tiny_model, cfg, snap, tmp_path)
    week = CurrentWeek(engine, poll_s=60)
    served = week.start()
    ids = [int(snap.index[0]), int(snap.index[5])]
    rows = served.score_rows(ids)
    stored = served.scores.loc[ids]
    assert [r["client_id"] for r in rows] == ids
    assert [r["probability"] for r in rows] == stored["probability"].tolist()
    assert [r["risk_band"] for r in rows] == stored["risk_band"].tolist()
    assert rows[0]["evidence"] == "limited"
    assert served.positions([987654321, ids[1]])[0] is None
    assert served.evidence([ids[0], 987654321]) == ["limited", None]


def test_a_week_whose_snapshot_is_gone_is_not_served(engine, tiny_model, cfg, tmp_path):
    _write(engine, tiny_model, cfg, _snap("2025-06-02", 1), tmp_path)
    week = CurrentWeek(engine, poll_s=60)
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
    week = CurrentWeek(engine, poll_s=60)
    week.start()
    assert week.cached_weeks() == [date(2025, 6, 2)]  # the previous week, read ahead
    frame, as_of, version = week.snapshot_of(date(2025, 6, 2))
    assert as_of.date() == date(2025, 6, 2) and len(frame) == len(first) and version == "7"
    with pytest.raises(NotFound, match="as_of"):
        week.snapshot_of(date(2020, 1, 1))
    cid = int(first.index[0])
    prev_score, prev_row = week.previous(cid, date(2025, 6, 9))
    assert prev_score["as_of"] == date(2025, 6, 2)
    assert prev_row.index.tolist() == [cid]
    assert week.previous(cid, date(2025, 6, 2)) is None  # nothing before the first week


# what "what changed" reads of the previous week's row (serving.stored.changes_answer)
PREVIOUS_KEYS = (
    "client_id",
    "as_of",
    "model_version",
    "probability",
    "risk_band",
    "contact_index",
    "rule_band",
    "evidence",
    "shap_raw",
    "snapshot_path",
)


def test_the_previous_week_is_held_in_memory_and_says_what_the_store_says(
    engine, tiny_model, cfg, tmp_path
):
    """``previous`` for the served week's clients answers from the week before it held in
    memory: the store's row (``previous_score``) for a client that week holds; a client
    only an older week holds is looked up in the store; a rewritten earlier week is picked
    up by the next refresh."""
    from store.weeks import previous_score

    oldest = _snap("2025-05-26", 3)
    _write(engine, tiny_model, cfg, oldest, tmp_path)
    middle = _snap("2025-06-02", 1)
    gone = int(middle.index[5])  # scored in the oldest week only: skipped the middle one
    _write(engine, tiny_model, cfg, middle.drop(index=gone), tmp_path)
    _write(engine, tiny_model, cfg, _snap("2025-06-09", 2), tmp_path)
    week = CurrentWeek(engine, poll_s=60)
    week.start()
    served = date(2025, 6, 9)
    ids = [int(c) for c in middle.index[:6] if int(c) != gone]
    for cid in ids:
        score, row = week.previous(cid, served)
        want = previous_score(engine, cid, served)
        assert {k: score[k] for k in PREVIOUS_KEYS} == {k: want[k] for k in PREVIOUS_KEYS}
        assert row.index.tolist() == [cid] and score["as_of"] == date(2025, 6, 2)
    score, _ = week.previous(gone, served)  # not in the week held: the store's answer
    assert score["as_of"] == date(2025, 5, 26)
    # the middle week rewritten (say, rescored by another model): the next refresh holds it
    _write_version(engine, tiny_model, cfg, middle, tmp_path, "8")
    assert week.previous(ids[0], served)[0]["model_version"] == "7"
    assert week.refresh() is False  # the served week is the same
    assert week.previous(ids[0], served)[0]["model_version"] == "8"


def _write_version(engine, tiny_model, cfg, snapshot, tmp_path, version):
    return write_test_week(
        engine,
        model=tiny_model,
        model_version=version,
        snapshot=snapshot,
        cfg=cfg,
        weeks_dir=tmp_path / "weeks",
    )


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
