"""Generate a synthetic client base in the raw-data contract: ``simulate(cfg, out_dir)``.

Static profiles are drawn once; then one vectorised step per month (history months
first, then the window): hazard and churn at the month start (window months only),
latent drift, the month's events, invoices. Each table is appended month by month, so
memory is bounded by one month of events. One ``numpy.random.Generator(PCG64(seed))``
drives every draw in a fixed order: the same seed gives the same bytes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from churn.progress import progress
from features.contract import CATEGORIES
from simulator import activity, engagement_events, relations
from simulator.billing import Billing
from simulator.calendar import Calendar
from simulator.churn import churn_month
from simulator.config import SimulateConfig
from simulator.horizon_truth import open_reference
from simulator.month import MonthContext
from simulator.population import draw_population
from simulator.resumption import add_resumptions
from simulator.state import evolve, initial_state, month_window
from simulator.treatment import Plan, Treatment
from simulator.users import Users
from simulator.write import Sink

CENTRE_STREAM = 0xCE17  # tags the centre generator's seed (see assign_centres)


def _season(cfg: SimulateConfig, cal: Calendar, m: int) -> float:
    return float(cfg.seasonality.get(cal.calendar_month(m), 0.0))


def simulate(cfg: SimulateConfig, out_dir: Path, plan: Plan | None = None) -> dict[str, Any]:
    """Write every contract table plus ``_truth/hazard.parquet`` to ``out_dir``, and
    ``_truth/horizon_probability.parquet`` unless ``reference.paths`` is 0 (its forward
    paths use their own random streams: the contract tables are the same either way).

    ``plan``: the closed loop's listed and called clients (``simulator.treatment``); their
    hazard is cut after the month of the call and ``_truth/treatment.parquet`` says by how
    much. Returns a summary: clients, months, rows per table, events, churn rate, shares.
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    rng = np.random.Generator(np.random.PCG64(cfg.seed))
    cal = Calendar(cfg.start_date, cfg.months, cfg.history_months)
    pop = draw_population(cfg, cal, rng)
    st = initial_state(cfg, cal, pop, rng)
    users = Users(cfg, pop, rng)
    bill = Billing(cfg, cal, pop)
    optional = {"centre_id"} if cfg.centres else set()
    optional |= {"name"} if cfg.names else set()
    sink = Sink(out_dir, cfg.compression, frozenset(optional))
    treatment = plan.bind(cal, pop.client_id) if plan is not None else None
    ref = open_reference(cfg, cal, out_dir, plan)
    try:
        eff0 = st.engagement + _season(cfg, cal, cal.first_month - 1)
        engagement_events.initial_trainings(cal, pop, users, rng, sink)
        relations.initial_checks(cfg, cal, pop, st, eff0, rng, sink)
        bill.initial(st, rng)
        monthly = []
        months = range(cal.first_month, cfg.months)
        for m in progress(months, total=len(months), what="simulating months"):
            if ref is not None:  # the state at the month's first instant, before its draws
                ref.fork(m, pop, st, users, bill, step=_month)
            monthly.append(_month(cfg, cal, m, pop, st, users, bill, rng, sink, treatment))
        bill.write(st, sink)
        sink.write("users", users.table(pop))
        sink.write("clients", _clients_table(pop, cfg))
    finally:
        rows = sink.close()
        if ref is not None:
            ref.close()
    resumed = add_resumptions(cfg, cal, out_dir)  # own random stream; no-op by default
    summary = _summary(cfg, pop, rows, [x for x in monthly if x], time.perf_counter() - t0)
    summary["resumed_suspensions"] = resumed
    summary["reference_paths"] = ref.paths if ref is not None else 0
    if treatment is not None:
        summary["treatment"] = treatment.write(out_dir)
    return summary


def _month(
    cfg: SimulateConfig,
    cal: Calendar,
    m: int,
    pop,
    st,
    users,
    bill,
    rng,
    sink,
    treatment: Treatment | None = None,
) -> dict | None:
    """One month: churn at its start (window months), then drift, events and invoices."""
    churn = churn_month(cfg, cal, m, pop, st, users, bill, rng, sink, treatment) if m >= 0 else None
    evolve(cfg, pop, st, rng)
    eff = st.engagement + _season(cfg, cal, m)
    win = month_window(cal, pop, st, m)
    ctx = MonthContext(cfg, cal, m, pop, st, users, win, eff, rng, sink)
    activity.logins(ctx)
    activity.service_requests(ctx)
    activity.webinars_and_video(ctx)
    activity.kit_updates(ctx)
    engagement_events.newsletters(ctx)
    engagement_events.trainings(ctx)
    relations.competitor_checks(ctx)
    relations.contacts(ctx)
    bill.issue(m, win, st, rng)
    st.history.close_month()
    return churn


def _clients_table(pop, cfg: SimulateConfig) -> dict[str, Any]:
    from features.contract import SEGMENTS, SERVICE_MODES
    from simulator.population import REGIONS

    table = {
        "client_id": pop.client_id,
        "category": (pop.category, CATEGORIES),
        "monthly_fee_rub": pop.fee,
        "segment": (pop.large.astype(np.int64), SEGMENTS),
        "service_mode": (pop.remote.astype(np.int64), SERVICE_MODES),
        "contract_start": pop.contract_start,
        "first_advance_months": pop.first_advance,
        "region": (pop.region, REGIONS),
    }
    if cfg.centres:
        table["centre_id"] = assign_centres(pop.n, cfg.centres, cfg.seed)
    if cfg.names:
        from simulator.names import client_names

        table["name"] = client_names(pop.n, cfg.seed)
    return table


def assign_centres(n: int, centres: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Each client's centre, ``C01``..``CK`` with unequal sizes (Dirichlet shares).

    Drawn from its own generator (seeded by ``seed`` and a fixed tag), after everything
    else: a network base has the same clients, events and churn as the single-centre base
    of the same seed, only with the extra column.
    """
    rng = np.random.Generator(np.random.PCG64([seed, CENTRE_STREAM]))
    shares = rng.dirichlet(np.full(centres, 4.0))
    codes = rng.choice(centres, size=n, p=shares)
    return codes, [f"C{i + 1:02d}" for i in range(centres)]


def _summary(
    cfg: SimulateConfig, pop, rows: dict[str, int], monthly: list[dict], seconds: float
) -> dict:
    at_risk = sum(x["at_risk"] for x in monthly)
    churned = sum(x["churned"] for x in monthly)
    events = {k: v for k, v in rows.items() if k not in ("clients", "users")}
    return {
        "clients": pop.n,
        "months": cfg.months,
        "seed": cfg.seed,
        "rows": rows,
        "events": sum(events.values()),
        "churned": churned,
        "monthly_churn_rate": churned / at_risk if at_risk else 0.0,
        "mean_hazard": sum(x["hazard_sum"] for x in monthly) / at_risk if at_risk else 0.0,
        "category_shares": {c: float(np.mean(pop.category == i)) for i, c in enumerate(CATEGORIES)},
        "large_share": float(pop.large.mean()),
        "remote_share": float(pop.remote.mean()),
        "seconds": round(seconds, 2),
    }
