"""Relationship events: competitor diagnostics, specialist contacts, key-user and
decision-maker changes.

Diagnostics run twice a year per client (a client-specific phase) and reveal the latent
competitor with some noise; disengaged clients more often answer nothing ("unknown").
Remote clients get a call about every two weeks, in-person clients visits; contact
success follows engagement. A key-user change knocks engagement down for a while.
"""

from __future__ import annotations

import numpy as np

from features.contract import COMPETITOR_PRESENT, CONTACT_KINDS, CONTACT_OUTCOMES
from simulator.calendar import Calendar
from simulator.config import SimulateConfig
from simulator.month import MonthContext
from simulator.population import Population
from simulator.state import State
from simulator.users import DM, KEY
from simulator.write import Sink

COMPETITORS = ("Garant", "Kodeks", "Tekhekspert", "local_vendor")
CALL, VISIT, KU_CHANGE, DM_CHANGE = (CONTACT_KINDS.index(k) for k in CONTACT_KINDS)
REACHED, NO_ANSWER, REFUSED, CALLBACK = (CONTACT_OUTCOMES.index(k) for k in CONTACT_OUTCOMES)


def _answers(
    cfg: SimulateConfig, st: State, rows: np.ndarray, eff: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    u = rng.random((3, len(rows)))
    p_unknown = np.clip(cfg.competitor_unknown_share * np.exp(-0.5 * eff[rows]), 0, 0.8)
    yes = np.where(st.competitor[rows], u[1] < 0.9, u[1] < 0.04)
    ans = np.where(u[0] < p_unknown, 2, np.where(yes, 0, 1))  # codes into COMPETITOR_PRESENT
    name = np.where(ans == 0, rng.integers(0, len(COMPETITORS), len(rows)), -1)
    name = np.where(u[2] < 0.15, -1, name)
    return ans, name


def _write_checks(
    pop: Population,
    st: State,
    rows: np.ndarray,
    ts: np.ndarray,
    ans: np.ndarray,
    name: np.ndarray,
    sink: Sink,
) -> None:
    st.competitor_seen[rows] = ans + 1  # 1 yes, 2 no, 3 unknown
    sink.events(
        "competitor_checks",
        pop.client_id[rows],
        ts,
        competitor_present=(ans, COMPETITOR_PRESENT),
        competitor=(name, COMPETITORS),
    )


def initial_checks(
    cfg: SimulateConfig,
    cal: Calendar,
    pop: Population,
    st: State,
    eff: np.ndarray,
    rng: np.random.Generator,
    sink: Sink,
) -> None:
    """The last diagnostics before the export starts, for clients that existed then."""
    first = cal.first_month
    month = first - 1 - ((first - 1 - pop.check_phase) % 6)
    start = cal.month_start(month)
    ts = start + (rng.random(pop.n) * (cal.month_start(month + 1) - start)).astype(np.int64)
    rows = np.nonzero(ts >= pop.contract_start)[0]
    ans, name = _answers(cfg, st, rows, eff, rng)
    _write_checks(pop, st, rows, ts[rows], ans, name, sink)


def competitor_checks(ctx: MonthContext) -> None:
    due = ((ctx.m - ctx.pop.check_phase) % 6 == 0) & (ctx.win.frac > 0)
    rows = np.nonzero(due)[0]
    ts = ctx.in_window(rows)
    ans, name = _answers(ctx.cfg, ctx.st, rows, ctx.eff, ctx.rng)
    _write_checks(ctx.pop, ctx.st, rows, ts, ans, name, ctx.sink)


def contacts(ctx: MonthContext) -> None:
    """Calls and visits with outcomes, plus key-user / decision-maker changes."""
    pop, win, rng = ctx.pop, ctx.win, ctx.rng
    calls = np.where(pop.remote, 2.1, 0.5) * win.frac
    visits = np.where(pop.remote, 0.0, 0.9) * win.frac
    c_idx, c_ts = win.spread(rng, rng.poisson(calls))
    v_idx, v_ts = win.spread(rng, rng.poisson(visits))
    idx, ts = np.concatenate([c_idx, v_idx]), np.concatenate([c_ts, v_ts])
    kind = np.concatenate([np.full(len(c_idx), CALL), np.full(len(v_idx), VISIT)])
    u = rng.random((2, len(idx)))
    p_reached = 1 / (1 + np.exp(-(1.2 + 0.8 * ctx.eff[idx])))
    miss = np.array([NO_ANSWER] * 11 + [CALLBACK] * 6 + [REFUSED] * 3)[(u[1] * 20).astype(np.int64)]
    outcome = np.where(u[0] < p_reached, REACHED, miss)
    outcome = np.where(rng.random(len(idx)) < 0.03, -1, outcome)
    np.maximum.at(ctx.st.last_contact, idx, ts)

    ku = _changes(ctx, slot=0, role=KEY, base=0.012)
    dm = _changes(ctx, slot=1, role=DM, base=0.008)
    idx = np.concatenate([idx, ku[0], dm[0]])
    ts = np.concatenate([ts, ku[1], dm[1]])
    kind = np.concatenate([kind, np.full(len(ku[0]), KU_CHANGE), np.full(len(dm[0]), DM_CHANGE)])
    outcome = np.concatenate([outcome, np.full(len(ku[0]) + len(dm[0]), -1)])
    ctx.sink.events(
        "contacts",
        pop.client_id[idx],
        ts,
        kind=(kind, CONTACT_KINDS),
        outcome=(outcome, CONTACT_OUTCOMES),
    )


def _changes(
    ctx: MonthContext, *, slot: int, role: int, base: float
) -> tuple[np.ndarray, np.ndarray]:
    st, users = ctx.st, ctx.users
    p = np.clip(base * np.exp(-0.4 * ctx.eff), 0, 0.3) * ctx.win.frac
    rows = np.nonzero(ctx.rng.random(len(p)) < p)[0]
    ts = ctx.in_window(rows)
    has_slot = users.used[rows, slot] if slot < users.used.shape[1] else np.zeros(len(rows), bool)
    users.replace(ctx.rng, rows[has_slot], slot, role, ts[has_slot])
    if slot == 0:
        st.key_user_change[rows] = ts
        st.engagement[rows] -= 0.4
    else:
        st.dm_change[rows] = ts
    return rows, ts
