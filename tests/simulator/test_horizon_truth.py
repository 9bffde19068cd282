"""The reference the generator writes: the true probability of churning within the label
horizon given the state at each monthly as_of (Monte Carlo over the hidden future).

Checked against what the generator then actually did: the mean and the probability
groups must match the realised 90-day churn within binomial noise (inflated for the
overlap of consecutive monthly windows, which share churn events), and the forward paths
must leave the contract tables byte for byte as they are without them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sim_helpers import small_cfg
from sklearn.metrics import roc_auc_score

from simulator.config import SimulateConfig
from simulator.generate import simulate
from simulator.truth import TRUTH_DIR, TRUTH_HAZARD_FILE, TRUTH_HORIZON_FILE

HORIZON = pd.Timedelta(days=90)
# consecutive monthly windows overlap by two months, so a churn event counts in up to
# three rows: the binomial standard error of a mean is widened by sqrt(3)
OVERLAP = np.sqrt(3.0)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def _with_outcomes(raw: Path) -> pd.DataFrame:
    """Reference rows with the realised label: first churn in [as_of, as_of + 90 days)."""
    ref = pd.read_parquet(raw / TRUTH_DIR / TRUTH_HORIZON_FILE)
    first = pd.read_parquet(raw / "churn_events.parquet").groupby("client_id")["ts"].min()
    churn = ref["client_id"].map(first)
    ref["y"] = ((churn >= ref["as_of"]) & (churn < ref["as_of"] + HORIZON)).astype(int)
    return ref


@pytest.fixture(scope="module")
def reference_base(base_sim: SimulateConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 000 clients over 10 months: 8 monthly as_of dates with a complete horizon."""
    cfg = small_cfg(base_sim, clients=2000, months=10, seed=23)
    cfg = cfg.override(reference__paths=16)
    out = tmp_path_factory.mktemp("reference")
    simulate(cfg, out)
    return out


def test_forward_paths_do_not_change_the_contract_tables(
    base_sim: SimulateConfig, tmp_path: Path
) -> None:
    on = small_cfg(base_sim, clients=300, months=7, seed=4)
    off = on.override(reference__paths=0)
    summary = simulate(on, tmp_path / "on")
    simulate(off, tmp_path / "off")
    with_ref, without = _hashes(tmp_path / "on"), _hashes(tmp_path / "off")
    assert with_ref.pop(f"{TRUTH_DIR}/{TRUTH_HORIZON_FILE}")
    assert with_ref == without
    assert summary["reference_paths"] == on.reference.paths


def test_one_row_per_active_client_for_each_month_with_a_complete_horizon(
    reference_base: Path,
) -> None:
    ref = pd.read_parquet(reference_base / TRUTH_DIR / TRUTH_HORIZON_FILE)
    meta = pq.read_schema(reference_base / TRUTH_DIR / TRUTH_HORIZON_FILE).metadata
    assert meta[b"horizon_days"] == b"90" and meta[b"paths"] == b"16"
    # a 10-month window from 2024-01 ends 2024-11-01: as_of 2024-08-01 + 90 days fits
    dates = sorted(ref["as_of"].dt.strftime("%Y-%m-%d").unique())
    assert dates == [f"2024-{m:02d}-01" for m in range(1, 9)]
    assert not ref.duplicated(["client_id", "as_of"]).any()
    assert ref["probability"].between(0, 1).all()
    # exactly the clients the snapshot of that date holds: started before, not yet gone
    clients = pd.read_parquet(reference_base / "clients.parquet")
    first = (
        pd.read_parquet(reference_base / "churn_events.parquet").groupby("client_id")["ts"].min()
    )
    for as_of, rows in ref.groupby("as_of"):
        started = clients.loc[clients["contract_start"] < as_of, "client_id"]
        gone = first[first < as_of].index
        assert set(rows["client_id"]) == set(started) - set(gone), as_of


def test_monte_carlo_probability_matches_the_realised_90_day_churn(reference_base: Path) -> None:
    ref = _with_outcomes(reference_base)
    p, y = ref["probability"].to_numpy(), ref["y"].to_numpy()
    se = OVERLAP * np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(y.mean() - p.mean()) < 3 * se, (y.mean(), p.mean(), se)
    # and within each fifth of the probability ranking (the top fifth holds most churn)
    group = pd.qcut(pd.Series(p).rank(method="first"), 5, labels=False).to_numpy()
    for g in range(5):
        pg, yg = p[group == g], y[group == g]
        se_g = OVERLAP * np.sqrt((pg * (1 - pg)).sum()) / len(pg)
        assert abs(yg.mean() - pg.mean()) < 3.5 * se_g + 1e-3, (g, yg.mean(), pg.mean())


def test_reference_ranks_better_than_the_first_month_hazard(reference_base: Path) -> None:
    """The old "oracle" saw only the first month; the horizon probability sees all three."""
    ref = _with_outcomes(reference_base)
    hazard = pd.read_parquet(reference_base / TRUTH_DIR / TRUTH_HAZARD_FILE)
    both = ref.merge(hazard.rename(columns={"month": "as_of"}), on=["client_id", "as_of"])
    assert len(both) == len(ref)
    auc_ref = roc_auc_score(both["y"], both["probability"])
    auc_first = roc_auc_score(both["y"], both["hazard"])
    assert auc_ref > auc_first


def test_past_calls_count_and_future_calls_do_not(base_sim: SimulateConfig, tmp_path: Path) -> None:
    """Closed loop: everybody active on 2024-03-04 is called and takes the offer (month 2),
    which cuts the hazard in months 3 and 4. As of 2024-03-01 that call is the future: the
    reference is exactly the untreated one. As of 2024-04-01 it is past: the reference of
    the treated clients drops."""
    from simulator.treatment import Listings, Plan, draw_week

    cfg = small_cfg(base_sim, clients=600, months=8, seed=5)
    simulate(cfg, tmp_path / "plain")
    clients = pd.read_parquet(tmp_path / "plain" / "clients.parquet")
    first = pd.read_parquet(tmp_path / "plain" / "churn_events.parquet")
    first = first.groupby("client_id")["ts"].min()
    day = pd.Timestamp("2024-03-04", tz="UTC")
    alive = (clients["contract_start"] < day) & ~clients["client_id"].map(first).lt(day).fillna(
        False
    )
    ids = clients.loc[alive, "client_id"].to_numpy()
    week = draw_week(cfg.treatment, 5, day.date(), ids, np.ones(len(ids), bool))
    yes = np.ones(len(ids), bool)
    listings = Listings(week.client_id, week.as_of_us, yes, yes, yes, week.rho)
    simulate(cfg, tmp_path / "called", Plan(listings, cfg.treatment, 90))

    def reference(name: str) -> pd.DataFrame:
        ref = pd.read_parquet(tmp_path / name / TRUTH_DIR / TRUTH_HORIZON_FILE)
        return ref.set_index(["client_id", "as_of"])["probability"]

    plain, called = reference("plain"), reference("called")
    march = pd.Timestamp("2024-03-01", tz="UTC")
    april = pd.Timestamp("2024-04-01", tz="UTC")
    before = plain.xs(march, level="as_of")
    assert before.equals(called.xs(march, level="as_of"))
    after_plain = plain.xs(april, level="as_of")
    after_called = called.xs(april, level="as_of")
    common = after_plain.index.intersection(after_called.index).intersection(ids)
    assert len(common) > 400
    assert after_called[common].mean() < 0.8 * after_plain[common].mean()
