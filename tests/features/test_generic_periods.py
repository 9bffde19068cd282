"""Active periods and their churn events at the boundaries (features/generic/periods.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import pandas as pd
import pytest

from features.generic.periods import ENDED, RETURNED, active_periods, period_churn_events


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def subs(rows: list[tuple[int, str, str | None]]) -> ibis.Table:
    frame = pd.DataFrame(rows, columns=["client_id", "start_ts", "end_ts"])
    frame["start_ts"] = pd.to_datetime(frame["start_ts"], utc=True)
    frame["end_ts"] = pd.to_datetime(frame["end_ts"], utc=True)
    return ibis.memtable(frame)


def periods(rows, gap_days=7) -> pd.DataFrame:
    out = ibis.duckdb.connect().execute(active_periods(subs(rows), gap_days))
    return out.sort_values(["client_id", "period_no"]).reset_index(drop=True)


def test_a_gap_of_exactly_gap_days_continues_the_period():
    p = periods([(1, "2024-01-01", "2024-02-01"), (1, "2024-02-08", "2024-03-01")])
    assert len(p) == 1
    assert p.loc[0, "start_ts"] == ts("2024-01-01") and p.loc[0, "end_ts"] == ts("2024-03-01")


def test_one_day_more_than_gap_days_starts_a_new_period():
    p = periods([(1, "2024-01-01", "2024-02-01"), (1, "2024-02-09", "2024-03-01")])
    assert list(p["period_no"]) == [1, 2]
    assert list(p["end_ts"]) == [ts("2024-02-01"), ts("2024-03-01")]


def test_overlaps_and_nested_subscriptions_merge_and_open_end_stays_open():
    p = periods(
        [
            (1, "2024-01-01", "2024-06-01"),
            (1, "2024-02-01", "2024-03-01"),  # inside the first
            (1, "2024-05-20", None),  # overlapping, open-ended
            (2, "2024-01-01", "2024-01-15"),
        ]
    )
    one = p[p.client_id == 1]
    assert len(one) == 1 and pd.isna(one["end_ts"].iloc[0])
    assert p[p.client_id == 2]["end_ts"].iloc[0] == ts("2024-01-15")


def test_gap_days_zero_splits_on_any_lapse():
    rows = [(1, "2024-01-01", "2024-02-01"), (1, "2024-02-01", "2024-03-01")]
    assert len(periods(rows, 0)) == 1  # back to back: no lapse
    rows = [(1, "2024-01-01", "2024-02-01"), (1, "2024-02-02", "2024-03-01")]
    assert len(periods(rows, 0)) == 2


def test_churn_events_only_for_confirmed_ends_and_returns_carry_resumed_ts():
    rows = [
        (1, "2024-01-01", "2024-03-01"),
        (1, "2024-06-01", "2024-09-01"),  # came back, then left again
        (2, "2024-01-01", "2024-11-26"),  # ends 7 days before data_end: not confirmed
        (3, "2024-01-01", "2024-11-24"),  # ends 9 days before: confirmed
        (4, "2024-01-01", None),
    ]
    end = datetime(2024, 12, 3, tzinfo=UTC)
    con = ibis.duckdb.connect()
    ev = con.execute(period_churn_events(active_periods(subs(rows), 7), 7, end))
    ev = ev.sort_values(["client_id", "ts"]).reset_index(drop=True)
    assert list(ev["client_id"]) == [1, 1, 3]
    assert list(ev["churn_type"]) == [RETURNED, ENDED, ENDED]
    assert ev.loc[0, "resumed_ts"] == ts("2024-06-01")
    assert pd.isna(ev.loc[1, "resumed_ts"])


def test_negative_gap_is_refused():
    with pytest.raises(ValueError, match="gap_days"):
        active_periods(subs([(1, "2024-01-01", None)]), -1)
