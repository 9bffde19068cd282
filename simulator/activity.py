"""Monthly usage events driven by the latent engagement: logins, requests, webinars,
VideoConsultant clicks and kit updates.

Counts are Poisson per client with a rate ``base * exp(engagement + season)`` scaled by
the share of the month the client was active; events are then spread uniformly over the
client's window, so nothing lands before the contract start or after churn.
"""

from __future__ import annotations

import numpy as np

from features.contract import REQUEST_CHANNELS
from simulator.month import MonthContext
from simulator.shift import factor

WEBINAR_TOPICS = (
    "tax",
    "labour_law",
    "accounting",
    "procurement",
    "court_practice",
    "new_features",
)
# per-channel monthly base rate, share of requests without an identified user
HISTORY_NAME = {
    "hotline": "hotline",
    "consultation_centre": "consultation",
    "personal_cabinet": "cabinet",
}
CHANNEL_RATES = {
    "hotline": (0.25, 0.35),
    "consultation_centre": (0.35, 0.10),
    "personal_cabinet": (0.45, 0.0),
}


def _null_some(rng: np.random.Generator, ids: np.ndarray, share: float | np.ndarray) -> np.ndarray:
    return np.where(rng.random(len(ids)) < share, -1, ids)


def logins(ctx: MonthContext) -> None:
    pop, win = ctx.pop, ctx.win
    lam = pop.n_users * ctx.cfg.logins_per_user * np.exp(ctx.eff) * win.frac
    lam = lam * factor(ctx, "logins")
    idx, ts = win.spread(ctx.rng, ctx.rng.poisson(lam))
    ctx.st.history.add("logins", idx)
    ctx.sink.events("logins", pop.client_id[idx], ts, ctx.pick_users(idx))


def service_requests(ctx: MonthContext) -> None:
    pop, win, rng = ctx.pop, ctx.win, ctx.rng
    scale = np.exp(ctx.eff) * win.frac * factor(ctx, "requests")
    parts = []
    for code, channel in enumerate(REQUEST_CHANNELS):
        rate, anonymous = CHANNEL_RATES[channel]
        lam = rate * scale
        if channel == "personal_cabinet":
            lam = lam * pop.uses_cabinet * np.sqrt(pop.n_users)
        idx, ts = win.spread(rng, rng.poisson(lam))
        ctx.st.history.add(HISTORY_NAME[channel], idx)
        uid = _null_some(rng, ctx.pick_users(idx), anonymous)
        parts.append((idx, ts, uid, np.full(len(idx), code)))
    idx, ts, uid, ch = (np.concatenate(p) for p in zip(*parts, strict=True))
    ctx.sink.events("service_requests", pop.client_id[idx], ts, uid, channel=(ch, REQUEST_CHANNELS))


def webinars_and_video(ctx: MonthContext) -> None:
    pop, win, rng = ctx.pop, ctx.win, ctx.rng
    scale = np.sqrt(pop.n_users) * np.exp(ctx.eff) * win.frac
    idx, ts = win.spread(rng, rng.poisson(0.2 * scale))
    ctx.st.history.add("webinars", idx)
    uid = _null_some(rng, ctx.pick_users(idx), 0.1)
    topic = rng.integers(0, len(WEBINAR_TOPICS), len(idx))
    topic = np.where(rng.random(len(idx)) < 0.05, -1, topic)
    ctx.sink.events("webinars", pop.client_id[idx], ts, uid, topic=(topic, WEBINAR_TOPICS))

    idx, ts = win.spread(rng, rng.poisson(0.4 * scale))
    ctx.st.history.add("video", idx)
    uid = _null_some(rng, ctx.pick_users(idx), 0.05)
    ctx.sink.events("video_clicks", pop.client_id[idx], ts, uid)


def kit_updates(ctx: MonthContext) -> None:
    """Weekly online updates for remote clients, fortnightly visits for in-person ones."""
    lam = np.where(ctx.pop.remote, 4.0, 2.0) * ctx.win.frac * ~ctx.st.kit_stopped
    idx, ts = ctx.win.spread(ctx.rng, ctx.rng.poisson(lam))
    ctx.st.history.add("kits", idx)
    ctx.sink.events("kit_updates", ctx.pop.client_id[idx], ts)
