"""Time arithmetic for the generator: everything is int64 microseconds since the epoch (UTC).

Months are indexed relative to the first month of the simulated window (month 0); negative
indices are the exported history before the window. Integer microseconds keep the hot
loops in plain NumPy and map one-to-one onto Parquet ``timestamp[us, UTC]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

US_PER_SECOND = 1_000_000
US_PER_HOUR = 3_600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR
NEVER = np.iinfo(np.int64).max  # "has not happened": compares later than any real time
LONG_AGO = np.iinfo(np.int64).min // 2  # "happened before anything we care about"


@dataclass(frozen=True)
class Calendar:
    """The simulated window: ``months`` whole months from the month of ``start``."""

    start: date
    months: int
    history_months: int

    @property
    def base(self) -> np.datetime64:
        return np.datetime64(f"{self.start.year:04d}-{self.start.month:02d}", "M")

    def month_start(self, k: int | np.ndarray) -> np.ndarray:
        """First instant of month ``k`` (relative index), in microseconds."""
        return (self.base + np.asarray(k, dtype=np.int64)).astype("datetime64[us]").astype(np.int64)

    def month_of(self, us: np.ndarray) -> np.ndarray:
        """Relative month index containing each timestamp."""
        months = np.asarray(us).astype("datetime64[us]").astype("datetime64[M]")
        return (months - self.base).astype(np.int64)

    def calendar_month(self, k: int) -> int:
        """1..12: the calendar month of relative month ``k`` (for seasonality)."""
        return int((self.base + k).astype(object).month)

    @property
    def window_start(self) -> int:
        return int(self.month_start(0))

    @property
    def window_end(self) -> int:
        """First instant after the window: no event may be at or after it."""
        return int(self.month_start(self.months))

    @property
    def first_month(self) -> int:
        return -self.history_months
