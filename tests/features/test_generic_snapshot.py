"""Generic-source snapshots and labels: who is scored on as_of, what is counted, and the
label at the boundaries of ``[as_of, as_of + horizon)`` (features/generic/signals.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import ibis
import numpy as np
import pandas as pd
import pytest

from features.generic.periods import active_periods, period_churn_events
from features.generic.signals import as_of_grid, snapshots_expr
from features.generic.spec import ActivitySource, SourceSpec, SubscriptionsSource
from training.labels import label_snapshots

AS_OF = date(2024, 6, 1)
D = pd.Timestamp("2024-06-01", tz="UTC")


def spec(**changes) -> SourceSpec:
    base = SourceSpec(
        subscriptions=SubscriptionsSource(
            file="s", key="k", customer="c", start="s", end="e", amount="a", period="p"
        ),
        activities=(
            ActivitySource(file="a", customer="c", time="t", type="y", value="v", user="u"),
        ),
        windows_days=(7, 30),
        trend_days=(7, 30),
    )
    return base.with_(**changes) if changes else base


def tables(sub_rows, act_rows) -> dict[str, ibis.Table]:
    s = pd.DataFrame(
        sub_rows,
        columns=[
            "subscription_id",
            "client_id",
            "start_ts",
            "end_ts",
            "amount",
            "billing_period_months",
        ],
    )
    for c in ("start_ts", "end_ts"):
        s[c] = pd.to_datetime(s[c], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    a = pd.DataFrame(act_rows, columns=["client_id", "ts", "activity_type", "value", "user_id"])
    a["ts"] = pd.to_datetime(a["ts"], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    a["value"] = a["value"].astype("float64")
    a["user_id"] = a["user_id"].astype("Int64")
    a["activity_type"] = a["activity_type"].astype("str")
    return {"subscriptions": ibis.memtable(s), "activities": ibis.memtable(a)}


def snap(t, sp=None, dates=(AS_OF,)) -> pd.DataFrame:
    expr, _ = snapshots_expr(t, sp or spec(), list(dates))
    return ibis.duckdb.connect().execute(expr).set_index("client_id").sort_index()


SUBS = [
    (1, 1, "2024-01-01", None, 10.0, 1),  # covered, open-ended
    (2, 2, "2024-01-01", "2024-06-01", 20.0, 1),  # ends exactly on as_of: still in
    (3, 3, "2024-01-01", "2024-05-31", 30.0, 1),  # ended the day before: lapsed, not scored
    (4, 4, "2024-06-01", None, 40.0, 1),  # starts on as_of: not known yet
    (5, 5, "2024-05-31 23:59:59", "2024-07-01", 50.0, 12),  # started a second before
]
ACTS = [
    (1, "2024-05-31 23:59:59", "login", None, 11),  # the last second before as_of: counted
    (1, "2024-06-01 00:00:00", "login", None, 12),  # at as_of: the future
    (1, "2024-05-25 00:00:00", "login", None, 11),  # 7 days before: inside the 7-day window
    (1, "2024-05-24 23:59:59", "login", None, 13),  # just outside the 7-day window
    (1, "2024-05-20", "export", 5.5, 11),
    (2, "2024-03-01", "export", 2.0, None),
]


def test_population_is_covered_by_a_subscription_known_before_as_of():
    s = snap(tables(SUBS, ACTS))
    assert list(s.index) == [1, 2, 5]


def test_events_at_as_of_are_the_future_and_windows_are_half_open():
    s = snap(tables(SUBS, ACTS))
    assert s.loc[1, "login_n_7d"] == 2  # 23:59:59 and the 7-days-before instant
    assert s.loc[1, "login_n_30d"] == 3
    assert s.loc[1, "login_days_since_last"] == 1
    assert s.loc[1, "export_value_30d"] == pytest.approx(5.5)
    assert s.loc[5, "login_n_30d"] == 0 and np.isnan(s.loc[5, "login_days_since_last"])
    # the future login (user 12) adds no user: both known users were active in 30 days
    assert s.loc[1, "active_user_share"] == pytest.approx(2 / 2)


def test_renewal_and_amount_come_from_the_covering_subscription():
    s = snap(tables(SUBS, ACTS))
    assert s.loc[2, "days_to_renewal"] == 0  # its end is as_of
    assert s.loc[5, "days_to_renewal"] == 30
    assert s.loc[5, "amount"] == 50 and s.loc[5, "billing_period_months"] == 12


def test_adding_only_future_rows_leaves_the_snapshot_unchanged():
    future_subs = SUBS + [
        (9, 1, "2024-06-01", "2024-09-01", 99.0, 1),
        (10, 6, "2024-06-02", None, 1.0, 1),
    ]
    future_acts = ACTS + [
        (1, "2024-06-01", "export", 100.0, 77),
        (5, "2024-06-03", "login", None, 5),
    ]
    before, after = snap(tables(SUBS, ACTS)), snap(tables(future_subs, future_acts))
    pd.testing.assert_frame_equal(before, after)


def test_labels_positive_for_an_end_in_the_window_and_returners_start_again():
    rows = [
        (1, 1, "2024-01-01", "2024-06-01", 1.0, 1),  # ends on as_of: positive
        (2, 2, "2024-01-01", "2024-08-30", 1.0, 1),  # ends at as_of + 90 days: not this window
        (3, 3, "2024-01-01", "2024-08-29", 1.0, 1),  # ends the day before: positive
        (4, 4, "2024-01-01", "2024-07-01", 1.0, 1),
        (5, 4, "2024-07-05", "2024-12-01", 1.0, 1),  # renewed 4 days late: one period
    ]
    t = tables(rows, [(1, "2024-05-01", "login", None, 1)])
    s = snap(t).reset_index()
    end = datetime(2025, 1, 1, tzinfo=UTC)
    ev = ibis.duckdb.connect().execute(
        period_churn_events(active_periods(t["subscriptions"], 7), 7, end)
    )
    lab = label_snapshots(s, ev, 90, pd.Timestamp(end) - pd.Timedelta(days=7)).set_index(
        "client_id"
    )
    assert lab["label"].to_dict() == {1: 1, 2: 0, 3: 1, 4: 0}


def test_as_of_grid_by_month_and_week():
    assert as_of_grid(date(2024, 1, 15), date(2024, 4, 1), "month") == [
        date(2024, 2, 1),
        date(2024, 3, 1),
        date(2024, 4, 1),
    ]
    weeks = as_of_grid(date(2024, 1, 3), date(2024, 1, 31), "week")
    assert weeks[0] == date(2024, 1, 8) and all(d.weekday() == 0 for d in weeks) and len(weeks) == 4
