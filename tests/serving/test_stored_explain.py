"""``/explain`` as a lookup: the weekly run stores every client's raw SHAP values
(``serving.stored_shap``) and the explanation of a stored client words them. The answer
must be the one computing SHAP per request gives (the path of a week stored before the
values were kept, which still works), in both languages, with what changed since the
previous week, and still add up to the probability the week stored. On SQLite and
PostgreSQL (the cells are binary)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from serving_helpers import assert_same_answer, make_snapshot
from week_helpers import write_test_week

from churn.config import load_config
from serving import stored_shap
from serving.current import CurrentWeek
from serving.explain import explain_client, explain_stored, raw_contributions
from serving.loading import index_snapshots
from serving.stored import explain_answer
from serving.weekly import score_week
from store.db import connect
from store.weeks import read_scores
from training.model import SMALL_BATCH_ROWS

N = SMALL_BATCH_ROWS + 100  # a week big enough for the weekly run's own TreeSHAP path
W1, W2, W3 = "2025-06-02", "2025-06-09", "2025-06-16"
ONLY_NEW = 1000  # a client missing from the first week: no previous week to compare with


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def _weeks() -> tuple[pd.DataFrame, pd.DataFrame]:
    first = make_snapshot(n=N, seed=11, as_of=W1)
    second = make_snapshot(n=N, seed=12, as_of=W2)
    first = first[first["client_id"] != ONLY_NEW]
    return (
        index_snapshots(first, "w1").get(),
        index_snapshots(second, "w2").get(),
    )


def _store(url: str, tiny_model, cfg, tmp_path: Path, *, keep_shap: bool) -> CurrentWeek:
    """Both weeks stored as ``churn weekly`` stores them (``keep_shap=False``: as a week
    was stored before the SHAP values were kept), the newest served."""
    engine = connect(url)
    for snap in _weeks():
        if keep_shap:
            write_test_week(
                engine,
                model=tiny_model,
                model_version="7",
                snapshot=snap,
                cfg=cfg,
                weeks_dir=tmp_path / "weeks",
            )
        else:
            _write_without_shap(engine, tiny_model, cfg, snap, tmp_path / "old-weeks")
    week = CurrentWeek(engine, poll_s=60)
    assert week.start() is not None
    return week


def _write_without_shap(engine, model, cfg, snap, weeks_dir: Path) -> None:
    from store.weeks import write_week

    rows = snap.reset_index(drop=True)
    as_of = pd.Timestamp(rows["as_of"].iloc[0]).date()
    weeks_dir.mkdir(parents=True, exist_ok=True)
    path = weeks_dir / f"as_of={as_of.isoformat()}.parquet"
    rows.to_parquet(path, index=False)
    frames = score_week(model, rows, cfg=cfg, as_of=as_of, capacity=40)
    write_week(
        engine,
        as_of=as_of,
        model_version="7",
        scores=frames.scores.drop(columns=["shap_raw"]),
        call_list=frames.call_list,
        snapshot_path=str(path),
    )


def test_cells_round_trip_exactly():
    rng = np.random.default_rng(0)
    contrib, base = rng.normal(size=(5, 7)), rng.normal(size=5)
    cells = stored_shap.encode(contrib, base)
    assert [len(c) for c in cells] == [8 * 8] * 5 and all(isinstance(c, bytes) for c in cells)
    back = stored_shap.decode_all(cells)
    np.testing.assert_array_equal(back, np.column_stack([contrib, base]))
    one = stored_shap.decode(cells[2], 7)
    np.testing.assert_array_equal(one[0], contrib[2])
    assert one[1] == base[2]
    assert stored_shap.decode(cells[2], 8) is None, "written for another model's features"
    assert stored_shap.decode(None, 7) is None
    assert stored_shap.decode_all([cells[0], None]) is None, "a week stored without them"
    assert stored_shap.decode_all([cells[0], cells[1][:-8]]) is None
    assert stored_shap.decode_all([]) is None


def test_the_week_stores_every_raw_shap_value(tiny_model, cfg):
    snap = _weeks()[1].reset_index(drop=True)
    frames = score_week(tiny_model, snap, cfg=cfg, as_of=pd.Timestamp(W2).date())
    scores = frames.scores.set_index("client_id")
    stored = stored_shap.decode_all(scores["shap_raw"].tolist())
    assert stored.shape == (N, len(tiny_model.features) + 1)
    ids = scores.index.to_numpy()
    contrib, base = raw_contributions(tiny_model, snap.set_index("client_id").loc[ids])
    np.testing.assert_allclose(stored[:, :-1], contrib, rtol=0, atol=1e-10)
    np.testing.assert_allclose(stored[:, -1], base, rtol=0, atol=1e-10)
    # the stored probability is calibrated from exactly these values' sum
    proba = tiny_model.calibrate(stored[:, :-1].sum(axis=1) + stored[:, -1])
    np.testing.assert_array_equal(proba, scores["probability"].to_numpy())


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_explain_stored_equals_explain_client(tiny_model, cfg, lang):
    snap = _weeks()[1]
    frames = score_week(
        tiny_model, snap.reset_index(drop=True), cfg=cfg, as_of=pd.Timestamp(W2).date()
    )
    cells = frames.scores.set_index("client_id")["shap_raw"]
    kw = {"top_k": 5, "reasons": cfg.reasons_in(lang), "rules": cfg.rules}
    for cid in (1001, 1500, 2000, 3099):
        row = snap.loc[[cid]]
        raw = stored_shap.decode(cells[cid], len(tiny_model.features))
        got = explain_stored(tiny_model, row, *raw, **kw)
        assert_same_answer(got, explain_client(tiny_model, row, **kw), f"client {cid}")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_stored_answer_equals_the_computed_one(store_url, tiny_model, cfg, tmp_path, lang):
    """Several clients (one without a previous week), the served week and the earlier one,
    top_k 3 and all features: the stored path's answer is the computed path's."""
    stored = _store(store_url, tiny_model, cfg, tmp_path, keep_shap=True)
    computed = _store(
        f"sqlite:///{tmp_path / 'old.db'}", tiny_model, cfg, tmp_path, keep_shap=False
    )
    assert stored.get().shap is not None and computed.get().shap is None
    n_features = len(tiny_model.features)
    for cid, top_k, as_of in (
        (1001, 3, None),
        (1777, n_features, None),
        (ONLY_NEW, 5, None),
        (3099, 5, pd.Timestamp(W1).date()),
    ):
        kw = {"client_id": cid, "top_k": top_k, "as_of": as_of, "lang": lang}
        got = explain_answer(stored, lambda v: tiny_model, cfg, **kw)
        want = explain_answer(computed, lambda v: tiny_model, cfg, **kw)
        assert_same_answer(got, want, f"client {cid}")
        assert (got["changes"] is None) == (cid == ONLY_NEW or as_of is not None)
        assert got["lang"] == lang
    changed = explain_answer(stored, lambda v: tiny_model, cfg, client_id=1001, top_k=3, lang=lang)
    assert changed["changes"]["items"], "a client whose signals moved has changes to show"


def test_stored_answer_adds_up_to_the_stored_probability(store_url, tiny_model, cfg, tmp_path):
    week = _store(store_url, tiny_model, cfg, tmp_path, keep_shap=True)
    scores = read_scores(week.engine, pd.Timestamp(W2).date()).set_index("client_id")
    before = read_scores(week.engine, pd.Timestamp(W1).date()).set_index("client_id")
    for cid in (1001, 1234, 2999):
        out = explain_answer(week, lambda v: tiny_model, cfg, client_id=cid, top_k=3)
        assert out["probability"] == scores.loc[cid, "probability"]  # the same number
        total = out["base_value"] + sum(c["contribution"] for c in out["contributions"])
        assert total == pytest.approx(float(logit(out["probability"])), abs=1e-9)
        assert out["evidence"] == scores.loc[cid, "evidence"]
        assert out["changes"]["previous_probability"] == before.loc[cid, "probability"]


def test_pruned_weeks_explain_as_before(store_url, tiny_model, cfg, tmp_path):
    """``store.shap_weeks``: the weekly write clears the SHAP values of older weeks; their
    ``/explain`` (and the served week's "what changed" against them) is computed again and
    answers as it did while they were stored."""
    engine = connect(store_url)
    w1, w2 = _weeks()
    w3 = index_snapshots(make_snapshot(n=N, seed=13, as_of=W3), "w3").get()

    def write(snap, shap_weeks):
        write_test_week(
            engine,
            model=tiny_model,
            model_version="7",
            snapshot=snap,
            cfg=cfg,
            weeks_dir=tmp_path / "weeks",
            shap_weeks=shap_weeks,
        )

    def answers() -> list:
        week = CurrentWeek(engine, poll_s=60)
        assert week.start() is not None
        asked = [(cid, d) for cid in (1001, 3099) for d in (W1, W2, None)]
        return [
            explain_answer(
                week,
                lambda v: tiny_model,
                cfg,
                client_id=cid,
                top_k=5,
                as_of=None if d is None else pd.Timestamp(d).date(),
            )
            for cid, d in asked
        ]

    write(w1, None)
    write(w2, None)
    write(w3, None)
    kept = answers()
    assert _cleared(engine) == {W1: False, W2: False, W3: False}
    write(w3, 1)  # the weekly run again, keeping one week's values
    assert _cleared(engine) == {W1: True, W2: True, W3: False}
    pruned = answers()
    for i, (got, want) in enumerate(zip(pruned, kept, strict=True)):
        assert_same_answer(got, want, f"answer {i}")
    assert kept[2]["changes"]["items"], "the served week's changes against a pruned week"


def _cleared(engine) -> dict[str, bool]:
    """Per stored week: whether every client's SHAP cell is empty (else all are filled)."""
    out = {}
    for day in (W1, W2, W3):
        cells = read_scores(engine, pd.Timestamp(day).date(), columns=["shap_raw"])["shap_raw"]
        empty = cells.isna()
        assert len(cells) and (empty.all() or not empty.any()), day
        out[day] = bool(empty.all())
    return out
