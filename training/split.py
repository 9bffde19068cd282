"""Time-based split of snapshot dates: train < gap < valid < gap < test.

Every row at one ``as_of`` looks ``horizon`` days ahead for its label. If a train row's
label window reached a validation ``as_of``, the model would be fitted on outcomes that
the validation rows are still waiting for (and the same client's churn would be a
"future" label in train and a "past" fact in validation). So the blocks are consecutive
runs of ``as_of`` dates and every ``as_of`` in the gap before a block is dropped until
``max(earlier block) + horizon < min(later block)``. There is no random row split:
the test block is the newest data, the way the model will be used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.errors import InputError


@dataclass(frozen=True)
class Split:
    """The sorted ``as_of`` dates of each block; dates in the gaps belong to none."""

    train: pd.DatetimeIndex
    valid: pd.DatetimeIndex
    test: pd.DatetimeIndex
    dropped: pd.DatetimeIndex

    def block_of(self, as_of: pd.Series) -> np.ndarray:
        """'train' / 'valid' / 'test' / '' per row."""
        values = pd.DatetimeIndex(as_of)
        out = np.full(len(values), "", dtype=object)
        for name in ("train", "valid", "test"):
            out[values.isin(getattr(self, name))] = name
        return out

    def describe(self) -> dict[str, list[str]]:
        return {
            name: [d.date().isoformat() for d in getattr(self, name)]
            for name in ("train", "valid", "test", "dropped")
        }


def _last_months(dates: pd.DatetimeIndex, months: int) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """Split ``dates`` (sorted) into (earlier, those in the newest ``months`` calendar months)."""
    month_key = dates.year * 12 + dates.month
    keys = np.unique(month_key)
    if len(keys) < months:
        return dates[:0], dates
    cut = keys[-months]
    return dates[month_key < cut], dates[month_key >= cut]


def _before_gap(
    dates: pd.DatetimeIndex, next_start: pd.Timestamp, horizon: pd.Timedelta
) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """(kept, dropped): keep dates whose label window ends strictly before ``next_start``."""
    keep = dates + horizon < next_start
    return dates[keep], dates[~keep]


def time_split(
    as_of_dates: pd.Series | pd.DatetimeIndex | np.ndarray,
    *,
    valid_months: int,
    test_months: int,
    horizon_days: int,
    min_train_months: int = 1,
) -> Split:
    """Split the distinct ``as_of`` dates into train / valid / test blocks with gaps.

    ``valid_months`` and ``test_months`` count calendar months of ``as_of`` dates (with
    monthly snapshots, one date each); train gets what is left before the first gap and
    must span at least ``min_train_months`` months.
    """
    dates = pd.DatetimeIndex(pd.unique(pd.DatetimeIndex(as_of_dates))).sort_values()
    horizon = pd.Timedelta(days=horizon_days)
    n_months = len(np.unique(dates.year * 12 + dates.month))
    need = (
        f"need {test_months} test + {valid_months} validation months, a {horizon_days}-day gap "
        f"before each, and {min_train_months} train month(s)"
    )
    rest, test = _last_months(dates, test_months)
    rest, gap1 = _before_gap(rest, test.min(), horizon) if len(test) else (rest, rest[:0])
    rest, valid = _last_months(rest, valid_months)
    train, gap2 = _before_gap(rest, valid.min(), horizon) if len(valid) else (rest, rest[:0])
    train_months = len(np.unique(train.year * 12 + train.month))
    if len(valid) == 0 or train_months < min_train_months or len(test) == 0:
        raise InputError(
            f"snapshots: too few labelled as_of months ({n_months}) for a time split; {need} "
            f"(more history, or smaller training.valid_months / training.test_months)"
        )
    dropped = gap2.append(gap1).sort_values()
    return Split(train=train, valid=valid, test=test, dropped=dropped)
