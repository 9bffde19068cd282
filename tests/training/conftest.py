"""Training-test fixtures: a small synthetic client base with a known monthly hazard, and a
fresh MLflow store per test that needs to control the registry's state.

The synthetic base has exactly the snapshot columns of ``features/catalog.py`` and the raw
tables labels and the reference need (``churn_events``, ``_truth/hazard.parquet``,
``_truth/horizon_probability.parquet``), so the training pipeline runs end to end on it in
seconds, independent of the generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn.config import Config
from features.catalog import CATALOG, COLUMNS
from features.provenance import stamp
from simulator.truth import TRUTH_HORIZON_FILE


@dataclass
class SyntheticBase:
    snapshots: pd.DataFrame
    churn_events: pd.DataFrame
    hazard: pd.DataFrame
    data_end: pd.Timestamp
    horizon: pd.DataFrame  # client_id, as_of, probability: churn within the next 3 months


def make_synthetic(n_clients: int = 600, n_months: int = 18, seed: int = 0) -> SyntheticBase:
    """Monthly snapshots whose churn follows a logistic hazard in a few features."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    months = pd.date_range(start, periods=n_months, freq="MS")
    n = n_clients * n_months
    client = np.repeat(np.arange(1, n_clients + 1), n_months)
    month_idx = np.tile(np.arange(n_months), n_clients)
    frame = pd.DataFrame({"client_id": client, "as_of": months[month_idx]})
    for f in CATALOG:
        if f.name in ("client_id", "as_of", "centre_id"):
            continue
        if f.dtype == "str":
            frame[f.name] = pd.Series(rng.choice(["a", "b", "c"], n), dtype="str")
        elif f.dtype == "int":
            frame[f.name] = rng.poisson(3, n).astype("int64")
        else:
            frame[f.name] = rng.normal(size=n)
    # a network of two centres (odd / even ids; no draw, so the data are as before)
    frame.insert(2, "centre_id", pd.Series(np.where(client % 2, "C01", "C02"), dtype="str"))
    frame["category"] = pd.Series(rng.choice(["A", "B", "C"], n), dtype="str")
    frame["region"] = frame["region"].where(rng.random(n) > 0.1)
    engagement = rng.normal(size=n_clients)[client - 1] + 0.3 * rng.normal(size=n)
    frame["logins_30d"] = np.maximum(0, np.round(10 + 4 * engagement)).astype("int64")
    frame["overdue_debt_rub"] = np.where(rng.random(n) < 0.2, rng.gamma(2, 5000, n), 0.0)
    logit = (
        -3.6
        - 0.9 * engagement
        + 1.2 * (frame["overdue_debt_rub"] > 0)
        + 0.6 * (frame["category"] == "C")
    )
    hazard = 1 / (1 + np.exp(-logit.to_numpy()))
    frame["contact_index"] = 0.2 + 0.3 * (frame["overdue_debt_rub"] > 0) + 0.05 * rng.random(n)
    frame["rule_band"] = np.where(frame["contact_index"] >= 0.34, "high", "no_threat")
    churn_now = rng.random(n) < hazard
    churn_day = rng.integers(0, 28, n)
    churned = pd.DataFrame(
        {"client_id": client, "m": month_idx, "churn": churn_now, "d": churn_day}
    )
    first = churned[churned["churn"]].groupby("client_id")[["m", "d"]].first()
    events = pd.DataFrame(
        {
            "client_id": first.index.to_numpy(),
            "ts": months[first["m"].to_numpy()] + pd.to_timedelta(first["d"].to_numpy() + 1, "D"),
            "churn_type": "termination",
            "reason_group": "other",
        }
    )
    # a client is in the snapshot while it has not churned before as_of
    gone_at = frame["client_id"].map(events.set_index("client_id")["ts"])
    active = gone_at.isna() | (gone_at > frame["as_of"])
    hazard_frame = pd.DataFrame({"client_id": client, "month": frame["as_of"], "hazard": hazard})
    # churn days are 1..28, so a 90-day window from a month start holds exactly 3 months
    h = hazard.reshape(n_clients, n_months)
    pad = np.hstack([h, np.repeat(h[:, -1:], 2, axis=1)])  # beyond the data: unlabelled
    survive = (1 - pad[:, :-2]) * (1 - pad[:, 1:-1]) * (1 - pad[:, 2:])
    horizon = pd.DataFrame(
        {"client_id": client, "as_of": frame["as_of"], "probability": 1 - survive.ravel()}
    )
    snapshots = frame.loc[active.to_numpy(), COLUMNS].reset_index(drop=True)
    data_end = months[-1] + pd.offsets.MonthEnd(1)
    keep = active.to_numpy()
    return SyntheticBase(snapshots, events, hazard_frame[keep], data_end, horizon[keep])


def write_synthetic(base: SyntheticBase, root: Path) -> tuple[Path, Path]:
    """Write (raw_dir, snapshot_file) the way the simulator and feature layer would."""
    raw = root / "raw"
    (raw / "_truth").mkdir(parents=True, exist_ok=True)
    base.churn_events.to_parquet(raw / "churn_events.parquet", index=False)
    base.hazard.to_parquet(raw / "_truth" / "hazard.parquet", index=False)
    table = pa.Table.from_pandas(base.horizon, preserve_index=False)
    meta = {b"horizon_days": b"90", b"paths": b"0"}  # exact, not Monte Carlo
    pq.write_table(table.replace_schema_metadata(meta), raw / "_truth" / TRUTH_HORIZON_FILE)
    logins = pd.DataFrame({"client_id": [1], "user_id": [1], "ts": [base.data_end]})
    logins.to_parquet(raw / "logins.parquet", index=False)
    snap = root / "features" / "snapshots.parquet"
    snap.parent.mkdir(parents=True, exist_ok=True)
    base.snapshots.to_parquet(snap, index=False)
    stamp(snap, raw)  # as write_snapshots would: built from this raw directory
    return raw, snap


@pytest.fixture(scope="session")
def synthetic() -> SyntheticBase:
    return make_synthetic()


@pytest.fixture
def fresh_mlflow(tmp_path: Path, base_config: Config, mlflow_switch: Any) -> Iterator[Config]:
    """A config whose MLflow store (SQLite + artifacts) is new and empty for this test."""
    cfg = base_config.override(
        paths=base_config.paths.under(tmp_path),
        paths__raw_dir=tmp_path / "no-raw",
        training__n_trials=3,
        training__timeout_s=60,
        training__bootstrap_rounds=50,
        training__max_boost_rounds=200,
    )
    with mlflow_switch(cfg.paths.mlflow_tracking_uri):
        yield cfg


@pytest.fixture(scope="session")
def synthetic_files(synthetic: SyntheticBase, tmp_path_factory: pytest.TempPathFactory):
    """(raw_dir, snapshot_file) of the synthetic base on disk."""
    return write_synthetic(synthetic, tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="session")
def synthetic_factory():
    """make_synthetic and write_synthetic, for tests that need their own base."""
    return make_synthetic, write_synthetic
