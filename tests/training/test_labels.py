"""Labels: the window is [as_of, as_of + horizon); unobserved windows are dropped."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.errors import InputError
from training.labels import label_snapshots

AS_OF = pd.Timestamp("2024-03-01", tz="UTC")
END = pd.Timestamp("2025-01-01", tz="UTC")


def _snap(*client_ids: int, as_of: pd.Timestamp = AS_OF) -> pd.DataFrame:
    return pd.DataFrame({"client_id": list(client_ids), "as_of": [as_of] * len(client_ids)})


def _events(**ts_by_client: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {"client_id": [int(k[1:]) for k in ts_by_client], "ts": list(ts_by_client.values())}
    )


def test_window_boundaries() -> None:
    h = pd.Timedelta(days=90)
    events = _events(
        c1=AS_OF,  # on as_of: not yet happened for data before as_of -> positive
        c2=AS_OF + h - pd.Timedelta(days=1),  # last day of the window: positive
        c3=AS_OF + h,  # the next window's first instant: negative here
        c4=AS_OF + h - pd.Timedelta(seconds=1),  # a second before the end: positive
        c5=AS_OF + h + pd.Timedelta(days=1),  # later: negative
    )
    out = label_snapshots(_snap(1, 2, 3, 4, 5, 6), events, 90, END)
    got = dict(zip(out["client_id"], out["label"], strict=True))
    assert got == {1: 1, 2: 1, 3: 0, 4: 1, 5: 0, 6: 0}
    assert out["label"].dtype == "int64"


def test_windows_of_consecutive_snapshots_partition_time() -> None:
    # an event at as_of + horizon is negative for as_of and positive for the snapshot there
    later = AS_OF + pd.Timedelta(days=90)
    snaps = pd.concat([_snap(1), _snap(1, as_of=later)])
    out = label_snapshots(snaps, _events(c1=later), 90, END)
    assert out["label"].tolist() == [0, 1]


def test_event_before_as_of_means_gone_and_is_dropped() -> None:
    events = _events(c1=AS_OF - pd.Timedelta(seconds=1), c2=AS_OF - pd.Timedelta(days=10))
    out = label_snapshots(_snap(1, 2, 3), events, 90, END)
    assert out["client_id"].tolist() == [3]


def test_only_first_churn_counts() -> None:
    # churned before as_of and "again" inside the window: the client is gone, not positive
    events = _events(c1=AS_OF - pd.Timedelta(days=1))
    events = pd.concat([events, _events(c1=AS_OF + pd.Timedelta(days=5))])
    assert label_snapshots(_snap(1, 2), events, 90, END)["client_id"].tolist() == [2]


def test_window_past_data_end_is_dropped_not_labelled() -> None:
    end = AS_OF + pd.Timedelta(days=90)
    snaps = pd.concat([_snap(1), _snap(1, as_of=AS_OF + pd.Timedelta(days=1))])
    out = label_snapshots(snaps, _events(c9=AS_OF), 90, end)
    assert out["as_of"].tolist() == [AS_OF]  # as_of + horizon == data_end is still observed


def test_naive_timestamps_are_read_as_utc() -> None:
    snaps = _snap(1).assign(as_of=pd.Timestamp("2024-03-01"))
    out = label_snapshots(
        snaps, _events(c1=pd.Timestamp("2024-03-10")), 90, pd.Timestamp("2025-01-01")
    )
    assert out["label"].tolist() == [1]


def test_missing_columns_are_named() -> None:
    with pytest.raises(InputError, match="churn_events: missing column.*ts"):
        label_snapshots(_snap(1), pd.DataFrame({"client_id": [1]}), 90, END)
