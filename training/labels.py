"""Churn labels for point-in-time snapshots.

Time convention, the one the feature layer and the generator already use: a snapshot "as
of" a date is computed from events strictly before it (ts < as_of), so **everything at
ts >= as_of is the future** at scoring time. Hence:

* a client is **gone at t** when its first churn event has ``ts < t``. A churn event
  stamped exactly ``as_of`` (the CRM records days, and the generator's month-m churners
  can leave on day 1) has not happened yet for a score computed from data before
  ``as_of``: the client is active, is in the snapshot (``features.signals.profile.
  active_clients`` keeps ``first_churn >= as_of``) and is a positive;
* the **label window** of a row is the half-open interval ``[as_of, as_of + horizon)``:
  ``label = 1`` when the client's first churn event has ``as_of <= ts < as_of + horizon``.

The two rules partition time without gaps or overlaps: an event at ``as_of + horizon``
is not in this row's window, and it is in the window of a snapshot taken at
``as_of + horizon`` (where the client is still active). The issue text wrote the window
as ``(as_of, as_of + horizon]``; that would contradict the feature layer's "active while
first_churn >= as_of" and drop the day-1 churners, so the closed end is at ``as_of``.
Churn is treated as terminal (the raw contract: "date the client left").

A row is labelled only when its whole window is observed, ``as_of + horizon <= data_end``;
later rows are dropped rather than labelled 0, because "no churn seen yet" is not "no churn".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from churn.errors import InputError

LABEL = "label"


def _utc(values: pd.Series | pd.Timestamp) -> pd.Series | pd.Timestamp:
    """Make timestamps tz-aware UTC (naive input is read as UTC)."""
    if isinstance(values, pd.Timestamp):
        return values.tz_localize("UTC") if values.tzinfo is None else values.tz_convert("UTC")
    values = pd.to_datetime(values)
    return values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")


def _require(frame: pd.DataFrame, columns: tuple[str, ...], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{table}: missing column(s) {', '.join(missing)}")


def label_snapshots(
    snapshots: pd.DataFrame,
    churn_events: pd.DataFrame,
    horizon_days: int,
    data_end: pd.Timestamp,
) -> pd.DataFrame:
    """Return the labelled rows of ``snapshots`` with an int ``label`` column.

    Rows whose window reaches past ``data_end`` and rows of clients already gone at
    ``as_of`` are dropped; the others keep their order and index.
    """
    _require(snapshots, ("client_id", "as_of"), "snapshots")
    _require(churn_events, ("client_id", "ts"), "churn_events")
    if horizon_days <= 0:
        raise InputError(f"training.horizon_days: must be positive, got {horizon_days}")
    horizon = pd.Timedelta(days=horizon_days)
    end = _utc(pd.Timestamp(data_end))
    as_of = _utc(snapshots["as_of"])

    first_churn = (
        churn_events.assign(ts=_utc(churn_events["ts"]))
        .groupby("client_id", sort=False)["ts"]
        .min()
    )
    churn_ts = snapshots["client_id"].map(first_churn)
    churn_ts = _utc(churn_ts) if churn_ts.notna().any() else churn_ts

    observed = (as_of + horizon <= end).to_numpy()
    gone = (churn_ts < as_of).fillna(False).to_numpy(dtype=bool)
    in_window = ((churn_ts >= as_of) & (churn_ts < as_of + horizon)).fillna(False)

    out = snapshots.loc[observed & ~gone].copy()
    out[LABEL] = in_window.to_numpy(dtype=bool)[observed & ~gone].astype(np.int64)
    return out


def read_churn_events(raw_dir: Path) -> pd.DataFrame:
    """The raw ``churn_events`` table (client_id, ts) or a one-line error."""
    path = Path(raw_dir) / "churn_events.parquet"
    if not path.exists():
        raise InputError(
            f"{path}: churn_events table not found; labels need the raw data (--raw DIR)"
        )
    events = pd.read_parquet(path)
    _require(events, ("client_id", "ts"), "churn_events")
    return events[["client_id", "ts"]]


def data_end_of(raw_dir: Path) -> pd.Timestamp:
    """The end of the observed data: the newest ``ts`` over every raw event table.

    A row is only labelled when its whole horizon lies before this point.
    """
    ends = []
    for path in sorted(Path(raw_dir).glob("*.parquet")):
        if "ts" not in pq.read_schema(path).names:  # e.g. clients
            continue
        ts = pd.read_parquet(path, columns=["ts"])["ts"]
        if len(ts):
            ends.append(_utc(ts).max())
    if not ends:
        raise InputError(f"{raw_dir}: no raw event table with a ts column; cannot find data end")
    return max(ends)
