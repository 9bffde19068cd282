"""Churn labels for point-in-time snapshots.

Time convention, the one the feature layer and the generator already use: a snapshot "as
of" a date is computed from events strictly before it (ts < as_of), so **everything at
ts >= as_of is the future** at scoring time. Hence:

* a client is **gone at t** when its first churn event has ``ts < t``. A churn event
  stamped exactly ``as_of`` (the CRM records days, and the generator's month-m churners
  can leave on day 1) has not happened yet for a score computed from data before
  ``as_of``: the client is active, is in the snapshot (``features.snapshot.
  active_clients`` keeps ``first_churn >= as_of``) and is a positive;
* the **label window** of a row is the half-open interval ``[as_of, as_of + horizon)``:
  ``label = 1`` when the client's first churn event has ``as_of <= ts < as_of + horizon``.

The two rules partition time without gaps or overlaps: an event at ``as_of + horizon``
is not in this row's window, and it is in the window of a snapshot taken at
``as_of + horizon`` (where the client is still active). The issue text wrote the window
as ``(as_of, as_of + horizon]``; that would contradict the feature layer's "active while
first_churn >= as_of" and drop the day-1 churners, so the closed end is at ``as_of``.
Churn and its end (the raw contract, ``features/contract.py``): a churn event is in effect
from ``ts`` on; a suspension may carry ``resumed_ts``, the day the client was active again.
The client is **gone at as_of** when some churn event is in effect then, with the same
strictly-before rule as the features: ``ts < as_of`` and not ``resumed_ts < as_of``. A
client resumed before as_of is active again, is in the snapshot and gets a label like
anyone else (a later churn event in its window makes it a positive).

**A suspension resumed within the horizon is still a positive.** The client stopped
paying and using the system inside the window, the centre lost those fee months, and the
call that could have prevented it had to come before; whether the client comes back is
known only afterwards, so it is not a reason to call less. (Suspensions the business
does not want to predict at all are switched off with ``training.churn_types``.)

**``training.churn_types``** (default: all three) chooses the positive types. A row whose
window holds a churn of another type and none of the chosen ones is **left out** (neither
0 nor 1): labelling it 0 would teach the model that such a client stayed (the signals of
a debt suspension would read as "safe" when only terminations are predicted), labelling
it 1 contradicts the configuration. The model then estimates the chance of a chosen-type
churn among clients who do not leave another way within the horizon, and the test
figures are computed on the same rows, so they measure exactly that.

A row is labelled only when its whole window is observed, ``as_of + horizon <= data_end``;
later rows are dropped rather than labelled 0, because "no churn seen yet" is not "no churn".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from churn.config import Config
from churn.errors import InputError
from churn.utc import as_utc
from features.contract import CHURN_TYPES

LABEL = "label"
_NEVER = np.iinfo(np.int64).max  # a resumption that has not happened (or no column)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{table}: missing column(s) {', '.join(missing)}")


@dataclass(frozen=True)
class Outcomes:
    """Per snapshot row (aligned to the input): what its label window holds."""

    observed: np.ndarray  # the whole window lies before data_end
    gone: np.ndarray  # a churn event is in effect at as_of: not an active client
    positive: np.ndarray  # a chosen-type churn starts in [as_of, as_of + horizon)
    other_type: np.ndarray  # a churn of a type not chosen starts in the window

    @property
    def keep(self) -> np.ndarray:
        """Rows that get a label: observed, active, and not "left another way only"."""
        return self.observed & ~self.gone & ~(self.other_type & ~self.positive)


def _us(values: pd.Series) -> np.ndarray:
    """UTC instants as int64 microseconds; missing -> ``_NEVER``."""
    t = as_utc(values).dt.tz_localize(None).astype("datetime64[us]")
    out = t.to_numpy().view("int64").copy()
    out[t.isna().to_numpy()] = _NEVER
    return out


def check_churn_types(churn_types: Sequence[str]) -> list[str]:
    """The configured positive churn types, or a message naming the bad one."""
    types = list(churn_types)
    unknown = [t for t in types if t not in CHURN_TYPES]
    if not types or unknown:
        raise InputError(
            f"training.churn_types: {unknown or 'empty'}; choose from {', '.join(CHURN_TYPES)}"
        )
    return types


def label_outcomes(
    snapshots: pd.DataFrame,
    churn_events: pd.DataFrame,
    horizon_days: int,
    data_end: pd.Timestamp,
    *,
    churn_types: Sequence[str] | None = None,
) -> Outcomes:
    """What each row's window holds (see the module text); ``churn_types=None``: all types.

    Events are visited by their rank within the client (first, second ... churn), each pass
    touching only the rows of clients with that many events, so the usual one event per
    client costs one vectorised pass and a client with several suspensions a few more.
    """
    _require(snapshots, ("client_id", "as_of"), "snapshots")
    _require(churn_events, ("client_id", "ts"), "churn_events")
    if horizon_days <= 0:
        raise InputError(f"training.horizon_days: must be positive, got {horizon_days}")
    events = churn_events
    if churn_types is None:
        chosen = np.ones(len(events), dtype=bool)
    else:
        types = check_churn_types(churn_types)
        _require(events, ("churn_type",), "churn_events")
        chosen = events["churn_type"].isin(types).to_numpy(dtype=bool)
    ts = _us(events["ts"])
    resumed = (
        _us(events["resumed_ts"])
        if "resumed_ts" in events.columns
        else np.full(len(events), _NEVER, dtype=np.int64)
    )
    as_of = _us(snapshots["as_of"])
    horizon = int(pd.Timedelta(days=horizon_days) / pd.Timedelta(microseconds=1))
    end = int(_us(pd.Series([pd.Timestamp(data_end)]))[0])
    n = len(snapshots)
    gone, positive, other = (np.zeros(n, dtype=bool) for _ in range(3))
    ids = events["client_id"].to_numpy(dtype=np.int64)
    rank = pd.Series(ids).groupby(ids, sort=False).cumcount().to_numpy()
    clients = snapshots["client_id"].to_numpy(dtype=np.int64)
    for k in range(int(rank.max()) + 1 if len(rank) else 0):
        at_k = np.flatnonzero(rank == k)
        index = pd.Index(ids[at_k])
        hit = index.get_indexer(clients)
        rows = np.flatnonzero(hit >= 0)
        e = at_k[hit[rows]]
        t, a = ts[e], as_of[rows]
        gone[rows] |= (t < a) & (resumed[e] >= a)
        in_window = (t >= a) & (t < a + horizon)
        positive[rows] |= in_window & chosen[e]
        other[rows] |= in_window & ~chosen[e]
    observed = as_of <= end - horizon
    return Outcomes(observed=observed, gone=gone, positive=positive, other_type=other)


def label_snapshots(
    snapshots: pd.DataFrame,
    churn_events: pd.DataFrame,
    horizon_days: int,
    data_end: pd.Timestamp,
    *,
    churn_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the labelled rows of ``snapshots`` with an int ``label`` column.

    Rows whose window reaches past ``data_end``, rows of clients gone at ``as_of`` and rows
    whose window holds only churn types not in ``churn_types`` (default: every type) are
    dropped; the others keep their order and index. ``attrs["labels"]`` counts each case.
    """
    o = label_outcomes(snapshots, churn_events, horizon_days, data_end, churn_types=churn_types)
    keep = o.keep
    out = snapshots.loc[keep].copy()
    out[LABEL] = o.positive[keep].astype(np.int64)
    out.attrs["labels"] = {
        "churn_types": list(CHURN_TYPES if churn_types is None else churn_types),
        "rows": int(keep.sum()),
        "positives": int(o.positive[keep].sum()),
        "dropped_unobserved": int((~o.observed).sum()),
        "dropped_gone": int((o.observed & o.gone).sum()),
        "dropped_other_types_only": int((o.observed & ~o.gone & o.other_type & ~o.positive).sum()),
    }
    return out


