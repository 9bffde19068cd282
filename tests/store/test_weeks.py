"""Writing and reading weeks: one transaction, replace on rerun, history order and limit."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from store_helpers import call_frame, scores_frame

from churn.errors import InputError
from store.db import connect
from store.schema import weekly_scores
from store.weeks import (
    get_week,
    history,
    latest_week,
    list_weeks,
    previous_score,
    read_call_list,
    read_scores,
    write_week,
)

W1 = date(2025, 6, 2)
W2 = W1 + timedelta(days=7)


def _write(engine, as_of, version="3", scores=None, path=None):
    scores = scores_frame() if scores is None else scores
    write_week(
        engine,
        as_of=as_of,
        model_version=version,
        scores=scores,
        call_list=call_frame(scores),
        snapshot_path=path,
    )


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(weekly_scores)).scalar_one()


def test_write_and_read_a_week(store_url: str) -> None:
    engine = connect(store_url)
    assert latest_week(engine) is None
    scores = scores_frame(n=6)
    _write(engine, W1, scores=scores, path="data/weeks/as_of=2025-06-02.parquet")
    week = latest_week(engine)
    assert week is not None
    assert (week.as_of, week.model_version, week.n_clients) == (W1, "3", 6)
    assert week.snapshot_path == "data/weeks/as_of=2025-06-02.parquet"
    assert week.status == "complete" and week.created_at.tzinfo is not None
    got = read_scores(engine, W1)
    assert got["client_id"].tolist() == scores["client_id"].tolist()
    assert got["probability"].tolist() == pytest.approx(scores["probability"].tolist())
    assert got["drivers"].iloc[0] == [{"feature": "logins_30d", "value": 3, "contribution": 0.1}]
    assert got["evidence"].tolist()[-1] == "limited"
    assert str(got["as_of"].dtype) == "datetime64[us]"
    calls = read_call_list(engine, W1)
    assert calls["selected"].tolist() == [True] * 3 + [False] * 3
    assert calls["rank"].tolist() == list(range(1, 7))


def test_rerun_of_the_same_week_and_model_replaces(store_url: str) -> None:
    engine = connect(store_url)
    _write(engine, W1, scores=scores_frame(n=5, seed=1))
    _write(engine, W1, scores=scores_frame(n=4, seed=2))
    assert _count(engine) == 4
    assert len(list_weeks(engine, all_versions=True)) == 1
    assert read_scores(engine, W1)["probability"].tolist() == pytest.approx(
        scores_frame(n=4, seed=2)["probability"].tolist()
    )


def test_a_second_model_sits_next_to_the_first_and_readers_take_the_newest(
    store_url: str,
) -> None:
    engine = connect(store_url)
    _write(engine, W1, version="3", scores=scores_frame(n=5))
    _write(engine, W1, version="4", scores=scores_frame(n=3))
    assert [w.model_version for w in list_weeks(engine, all_versions=True)] == ["3", "4"]
    assert [w.model_version for w in list_weeks(engine)] == ["4"]
    assert len(read_scores(engine, W1)) == 3
    assert len(read_scores(engine, W1, model_version="3")) == 5
    assert [h["model_version"] for h in history(engine, 1)] == ["4"]
    assert get_week(engine, W1, "3").n_clients == 5


def test_history_is_oldest_first_and_limited(store_url: str) -> None:
    engine = connect(store_url)
    weeks = [W1 + timedelta(days=7 * i) for i in range(5)]
    for i, as_of in enumerate(weeks):
        scores = scores_frame(n=3, seed=i)
        _write(engine, as_of, scores=scores, path=f"w{i}.parquet")
    got = history(engine, 2, weeks=3)
    assert [h["as_of"] for h in got] == weeks[-3:]
    assert set(got[0]) >= {"as_of", "probability", "risk_band", "contact_index", "rule_band",
                           "model_version"}  # fmt: skip
    assert [h["as_of"] for h in history(engine, 2)] == weeks
    assert history(engine, 999) == []
    with pytest.raises(InputError, match="weeks"):
        history(engine, 2, weeks=0)
    prev = previous_score(engine, 2, before=weeks[2])
    assert prev["as_of"] == weeks[1] and prev["snapshot_path"] == "w1.parquet"
    assert previous_score(engine, 2, before=weeks[0]) is None
    assert [w.as_of for w in list_weeks(engine)] == weeks
    assert latest_week(engine).as_of == weeks[-1]


def test_a_failed_write_leaves_the_store_as_it_was(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = connect(store_url)
    _write(engine, W1, scores=scores_frame(n=5))
    bad_calls = call_frame(scores_frame(n=5))
    bad_calls.loc[4, "client_id"] = bad_calls.loc[3, "client_id"]
    with pytest.raises(InputError, match="call_list.client_id: duplicated"):
        write_week(engine, as_of=W1, model_version="3", scores=scores_frame(n=2),
                   call_list=bad_calls, snapshot_path=None)  # fmt: skip

    # an error half-way: after the old week was deleted and the new scores inserted
    def boom() -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("store.weeks.MID_WRITE_HOOKS", [boom])
    with pytest.raises(RuntimeError, match="disk full"):
        _write(engine, W1, scores=scores_frame(n=2))
    assert _count(engine) == 5
    assert len(read_call_list(engine, W1)) == 5
    assert latest_week(engine).n_clients == 5


def test_bad_frames_name_the_column(store_url: str) -> None:
    engine = connect(store_url)
    scores = scores_frame(n=3)
    with pytest.raises(InputError, match="scores: missing column.*evidence"):
        write_week(engine, as_of=W1, model_version="1", scores=scores.drop(columns="evidence"),
                   call_list=call_frame(scores), snapshot_path=None)  # fmt: skip
    with pytest.raises(InputError, match="scores.evidence"):
        write_week(engine, as_of=W1, model_version="1", scores=scores.assign(evidence="some"),
                   call_list=call_frame(scores), snapshot_path=None)  # fmt: skip
    assert latest_week(engine) is None


def test_missing_optional_values_are_null(store_url: str) -> None:
    engine = connect(store_url)
    scores = scores_frame(n=3)
    scores["contact_index"] = [0.4, float("nan"), 0.5]
    scores["segment"] = pd.array(["large", None, "small_medium"], dtype="str")
    _write(engine, W1, scores=scores)
    got = read_scores(engine, W1)
    assert pd.isna(got["contact_index"].iloc[1]) and pd.isna(got["segment"].iloc[1])


def test_drivers_json_keeps_numpy_values_and_text(store_url: str) -> None:
    import numpy as np

    engine = connect(store_url)
    scores = scores_frame(n=3)
    scores["drivers"] = [
        [{"feature": "logins_30d", "value": np.int64(0), "contribution": np.float64(0.5)}],
        [{"feature": "region", "value": None, "text": "Входов нет — повышает риск"}],
        [],
    ]
    _write(engine, W1, scores=scores)
    got = read_scores(engine, W1).set_index("client_id")["drivers"]
    assert got.loc[1] == [{"feature": "logins_30d", "value": 0, "contribution": 0.5}]
    assert got.loc[2] == [
        {"feature": "region", "value": None, "text": "Входов нет — повышает риск"}
    ]
    assert got.loc[3] == []


def test_drivers_given_as_json_text_are_stored_as_is_and_bad_text_is_refused(
    store_url: str,
) -> None:
    engine = connect(store_url)
    scores = scores_frame(n=3)
    scores["drivers"] = [
        '[{"feature": "logins_30d", "value": 0, "contribution": 0.5}]',
        None,
        "[]",
    ]
    _write(engine, W1, scores=scores)
    got = read_scores(engine, W1).set_index("client_id")["drivers"]
    assert got.loc[1] == [{"feature": "logins_30d", "value": 0, "contribution": 0.5}]
    assert got.loc[2] is None and got.loc[3] == []
    for bad in ('[{"feature": ', "[], []"):
        scores["drivers"] = ["[]", bad, "[]"]
        with pytest.raises(InputError, match="scores.drivers"):
            _write(engine, W2, scores=scores)
    assert read_scores(engine, W2).empty  # nothing of the refused week was written


def _with_shap(seed: int) -> pd.DataFrame:
    scores = scores_frame(n=4, seed=seed)
    scores["shap_raw"] = [bytes([seed, i]) * 8 for i in range(4)]
    return scores


def _shap_cells(engine, as_of) -> list:
    return read_scores(engine, as_of, columns=["shap_raw"])["shap_raw"].tolist()


def test_the_weekly_write_clears_shap_values_older_than_the_newest_weeks(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``store.shap_weeks``: each write keeps the SHAP values of the newest N stored weeks
    (by as_of, any model version) and clears older ones, in its own transaction; nothing
    else of a week changes."""
    engine = connect(store_url)
    days = [W1 + timedelta(days=7 * i) for i in range(4)]
    frames = {d: _with_shap(i + 1) for i, d in enumerate(days)}
    for d in days[:2]:
        _write(engine, d, scores=frames[d])  # no setting: every week keeps them
    assert all(_shap_cells(engine, d) == frames[d]["shap_raw"].tolist() for d in days[:2])
    for d in days[2:]:
        write_week(engine, as_of=d, model_version="3", scores=frames[d],
                   call_list=call_frame(frames[d]), snapshot_path=None, shap_weeks=2)  # fmt: skip
    assert [_shap_cells(engine, d) for d in days[:2]] == [[None] * 4] * 2
    for d in days[2:]:
        assert _shap_cells(engine, d) == frames[d]["shap_raw"].tolist()  # bytes as written
    for d in days:  # the rest of a pruned week as it was
        assert read_scores(engine, d)["probability"].tolist() == pytest.approx(
            frames[d]["probability"].tolist()
        )
        assert len(read_call_list(engine, d)) == 4

    # a second model for the newest week is the same week: the one before keeps its values
    new = _with_shap(9)
    write_week(engine, as_of=days[3], model_version="4", scores=new, call_list=call_frame(new),
               snapshot_path=None, shap_weeks=2)  # fmt: skip
    assert _shap_cells(engine, days[2]) == frames[days[2]]["shap_raw"].tolist()
    # a week backfilled behind the newest two is stored without them at once
    old = _with_shap(7)
    write_week(engine, as_of=W1 - timedelta(days=7), model_version="3", scores=old,
               call_list=call_frame(old), snapshot_path=None, shap_weeks=2)  # fmt: skip
    assert _shap_cells(engine, W1 - timedelta(days=7)) == [None] * 4
    assert _shap_cells(engine, days[2]) == frames[days[2]]["shap_raw"].tolist()

    # a write that fails after clearing leaves every week's values as they were
    def boom() -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("store.weeks.MID_WRITE_HOOKS", [boom])
    with pytest.raises(RuntimeError, match="disk full"):
        write_week(engine, as_of=days[3], model_version="4", scores=new,
                   call_list=call_frame(new), snapshot_path=None, shap_weeks=1)  # fmt: skip
    assert _shap_cells(engine, days[2]) == frames[days[2]]["shap_raw"].tolist()
    monkeypatch.setattr("store.weeks.MID_WRITE_HOOKS", [])
    with pytest.raises(InputError, match="shap_weeks"):
        write_week(engine, as_of=days[3], model_version="4", scores=new,
                   call_list=call_frame(new), snapshot_path=None, shap_weeks=0)  # fmt: skip
    assert _shap_cells(engine, days[3]) == new["shap_raw"].tolist()
