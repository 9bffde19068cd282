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


# ---------------------------------------------------------------- churn types and resumption

DAY = pd.Timedelta(days=1)


def _typed(*rows: tuple[int, pd.Timestamp, str, pd.Timestamp | None]) -> pd.DataFrame:
    """churn_events rows (client_id, ts, churn_type, resumed_ts or None)."""
    return pd.DataFrame(
        {
            "client_id": [r[0] for r in rows],
            "ts": [r[1] for r in rows],
            "churn_type": pd.Series([r[2] for r in rows], dtype="str"),
            "resumed_ts": pd.Series(
                [pd.NaT if r[3] is None else r[3] for r in rows], dtype="datetime64[us, UTC]"
            ),
        }
    )


def test_a_resumed_client_is_gone_only_while_suspended() -> None:
    """Suspended on D1, resumed on D2: out for as_of in (D1, D2], back for as_of > D2."""
    d1, d2 = AS_OF, AS_OF + 20 * DAY
    events = _typed((1, d1, "suspension", d2))
    dates = [d1, d1 + DAY, d2 - DAY, d2, d2 + DAY, d2 + 40 * DAY]
    snaps = pd.concat([_snap(1, as_of=d) for d in dates], ignore_index=True)
    out = label_snapshots(snaps, events, 90, END)
    assert out["as_of"].tolist() == [d1, d2 + DAY, d2 + 40 * DAY]
    # on D1 the suspension has not happened yet (strictly before): a positive
    assert out["label"].tolist() == [1, 0, 0]


def test_a_suspension_resumed_within_the_horizon_is_still_a_positive() -> None:
    events = _typed((1, AS_OF + 10 * DAY, "suspension", AS_OF + 30 * DAY))
    assert label_snapshots(_snap(1), events, 90, END)["label"].tolist() == [1]


def test_churn_after_a_resumption_is_a_positive_again() -> None:
    back = AS_OF - 30 * DAY  # suspended, resumed a month before as_of, terminates later
    events = _typed(
        (1, AS_OF - 60 * DAY, "debt_suspension", back),
        (1, AS_OF + 40 * DAY, "termination", None),
        (2, AS_OF - 60 * DAY, "debt_suspension", None),  # still suspended: gone
        (2, AS_OF + 40 * DAY, "termination", None),
    )
    out = label_snapshots(_snap(1, 2, 3), events, 90, END)
    assert dict(zip(out["client_id"], out["label"], strict=True)) == {1: 1, 3: 0}
    assert out.attrs["labels"]["dropped_gone"] == 1


@pytest.mark.parametrize(
    ("churn_types", "expected"),
    [
        (None, {1: 1, 2: 1, 3: 1, 4: 0, 5: 1}),
        (["termination", "suspension", "debt_suspension"], {1: 1, 2: 1, 3: 1, 4: 0, 5: 1}),
        (["termination"], {1: 1, 4: 0, 5: 1}),  # 2, 3 left the other way: left out
        (["suspension", "debt_suspension"], {2: 1, 3: 1, 4: 0, 5: 1}),
        (["debt_suspension"], {3: 1, 4: 0}),
    ],
)
def test_churn_types_choose_the_positives_and_leave_out_the_others(churn_types, expected) -> None:
    events = _typed(
        (1, AS_OF + 5 * DAY, "termination", None),
        (2, AS_OF + 5 * DAY, "suspension", None),
        (3, AS_OF + 5 * DAY, "debt_suspension", AS_OF + 30 * DAY),
        (4, AS_OF + 200 * DAY, "termination", None),  # outside the window: a negative
        # suspended and resumed in the window, then terminated in it: positive for both
        (5, AS_OF + 2 * DAY, "suspension", AS_OF + 9 * DAY),
        (5, AS_OF + 60 * DAY, "termination", None),
    )
    out = label_snapshots(_snap(1, 2, 3, 4, 5), events, 90, END, churn_types=churn_types)
    assert dict(zip(out["client_id"], out["label"], strict=True)) == expected
    counts = out.attrs["labels"]
    assert counts["dropped_other_types_only"] == 5 - len(expected)
    assert counts["positives"] == sum(expected.values())


def test_unknown_or_empty_churn_types_are_named() -> None:
    events = _typed((1, AS_OF, "termination", None))
    for bad in (["migration"], []):
        with pytest.raises(InputError, match="training.churn_types"):
            label_snapshots(_snap(1), events, 90, END, churn_types=bad)
    with pytest.raises(InputError, match="churn_events: missing column.*churn_type"):
        label_snapshots(_snap(1), _events(c1=AS_OF), 90, END, churn_types=["termination"])


def test_config_churn_types_are_the_contract_types() -> None:
    from typing import get_args

    from churn.config import ChurnType, TrainingConfig
    from features.contract import CHURN_TYPES

    assert get_args(ChurnType) == CHURN_TYPES
    assert TrainingConfig().churn_types == list(CHURN_TYPES)
    with pytest.raises(ValueError, match="churn_types"):
        TrainingConfig(churn_types=["termination", "termination"])
    with pytest.raises(ValueError):
        TrainingConfig(churn_types=["migration"])


def test_read_churn_events_fills_a_missing_resumed_column(tmp_path) -> None:
    from training.labels import read_churn_events

    _typed((1, AS_OF, "suspension", None)).drop(columns="resumed_ts").to_parquet(
        tmp_path / "churn_events.parquet"
    )
    events = read_churn_events(tmp_path)
    assert list(events.columns) == ["client_id", "ts", "churn_type", "resumed_ts"]
    assert events["resumed_ts"].isna().all()


def test_churn_types_on_the_generated_base(small_raw, small_snapshots, session_config) -> None:
    """Only terminations: the positives are exactly the rows with a termination in their
    window, rows with only a suspension in it are left out, the rest are negatives."""
    from training.labels import data_end_of, read_churn_events
    from training.pipeline import labelled

    snaps = pd.read_parquet(small_snapshots)
    cfg = session_config.override(training__churn_types=["termination"])
    only = labelled(cfg, snaps, small_raw)
    every = label_snapshots(snaps, read_churn_events(small_raw), 90, data_end_of(small_raw))
    events = read_churn_events(small_raw)
    kind = every.merge(events, on="client_id", how="left")
    in_window = (kind["ts"] >= kind["as_of"]) & (kind["ts"] < kind["as_of"] + pd.Timedelta(days=90))
    terminated = set(
        map(
            tuple,
            kind.loc[
                in_window & (kind["churn_type"] == "termination"), ["client_id", "as_of"]
            ].to_numpy(),
        )
    )
    got = set(map(tuple, only.loc[only["label"] == 1, ["client_id", "as_of"]].to_numpy()))
    assert got == terminated and len(got) > 0
    left_out = len(every) - len(only)
    assert left_out == int(every["label"].sum()) - len(terminated) > 0
    assert only.attrs["labels"]["dropped_other_types_only"] == left_out
