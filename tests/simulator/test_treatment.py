"""The treatment model: calls cut the hidden hazard after their month and nothing else moves."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sim_helpers import small_cfg

from churn.errors import InputError
from features.contract import TABLES
from simulator.config import SimulateConfig, TreatmentConfig
from simulator.generate import simulate
from simulator.treatment import Listings, Plan, draw_week, read_truth

CLIENTS, MONTHS, SEED = 600, 8, 5
CALL_DAY = date(2024, 3, 4)  # month 2 of the window: treated months are 3 and 4


def _digests(raw: Path) -> dict[str, str]:
    return {n: hashlib.sha256((raw / f"{n}.parquet").read_bytes()).hexdigest() for n in TABLES}


def _listing(base: SimulateConfig, raw: Path, called: bool, *, reached: bool = True) -> Listings:
    """Every client active on CALL_DAY listed, all in one arm, all reached and accepting."""
    clients = pd.read_parquet(raw / "clients.parquet")
    churn = pd.read_parquet(raw / "churn_events.parquet").groupby("client_id")["ts"].min()
    day = pd.Timestamp(CALL_DAY, tz="UTC")
    started = clients["contract_start"] < day
    alive = ~clients["client_id"].map(churn).lt(day).fillna(False)
    ids = clients.loc[started & alive, "client_id"].to_numpy()
    week = draw_week(base.treatment, SEED, CALL_DAY, ids, np.full(len(ids), called))
    n = len(ids)
    return Listings(
        week.client_id, week.as_of_us, week.called, np.full(n, reached), np.ones(n, bool), week.rho
    )


@pytest.fixture(scope="module")
def untreated(base_sim: SimulateConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("untreated")
    simulate(small_cfg(base_sim, clients=CLIENTS, months=MONTHS, seed=SEED), out)
    return out


def _run(base: SimulateConfig, out: Path, listings: Listings) -> dict:
    cfg = small_cfg(base, clients=CLIENTS, months=MONTHS, seed=SEED)
    return simulate(cfg, out, Plan(listings, cfg.treatment, 90))


def test_an_empty_plan_or_holdout_only_changes_no_byte(
    base_sim: SimulateConfig, untreated: Path, tmp_path: Path
) -> None:
    """The hook draws nothing from the base's stream: without treated clients the base is
    the same file for file, and the truth file says every listing's effect."""
    _run(base_sim, tmp_path / "empty", Listings.empty())
    assert _digests(tmp_path / "empty") == _digests(untreated)
    held = _listing(base_sim, untreated, called=False)
    summary = _run(base_sim, tmp_path / "held", held)["treatment"]
    assert _digests(tmp_path / "held") == _digests(untreated)
    truth, meta = read_truth(tmp_path / "held")
    assert len(truth) == len(held) and meta == summary
    assert (truth["assignment"] == "holdout").all() and not truth["treated"].any()
    # would-be effects are still known for held-out clients: what the holdout measures
    assert (truth["p_treated"] <= truth["p_untreated"] + 1e-12).all()
    assert summary["average_effect"] > 0


