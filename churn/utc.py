"""Every instant in UTC: one rule for naive and aware times, written once.

Exports, snapshots and the store hold UTC instants, but a value may arrive naive (a CSV, a
``date``, an old Parquet file) or in another zone. The rule everywhere: a naive time is
UTC wall time, an aware one is converted. :func:`as_utc` applies it to a ``datetime``, a
``pd.Timestamp``, a ``pd.Series`` or a ``pd.DatetimeIndex`` and returns the same kind;
:func:`utc_day` gives the UTC midnight of a day (what an ``as_of`` is).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TypeVar, overload

import pandas as pd

T = TypeVar("T", pd.Series, pd.DatetimeIndex)


@overload
def as_utc(value: pd.Timestamp) -> pd.Timestamp: ...
@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: T) -> T: ...


def as_utc(value):  # type: ignore[no-untyped-def]
    """``value`` as tz-aware UTC: naive read as UTC, aware converted (module docstring)."""
    if isinstance(value, pd.Series):
        value = value if hasattr(value, "dt") and _is_datetime(value) else pd.to_datetime(value)
        return value.dt.tz_localize("UTC") if value.dt.tz is None else value.dt.tz_convert("UTC")
    if isinstance(value, pd.DatetimeIndex):
        return value.tz_localize("UTC") if value.tz is None else value.tz_convert("UTC")
    if isinstance(value, pd.Timestamp):
        return value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise TypeError(f"as_utc: not a time: {type(value).__name__}")


def _is_datetime(values: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(values.dtype)


def utc_day(value: date | str | pd.Timestamp) -> pd.Timestamp:
    """The UTC midnight of ``value`` (a date, ``YYYY-MM-DD`` text or a timestamp)."""
    return as_utc(pd.Timestamp(value)).normalize()
