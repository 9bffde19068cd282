"""The end of a suspension (``churn_events.resumed_ts``): the contract, validation, and who
is active at as_of, at the day boundaries (strictly-before semantics)."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pit import perturb_after
from tiny_base import AS_OF, ROWS, write_tiny_base
from tiny_raw import tiny_tables, write_tables

from churn.config import load_config
from features.schema import validate_dir
from features.snapshot import build_snapshots

D1, D2 = date(2025, 5, 20), date(2025, 6, 10)  # client 3 suspended on D1, resumed on D2


def _resumed_base(raw: Path, resumed: str | None = "2025-06-10") -> Path:
    """The tiny base with client 3's churn a suspension (from D1), resumed on ``resumed``."""
    rows = copy.deepcopy(ROWS)
    churn = next(r for r in rows["churn_events"] if r["client_id"] == 3)
    churn.update(churn_type="suspension", resumed_ts=resumed)
    return write_tiny_base(raw, rows)


def _active(raw: Path, dates: list[date]) -> dict[date, set[int]]:
    snap = build_snapshots(raw, dates, load_config())
    return {
        d: set(snap.loc[snap["as_of"] == pd.Timestamp(d, tz="UTC"), "client_id"].tolist())
        for d in dates
    }


def test_suspended_then_resumed_client_is_inactive_in_between(tmp_path: Path) -> None:
    raw = _resumed_base(tmp_path / "raw")
    days = [D1, date(2025, 5, 21), AS_OF, date(2025, 6, 9), D2, date(2025, 6, 11)]
    days += [date(2025, 7, 1)]
    got = _active(raw, days)
    assert {d: 3 in ids for d, ids in got.items()} == {
        D1: True,  # suspended on the as_of day: not seen yet
        date(2025, 5, 21): False,
        AS_OF: False,
        date(2025, 6, 9): False,
        D2: False,  # resumed on the as_of day: not seen yet, still suspended
        date(2025, 6, 11): True,  # resumed strictly before as_of: active again
        date(2025, 7, 1): True,
    }


def test_without_resumption_the_client_stays_out(tmp_path: Path) -> None:
    raw = _resumed_base(tmp_path / "raw", resumed=None)
    assert not any(3 in ids for ids in _active(raw, [date(2025, 6, 11), date(2025, 7, 1)]).values())


def test_resumed_client_snapshot_equals_a_never_suspended_one_after_the_end(
    tmp_path: Path,
) -> None:
    """Back from the suspension, the client's signals are computed like anyone's: the
    snapshot row is the one of a base where the suspension never happened."""
    resumed = _resumed_base(tmp_path / "a")
    rows = copy.deepcopy(ROWS)
    rows["churn_events"] = [r for r in rows["churn_events"] if r["client_id"] != 3]
    never = write_tiny_base(tmp_path / "b", rows)
    cfg, later = load_config(), [date(2025, 7, 1)]
    a, b = build_snapshots(resumed, later, cfg), build_snapshots(never, later, cfg)
    pd.testing.assert_frame_equal(a, b)


def test_an_export_without_the_column_reads_as_never_resumed(tmp_path: Path) -> None:
    """The optional column: absent and all-missing give the same snapshots."""
    with_column = write_tiny_base(tmp_path / "a")
    without = write_tiny_base(tmp_path / "b")
    churn = pd.read_parquet(without / "churn_events.parquet").drop(columns="resumed_ts")
    churn.to_parquet(without / "churn_events.parquet", index=False)
    dates = [date(2025, 5, 1), AS_OF, date(2025, 7, 1)]
    cfg = load_config()
    pd.testing.assert_frame_equal(
        build_snapshots(with_column, dates, cfg), build_snapshots(without, dates, cfg)
    )


