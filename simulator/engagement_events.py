"""Newsletters and trainings: per-user events driven by engagement and contact quality.

Newsletters go to subscribed users with an email; a bad address bounces, a delivered one
is clicked more often by engaged clients. Trainings give a user a certificate valid two
years; coverage drifts around a client-specific rate, so some clients meet the category
norm and some do not.
"""

from __future__ import annotations

import numpy as np

from features.contract import NEWSLETTER_EVENTS
from simulator.calendar import US_PER_DAY, US_PER_HOUR, US_PER_SECOND, Calendar
from simulator.month import MonthContext
from simulator.population import Population
from simulator.users import Users
from simulator.write import Sink

SENT, DELIVERED, BOUNCED, CLICKED = range(4)
COURSES = ("basic_search", "advanced_search", "accounting", "legal_practice", "new_version")
CERT_DAYS = 730


def newsletters(ctx: MonthContext) -> None:
    cfg, cal, m, users, win, rng = ctx.cfg, ctx.cal, ctx.m, ctx.users, ctx.win, ctx.rng
    ms = int(cal.month_start(m))
    parts = []
    for k in range(cfg.campaigns_per_month):
        send = ms + (2 + (k * 28) // cfg.campaigns_per_month) * US_PER_DAY + 10 * US_PER_HOUR
        open_ = (win.lo <= send) & (win.hi > send)
        rows, slots = np.nonzero(users.subscribed & users.used & open_[:, None])
        campaign = (m - cal.first_month) * cfg.campaigns_per_month + k + 1
        sent = send + (rng.random(len(rows)) * 2 * US_PER_HOUR).astype(np.int64)
        bad = users.bad_email[rows, slots]
        got = sent + ((1 + 119 * rng.random(len(rows))) * US_PER_SECOND).astype(np.int64)
        p_click = np.clip(0.06 * np.exp(ctx.eff[rows]), 0, 0.9)
        click = ~bad & (rng.random(len(rows)) < p_click)
        click_ts = sent + (rng.exponential(8.0, len(rows)) * US_PER_HOUR).astype(np.int64)
        click &= click_ts < win.hi[rows]
        uid = users.ids[rows, slots]
        ev = np.where(bad, BOUNCED, DELIVERED)
        parts.append((rows, uid, sent, np.full(len(rows), SENT), campaign))
        parts.append((rows, uid, got, ev, campaign))
        parts.append(
            (rows[click], uid[click], click_ts[click], np.full(int(click.sum()), CLICKED), campaign)
        )
        ctx.st.history.add("sent", rows)
        ctx.st.history.add("bounced", rows[bad])
        ctx.st.history.add("clicks", rows[click])
    if not parts:
        return
    idx, uid, ts, ev = (np.concatenate([p[i] for p in parts]) for i in range(4))
    camp = np.concatenate([np.full(len(p[0]), p[4], dtype=np.int64) for p in parts])
    ctx.sink.events(
        "newsletter_events",
        ctx.pop.client_id[idx],
        ts,
        uid,
        campaign_id=camp,
        event=(ev, NEWSLETTER_EVENTS),
    )


def _training_rows(
    rng: np.random.Generator,
    pop: Population,
    users: Users,
    rows: np.ndarray,
    slots: np.ndarray,
    ts: np.ndarray,
    sink: Sink,
) -> None:
    users.cert_until[rows, slots] = ts + CERT_DAYS * US_PER_DAY
    course = rng.integers(0, len(COURSES), len(rows))
    course = np.where(rng.random(len(rows)) < 0.05, -1, course)
    uid = users.ids[rows, slots]
    sink.events("trainings", pop.client_id[rows], ts, uid, course=(course, COURSES))


def initial_trainings(
    cal: Calendar, pop: Population, users: Users, rng: np.random.Generator, sink: Sink
) -> None:
    """Certificates already held when the export starts: near each client's steady state."""
    first = int(cal.month_start(cal.first_month))
    r = pop.training_rate[:, None] * 24
    steady = r / (1 + r)
    holds = users.used & (rng.random(users.used.shape) < steady)
    rows, slots = np.nonzero(holds)
    ts = first - (rng.random(len(rows)) * CERT_DAYS * US_PER_DAY).astype(np.int64)
    ok = ts >= pop.contract_start[rows]
    _training_rows(rng, pop, users, rows[ok], slots[ok], ts[ok], sink)


def trainings(ctx: MonthContext) -> None:
    """Users without a certificate (or with one expiring soon) take a course this month."""
    pop, users = ctx.pop, ctx.users
    me = int(ctx.cal.month_start(ctx.m + 1))
    due = users.used & (users.cert_until < me + 60 * US_PER_DAY)
    p = pop.training_rate * np.exp(0.4 * ctx.eff) * ctx.win.frac
    p2 = np.clip(p[:, None] * np.where(np.arange(due.shape[1]) == 0, 1.5, 1.0)[None, :], 0, 1)
    rows, slots = np.nonzero(due & (ctx.rng.random(due.shape) < p2))
    ts = ctx.in_window(rows)
    _training_rows(ctx.rng, pop, users, rows, slots, ts, ctx.sink)
