"""Call outcomes: idempotent by id, all-or-nothing batches, 20 concurrent writers lose nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from churn.errors import Conflict, InputError
from store.db import connect
from store.outcomes import (
    add_outcomes,
    count_outcomes,
    outcomes_for,
    read_outcomes,
    recently_called,
)


def _row(oid: str, client_id: int = 1, called_on: str = "2025-06-03", reached: bool = True,
         result: str = "retained", note: str | None = None) -> dict:  # fmt: skip
    return {"outcome_id": oid, "client_id": client_id, "called_on": called_on,
            "reached": reached, "result": result, "note": note}  # fmt: skip


def test_outcome_ids_are_idempotent(store_url: str) -> None:
    engine = connect(store_url)
    assert add_outcomes(engine, [_row("a"), _row("b", client_id=2)]) == (2, 0)
    assert add_outcomes(engine, [_row("a"), _row("c")]) == (1, 1)
    assert add_outcomes(engine, [_row("d"), _row("d")]) == (1, 1)  # repeated inside a batch
    assert count_outcomes(engine) == 4
    frame = read_outcomes(engine)
    assert sorted(frame["outcome_id"]) == ["a", "b", "c", "d"]
    assert str(frame["called_on"].dtype) == "datetime64[us]"


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"result": "maybe"}, "outcomes[1].result"),
        ({"reached": "yes"}, "outcomes[1].reached"),
        ({"called_on": "03.06.2025"}, "outcomes[1].called_on"),
        ({"client_id": -1}, "outcomes[1].client_id"),
        ({"client_id": True}, "outcomes[1].client_id"),
        ({"outcome_id": ""}, "outcomes[1].outcome_id"),
        ({"outcome_id": None}, "outcomes[1].outcome_id"),
        ({"colour": "red"}, "outcomes[1].colour"),
        ({"note": 5}, "outcomes[1].note"),
        ({"note": "перезвонить\x00"}, "outcomes[1].note"),  # PostgreSQL cannot store NUL
        ({"outcome_id": "a\x00b"}, "outcomes[1].outcome_id"),
    ],
)
def test_a_bad_row_stores_nothing_of_its_batch(store_url: str, bad: dict, field: str) -> None:
    engine = connect(store_url)
    rows = [_row("ok-1"), {**_row("bad"), **bad}, _row("ok-2")]
    with pytest.raises(InputError, match=field.replace("[", r"\[").replace("]", r"\]")):
        add_outcomes(engine, rows)
    assert count_outcomes(engine) == 0


def test_twenty_concurrent_writers_lose_nothing(store_url: str) -> None:
    engine = connect(store_url)
    writers, batches, per_batch = 20, 5, 4

    def post(w: int) -> tuple[int, int]:
        total = (0, 0)
        for b in range(batches):
            rows = [_row(f"w{w}-b{b}-{i}", client_id=w) for i in range(per_batch)]
            rows.append(_row("shared", client_id=0))  # every writer races on this id
            got = add_outcomes(engine, rows)
            total = (total[0] + got[0], total[1] + got[1])
        return total

    with ThreadPoolExecutor(max_workers=writers) as pool:
        results = list(pool.map(post, range(writers)))
    inserted = sum(r[0] for r in results)
    known = sum(r[1] for r in results)
    expected = writers * batches * per_batch + 1
    assert inserted == expected == count_outcomes(engine)
    assert known == writers * batches - 1  # the shared id was inserted exactly once


def test_overlapping_batches_in_opposite_orders_do_not_deadlock(store_url: str) -> None:
    """Posters racing on the same ids listed in different orders (a retry reshuffled):
    on PostgreSQL unordered inserts deadlock; every batch must be acknowledged."""
    engine = connect(store_url)
    ids = [f"o{i:03d}" for i in range(60)]

    def post(w: int) -> tuple[int, int]:
        order = ids if w % 2 else list(reversed(ids))
        return add_outcomes(engine, [_row(oid, client_id=int(oid[1:])) for oid in order])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(post, range(16)))
    assert sum(r[0] for r in results) == len(ids) == count_outcomes(engine)
    assert sum(r[0] + r[1] for r in results) == 16 * len(ids)


def test_recently_called_counts_reached_calls_in_the_window(store_url: str) -> None:
    engine = connect(store_url)
    add_outcomes(
        engine,
        [
            _row("1", client_id=1, called_on="2025-05-05"),  # exactly 28 days before: in
            _row("2", client_id=2, called_on="2025-05-04"),  # 29 days: out
            _row("3", client_id=3, called_on="2025-06-01", reached=False, result="no_answer"),
            _row("4", client_id=4, called_on="2025-06-02"),  # on as_of: not before it
            _row("5", client_id=5, called_on="2025-06-01", result="callback"),
        ],
    )
    assert recently_called(engine, date(2025, 6, 2), 28) == {1, 5}
    assert recently_called(engine, date(2025, 6, 2), 0) == set()


def test_outcomes_for_a_client_oldest_first(store_url: str) -> None:
    engine = connect(store_url)
    add_outcomes(engine, [_row("x2", called_on="2025-06-10", note="перезвонить"),
                          _row("x1", called_on="2025-06-01"), _row("y", client_id=9)])  # fmt: skip
    got = outcomes_for(engine, 1)
    assert [r["outcome_id"] for r in got] == ["x1", "x2"]
    assert got[1]["note"] == "перезвонить" and got[0]["received_at"].tzinfo is not None
    assert outcomes_for(engine, 12345) == []


def test_a_reused_id_with_other_content_is_refused_and_nothing_of_its_batch_stored(
    store_url: str,
) -> None:
    """Issue 18 item 5: a conflicting reuse used to be dropped with 'already recorded'."""
    engine = connect(store_url)
    assert add_outcomes(engine, [_row("call-1", result="callback", note="позже")]) == (1, 0)
    changed = _row("call-1", result="retained", note="позже")
    with pytest.raises(Conflict, match=r"outcomes\[1\]\.outcome_id: 'call-1' .*result"):
        add_outcomes(engine, [_row("new-1"), changed])
    assert count_outcomes(engine) == 1  # new-1 was not stored either
    assert outcomes_for(engine, 1)[0]["result"] == "callback"  # the recorded call stands
    # the same content again is a retry: acknowledged, nothing new
    assert add_outcomes(engine, [_row("call-1", result="callback", note="позже")]) == (0, 1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"client_id": 2}, "client_id"),
        ({"called_on": "2025-06-04"}, "called_on"),
        ({"reached": False}, "reached"),
        ({"note": "x"}, "note"),
    ],
)
def test_two_different_rows_under_one_id_in_a_batch_are_refused(
    store_url: str, change: dict, field: str
) -> None:
    """Issue 18 item 5: one of the two used to be lost silently; now the batch is 400
    naming both positions and the differing field, and nothing is stored."""
    engine = connect(store_url)
    rows = [_row("x"), _row("y"), {**_row("x"), **change}]
    with pytest.raises(
        InputError, match=rf"outcomes\[2\]\.outcome_id: 'x' is also outcomes\[0\] .*{field}"
    ):
        add_outcomes(engine, rows)
    assert count_outcomes(engine) == 0


def test_concurrent_conflicting_posters_keep_exactly_one_call(store_url: str) -> None:
    """Posters racing with one id but different content: one is acknowledged, the others
    get Conflict, and what is stored is the acknowledged row."""
    engine = connect(store_url)

    def post(w: int) -> int | None:
        try:
            add_outcomes(engine, [_row("race", client_id=w)])
        except Conflict:
            return None
        return w

    with ThreadPoolExecutor(max_workers=8) as pool:
        won = [w for w in pool.map(post, range(8)) if w is not None]
    assert len(won) == 1
    assert read_outcomes(engine)["client_id"].tolist() == won


def test_called_on_outside_the_sane_range_is_refused(store_url: str) -> None:
    """Issue 18 item 9: 9999-12-31 and 0001-01-01 were stored."""
    engine = connect(store_url)
    sane = (date(2024, 1, 1), date(2026, 12, 7))
    for day in ("9999-12-31", "0001-01-01", "2023-12-31", "2026-12-08"):
        with pytest.raises(InputError, match=rf"outcomes\[0\]\.called_on: {day} is outside"):
            add_outcomes(engine, [_row("r", called_on=day)], called_on_range=sane)
    assert count_outcomes(engine) == 0
    edges = [_row("lo", called_on="2024-01-01"), _row("hi", called_on="2026-12-07")]
    assert add_outcomes(engine, edges, called_on_range=sane) == (2, 0)
