"""Perturb a raw base only on or after as_of: the point-in-time property's test input.

Everything here happens at or after ``as_of`` (00:00 UTC on that date, or later): copies
of events moved there (a share exactly at midnight), existing future events shifted and
relabelled, invoices paid on/after as_of instead of never, suspensions known on as_of
resumed on/after it (``resumed_ts``, added when the base lacks it), new clients and users,
churn events on as_of. A snapshot as of ``as_of`` must not change.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import RESUMABLE_CHURN_TYPES, TABLES

RELABEL = {
    "service_requests": "channel",
    "newsletter_events": "event",
    "competitor_checks": "competitor_present",
    "contacts": "kind",
    "users": "role",
    "churn_events": "churn_type",
}
NEW_IDS = {"users": "user_id", "invoices": "invoice_id"}


def _offsets(rng: np.random.Generator, n: int) -> pd.TimedeltaIndex:
    """Offsets >= 0 from as_of; about a third exactly 0 (midnight on as_of)."""
    seconds = rng.integers(0, 200 * 86_400, size=n)
    seconds[rng.random(n) < 0.35] = 0
    return pd.to_timedelta(seconds, unit="s")


def _perturb_events(
    name: str, df: pd.DataFrame, t0: pd.Timestamp, rng: np.random.Generator
) -> pd.DataFrame:
    df = df.copy()
    later = (df["ts"] >= t0).to_numpy()
    if later.any():  # change what already lies in the future: later still, other labels
        df.loc[later, "ts"] = df.loc[later, "ts"] + pd.to_timedelta(
            rng.integers(0, 5 * 86_400, later.sum()), unit="s"
        )
        if name in RELABEL:
            col = RELABEL[name]
            df.loc[later, col] = rng.permutation(df.loc[later, col].to_numpy())
    extra = df.sample(frac=0.4, random_state=int(rng.integers(1 << 30)), replace=True).copy()
    shift = t0 + _offsets(rng, len(extra)) - extra["ts"]
    for col in TABLES[name].time_columns:
        if col in extra.columns:  # an optional column may be absent
            extra[col] = extra[col] + shift
    if name == "invoices":
        extra["period_start"] = extra["period_start"] + shift
        extra["period_end"] = extra["period_end"] + shift
    if name in RELABEL:
        extra[RELABEL[name]] = rng.permutation(extra[RELABEL[name]].to_numpy())
    if name in NEW_IDS:
        col = NEW_IDS[name]
        extra[col] = df[col].max() + 1 + np.arange(len(extra))
    return pd.concat([df, extra], ignore_index=True)


def _pay_later(inv: pd.DataFrame, t0: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    """Invoices unpaid on as_of get paid on or after it (a third exactly at midnight)."""
    inv = inv.copy()
    unpaid = ((inv["ts"] < t0) & (inv["paid_ts"].isna() | (inv["paid_ts"] >= t0))).to_numpy()
    inv.loc[unpaid, "paid_ts"] = t0 + _offsets(rng, int(unpaid.sum()))
    return inv


def _resume_later(churn: pd.DataFrame, t0: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    """Suspensions in effect on as_of end on or after it (a third exactly at midnight).

    The client is still suspended on as_of (the resumption is not known yet), so it must
    stay out of the snapshot. Adds ``resumed_ts`` when the base has none.
    """
    churn = churn.copy()
    if "resumed_ts" not in churn.columns:
        churn["resumed_ts"] = pd.Series(pd.NaT, index=churn.index, dtype="datetime64[us, UTC]")
    open_ = churn["resumed_ts"].isna() | (churn["resumed_ts"] >= t0)
    mask = ((churn["ts"] < t0) & open_ & churn["churn_type"].isin(RESUMABLE_CHURN_TYPES)).to_numpy()
    churn.loc[mask, "resumed_ts"] = t0 + _offsets(rng, int(mask.sum()))
    return churn


def _new_clients(clients: pd.DataFrame, t0: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    extra = clients.sample(n=min(len(clients), 3), random_state=1).copy()
    extra["client_id"] = clients["client_id"].max() + 1 + np.arange(len(extra))
    extra["contract_start"] = t0 + _offsets(rng, len(extra))
    return pd.concat([clients, extra], ignore_index=True)


def _churn_on_as_of(churn: pd.DataFrame, clients: pd.DataFrame, t0: pd.Timestamp) -> pd.DataFrame:
    ids = clients["client_id"].iloc[::3].to_numpy()
    template = churn.iloc[[0] * len(ids)].copy() if len(churn) else None
    if template is None:
        return churn
    template["client_id"] = ids
    template["ts"] = t0
    return pd.concat([churn, template], ignore_index=True)


def perturb_after(raw_in: Path, raw_out: Path, as_of: date, seed: int = 0) -> Path:
    """Copy ``raw_in`` to ``raw_out`` with every change placed on or after ``as_of``."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(as_of, tz="UTC")
    raw_out.mkdir(parents=True, exist_ok=True)
    frames = {name: pd.read_parquet(raw_in / f"{name}.parquet") for name in TABLES}
    for name, spec in TABLES.items():
        if spec.is_event:
            frames[name] = _perturb_events(name, frames[name], t0, rng)
    frames["invoices"] = _pay_later(frames["invoices"], t0, rng)
    frames["churn_events"] = _resume_later(frames["churn_events"], t0, rng)
    frames["churn_events"] = _churn_on_as_of(frames["churn_events"], frames["clients"], t0)
    frames["clients"] = _new_clients(frames["clients"], t0, rng)
    for name, df in frames.items():
        df.to_parquet(raw_out / f"{name}.parquet", index=False)
    return raw_out
