"""Time split: consecutive blocks, gaps of one horizon, clear error with too few months."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.errors import InputError
from training.split import time_split


def _monthly(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n, freq="MS", tz="UTC")


@pytest.mark.parametrize("horizon", [30, 60, 90, 120])
def test_blocks_do_not_overlap_label_windows(horizon: int) -> None:
    split = time_split(_monthly(24), valid_months=3, test_months=3, horizon_days=horizon)
    h = pd.Timedelta(days=horizon)
    assert split.train.max() + h < split.valid.min()
    assert split.valid.max() + h < split.test.min()
    assert len(split.valid) == 3 and len(split.test) == 3
    assert split.test.max() == _monthly(24).max()  # the newest data is the test block
    every = split.train.append(split.valid).append(split.test).append(split.dropped)
    assert sorted(every) == list(_monthly(24))  # each date in exactly one place


def test_gap_is_dropped_and_minimal() -> None:
    split = time_split(_monthly(24), valid_months=3, test_months=3, horizon_days=90)
    # 90 days before a month start reaches 3 monthly dates back at most
    assert 2 <= len(split.dropped) <= 6
    gap_before_test = split.dropped[split.dropped > split.valid.max()]
    assert all(d + pd.Timedelta(days=90) >= split.test.min() for d in gap_before_test)


def test_block_of_labels_rows() -> None:
    dates = _monthly(16)
    split = time_split(dates, valid_months=2, test_months=2, horizon_days=60)
    rows = pd.Series(dates.repeat(3))
    blocks = split.block_of(rows)
    assert set(blocks) == {"train", "valid", "test", ""}
    assert (blocks == "test").sum() == 6


def test_too_few_dates_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="too few labelled as_of months"):
        time_split(_monthly(8), valid_months=3, test_months=3, horizon_days=90, min_train_months=2)


def test_exact_minimum_works() -> None:
    # 2 train + 3 gap + 3 valid + 3 gap + 3 test (90-day horizon, monthly snapshots)
    n = 2 + 3 + 3 + 3 + 3
    split = time_split(
        _monthly(n), valid_months=3, test_months=3, horizon_days=90, min_train_months=2
    )
    assert len(split.train) >= 2