def read_churn_events(raw_dir: Path) -> pd.DataFrame:
    """The raw ``churn_events`` table (client_id, ts, churn_type, resumed_ts) or a one-line
    error; ``resumed_ts`` is all missing for an export without that optional column."""
    path = Path(raw_dir) / "churn_events.parquet"
    if not path.exists():
        raise InputError(
            f"{path}: churn_events table not found; labels need the raw data (--raw DIR)"
        )
    events = pd.read_parquet(path)
    _require(events, ("client_id", "ts", "churn_type"), "churn_events")
    if "resumed_ts" not in events.columns:
        events["resumed_ts"] = pd.Series(pd.NaT, index=events.index, dtype="datetime64[us, UTC]")
    return events[["client_id", "ts", "churn_type", "resumed_ts"]]


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
            ends.append(as_utc(ts).max())
    if not ends:
        raise InputError(f"{raw_dir}: no raw event table with a ts column; cannot find data end")
    return max(ends)


def churn_events_of(cfg: Config, raw_dir: Path) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Churn events (client_id, ts, churn_type, resumed_ts) of the config's source and
    the end of the data labels may use.

    The centre's: the raw ``churn_events`` table and its newest event. A subscription +
    activity source's (``features.source``): the ends of its active periods, with an end
    ``gap_days`` before the newest data (a later period end may still be followed by a late
    renewal), :func:`features.generic.build.churn_events`."""
    from features.source import source_spec

    spec = source_spec(cfg)
    if spec is None:
        return read_churn_events(raw_dir), data_end_of(raw_dir)
    if spec.churn.horizon_days != cfg.training.horizon_days:
        raise InputError(
            f"{cfg.features.source}: churn.horizon_days {spec.churn.horizon_days} differs from "
            f"the config's training.horizon_days {cfg.training.horizon_days}; the labels need "
            "one horizon: set both alike"
        )
    from features.generic.build import churn_events

    return churn_events(spec, Path(raw_dir))
