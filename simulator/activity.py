"""Monthly usage events driven by the latent engagement: logins, requests, webinars,
VideoConsultant clicks and kit updates.

Counts are Poisson per client with a rate ``base * exp(engagement + season)`` scaled by
the share of the month the client was active; events are then spread uniformly over the
client's window, so nothing lands before the contract start or after churn.
"""

from __future__ import annotations

import numpy as np

from churn.config import SimulateConfig
from features.contract import REQUEST_CHANNELS
from simulator.population import Population
from simulator.state import State, Window
from simulator.users import Users
from simulator.write import Sink, day_order

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


def logins(
    cfg: SimulateConfig,
    pop: Population,
    st: State,
    users: Users,
    win: Window,
    eff: np.ndarray,
    rng: np.random.Generator,
    sink: Sink,
) -> None:
    lam = pop.n_users * cfg.logins_per_user * np.exp(eff) * win.frac
    idx, ts = win.spread(rng, rng.poisson(lam))
    st.history.add("logins", idx)
    uid = users.pick(rng, idx, pop.n_users)
    order = day_order(ts)
    sink.write("logins", {"client_id": pop.client_id[idx], "user_id": uid, "ts": ts}, order)


def service_requests(
    pop: Population,
    st: State,
    users: Users,
    win: Window,
    eff: np.ndarray,
    rng: np.random.Generator,
    sink: Sink,
) -> None:
    scale = np.exp(eff) * win.frac
    parts = []
    for code, channel in enumerate(REQUEST_CHANNELS):
        rate, anonymous = CHANNEL_RATES[channel]
        lam = rate * scale
        if channel == "personal_cabinet":
            lam = lam * pop.uses_cabinet * np.sqrt(pop.n_users)
        idx, ts = win.spread(rng, rng.poisson(lam))
        st.history.add(HISTORY_NAME[channel], idx)
        uid = _null_some(rng, users.pick(rng, idx, pop.n_users), anonymous)
        parts.append((idx, ts, uid, np.full(len(idx), code)))
    idx, ts, uid, ch = (np.concatenate(p) for p in zip(*parts, strict=True))
    cols = {
        "client_id": pop.client_id[idx],
        "user_id": uid,
        "ts": ts,
        "channel": (ch, REQUEST_CHANNELS),
    }
    sink.write("service_requests", cols, day_order(ts))


def webinars_and_video(
    pop: Population,
    st: State,
    users: Users,
    win: Window,
    eff: np.ndarray,
    rng: np.random.Generator,
    sink: Sink,
) -> None:
    scale = np.sqrt(pop.n_users) * np.exp(eff) * win.frac
    idx, ts = win.spread(rng, rng.poisson(0.2 * scale))
    st.history.add("webinars", idx)
    uid = _null_some(rng, users.pick(rng, idx, pop.n_users), 0.1)
    topic = rng.integers(0, len(WEBINAR_TOPICS), len(idx))
    topic = np.where(rng.random(len(idx)) < 0.05, -1, topic)
    cols = {
        "client_id": pop.client_id[idx],
        "user_id": uid,
        "ts": ts,
        "topic": (topic, WEBINAR_TOPICS),
    }
    sink.write("webinars", cols, day_order(ts))

    idx, ts = win.spread(rng, rng.poisson(0.4 * scale))
    st.history.add("video", idx)
    uid = _null_some(rng, users.pick(rng, idx, pop.n_users), 0.05)
    cols = {"client_id": pop.client_id[idx], "user_id": uid, "ts": ts}
    sink.write("video_clicks", cols, day_order(ts))


def kit_updates(
    pop: Population, st: State, win: Window, rng: np.random.Generator, sink: Sink
) -> None:
    """Weekly online updates for remote clients, fortnightly visits for in-person ones."""
    lam = np.where(pop.remote, 4.0, 2.0) * win.frac * ~st.kit_stopped
    idx, ts = win.spread(rng, rng.poisson(lam))
    st.history.add("kits", idx)
    sink.write("kit_updates", {"client_id": pop.client_id[idx], "ts": ts}, day_order(ts))