def test_calls_cut_the_hazard_only_after_the_month_of_the_call(
    base_sim: SimulateConfig, untreated: Path, tmp_path: Path
) -> None:
    called = _listing(base_sim, untreated, called=True)
    summary = _run(base_sim, tmp_path / "called", called)["treatment"]
    hz0 = pd.read_parquet(untreated / "_truth" / "hazard.parquet")
    hz1 = pd.read_parquet(tmp_path / "called" / "_truth" / "hazard.parquet")
    boundary = pd.Timestamp("2024-04-01", tz="UTC")  # first treated month
    before0, before1 = hz0[hz0["month"] < boundary], hz1[hz1["month"] < boundary]
    pd.testing.assert_frame_equal(before0.reset_index(drop=True), before1.reset_index(drop=True))
    ev0 = pd.read_parquet(untreated / "logins.parquet")
    ev1 = pd.read_parquet(tmp_path / "called" / "logins.parquet")
    pd.testing.assert_frame_equal(
        ev0[ev0["ts"] < boundary].reset_index(drop=True),
        ev1[ev1["ts"] < boundary].reset_index(drop=True),
    )
    # in the first treated month the same clients are at risk and every one is cut
    m0 = hz0[hz0["month"] == boundary].set_index("client_id")["hazard"]
    m1 = hz1[hz1["month"] == boundary].set_index("client_id")["hazard"]
    assert m0.index.equals(m1.index)
    listed = m1.index.isin(called.client_id)
    assert (m1[listed] < m0[listed]).all()
    np.testing.assert_allclose(m1[~listed], m0[~listed])
    truth, _ = read_truth(tmp_path / "called")
    assert truth["treated"].all() and (truth["effect"] > 0).all()
    churned = pd.read_parquet(tmp_path / "called" / "churn_events.parquet")
    churned0 = pd.read_parquet(untreated / "churn_events.parquet")
    later = pd.Timestamp("2024-06-01", tz="UTC")
    window = (churned["ts"] >= boundary) & (churned["ts"] < later)
    window0 = (churned0["ts"] >= boundary) & (churned0["ts"] < later)
    assert (
        churned.loc[window, "client_id"].isin(called.client_id).sum()
        < churned0.loc[window0, "client_id"].isin(called.client_id).sum()
    )
    assert summary["average_effect"] > 0


def test_effect_depends_on_the_driver(
    base_sim: SimulateConfig, untreated: Path, tmp_path: Path
) -> None:
    """Debt and low engagement are cut most; 'base' risk (relocation, uncontrollable) least."""
    _run(base_sim, tmp_path / "t", _listing(base_sim, untreated, called=True))
    truth, _ = read_truth(tmp_path / "t")
    by = truth.groupby("driver")
    rel = (by["effect"].sum() / by["p_untreated"].sum()).to_dict()  # share of the risk removed
    assert rel["debt"] > rel["base"] and rel["engagement"] > rel["base"]
    assert set(truth["true_reason_group"]) <= {
        "financial_difficulties", "changed_preferences", "service_quality",
        "not_decision_maker", "product_quality", "uncontrollable",
    }  # fmt: skip


def test_unreached_calls_change_nothing(
    base_sim: SimulateConfig, untreated: Path, tmp_path: Path
) -> None:
    _run(base_sim, tmp_path / "u", _listing(base_sim, untreated, called=True, reached=False))
    assert _digests(tmp_path / "u") == _digests(untreated)


def test_draws_are_seeded_by_week_and_independent_of_row_order() -> None:
    cfg = TreatmentConfig()
    ids = np.arange(100_001, 100_301)
    a = draw_week(cfg, 3, date(2025, 4, 7), ids, np.ones(300, bool))
    b = draw_week(cfg, 3, date(2025, 4, 7), ids[::-1], np.ones(300, bool))
    np.testing.assert_array_equal(a.rho, b.rho[::-1])
    np.testing.assert_array_equal(a.reached, b.reached[::-1])
    c = draw_week(cfg, 3, date(2025, 4, 14), ids, np.ones(300, bool))
    assert not np.array_equal(a.rho, c.rho)
    assert abs(a.reached.mean() - cfg.reach_rate) < 0.1
    assert abs(np.log(a.rho).std() - cfg.noise_sd) < 0.1


def test_bad_plans_are_named(base_sim: SimulateConfig, tmp_path: Path) -> None:
    cfg = small_cfg(base_sim, clients=50, months=3, seed=1)
    stranger = draw_week(cfg.treatment, 1, date(2024, 1, 8), np.array([9]), np.array([True]))
    with pytest.raises(InputError, match="not in the generated base"):
        simulate(cfg, tmp_path / "x", Plan(stranger, cfg.treatment, 90))
    bad = cfg.treatment.model_copy(update={"removal": {"debts": 0.5}})
    with pytest.raises(InputError, match="unknown driver"):
        simulate(cfg, tmp_path / "y", Plan(Listings.empty(), bad, 90))
    with pytest.raises(ValueError, match="removal"):
        TreatmentConfig(removal={"debt": 1.5})