def test_resumption_after_as_of_does_not_leak(tmp_path: Path) -> None:
    """Point in time: suspensions known on as_of, resumed on or after it (a third exactly at
    midnight), leave the snapshot as of that date unchanged; a resumption before as_of is
    not touched by the perturbation and does count."""
    raw = _resumed_base(tmp_path / "raw", resumed="2025-05-25")  # resumed before AS_OF
    dates = [date(2025, 5, 1), AS_OF]
    cfg = load_config()
    before = build_snapshots(raw, dates, cfg)
    assert 3 in set(before.loc[before["as_of"] == pd.Timestamp(AS_OF, tz="UTC"), "client_id"])
    for seed in range(3):
        perturbed = perturb_after(raw, tmp_path / f"p{seed}", AS_OF, seed=seed)
        pd.testing.assert_frame_equal(before, build_snapshots(perturbed, dates, cfg))


def test_generated_base_resumptions_do_not_leak(small_raw: Path, tmp_path: Path) -> None:
    """The same on the generated base: every suspension in effect on as_of is resumed
    on or after it in the perturbed copy, and the snapshot as of that date is unchanged."""
    as_of = date(2025, 6, 1)
    cfg = load_config()
    churn = pd.read_parquet(small_raw / "churn_events.parquet")
    t0 = pd.Timestamp(as_of, tz="UTC")
    assert ((churn["ts"] < t0) & churn["churn_type"].str.contains("suspension")).sum() > 0
    perturbed = perturb_after(small_raw, tmp_path / "p", as_of, seed=5)
    edited = pd.read_parquet(perturbed / "churn_events.parquet")
    assert (edited["resumed_ts"] >= t0).sum() > 0
    pd.testing.assert_frame_equal(
        build_snapshots(small_raw, [as_of], cfg), build_snapshots(perturbed, [as_of], cfg)
    )


# ---------------------------------------------------------------- validation


def _ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def _with_resumed(tmp_path: Path, churn: dict) -> Path:
    tables = tiny_tables()
    frame = pd.DataFrame(churn)
    for col in ("ts", "resumed_ts"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[us, UTC]")
    frame["churn_type"] = frame["churn_type"].astype("str")
    frame["reason_group"] = pd.Series([None] * len(frame), dtype="str")
    tables["churn_events"] = frame
    return write_tables(tables, tmp_path / "raw")


def test_a_valid_resumption_passes(tmp_path: Path) -> None:
    raw = _with_resumed(
        tmp_path,
        {
            "client_id": [2, 3],
            "ts": ["2024-06-30", "2024-05-01"],
            "churn_type": ["debt_suspension", "suspension"],
            "resumed_ts": ["2024-08-01", None],
        },
    )
    assert validate_dir(raw) == []


@pytest.mark.parametrize(
    ("ctype", "ts", "resumed", "check"),
    [
        ("suspension", "2024-06-30", "2024-06-30", "resumed_not_after_churn"),
        ("debt_suspension", "2024-06-30", "2024-06-01", "resumed_not_after_churn"),
        ("termination", "2024-06-30", "2024-08-01", "resumed_not_a_suspension"),
        ("suspension", "2024-06-30", "2099-01-01", "in_future"),
    ],
)
def test_a_bad_resumption_is_named(tmp_path: Path, ctype, ts, resumed, check) -> None:
    raw = _with_resumed(
        tmp_path,
        {"client_id": [2], "ts": [ts], "churn_type": [ctype], "resumed_ts": [resumed]},
    )
    found = {(v.table, v.column, v.check) for v in validate_dir(raw)}
    assert found == {("churn_events", "resumed_ts", check)}


def test_a_resumed_ts_of_the_wrong_type_is_a_dtype_violation(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["churn_events"]["resumed_ts"] = pd.Series(["2024-08-01"], dtype="str")
    raw = write_tables(tables, tmp_path / "raw")
    found = {(v.table, v.column, v.check) for v in validate_dir(raw)}
    assert found == {("churn_events", "resumed_ts", "dtype")}
