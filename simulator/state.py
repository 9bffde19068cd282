"""The dynamic side of the client base: what changes month by month.

Latent states (engagement, finances, a competitor actually in use, kit updates stopped)
drive the events but never the hazard directly; the hazard reads only the realised
history kept in :class:`History` (counts per past month) and the observable dates here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.calendar import LONG_AGO, NEVER, US_PER_DAY, US_PER_HOUR, Calendar
from simulator.config import SimulateConfig
from simulator.population import Population

COUNTS = (
    "logins", "hotline", "consultation", "cabinet", "webinars",
    "clicks", "sent", "bounced", "video", "kits",
)  # fmt: skip
DEPTH = 6  # months of realised history kept per client


class History:
    """Realised monthly event counts per client, newest month in column 0."""

    def __init__(self, n: int) -> None:
        self.counts = {name: np.zeros((n, DEPTH), dtype=np.int32) for name in COUNTS}
        self._month = {name: np.zeros(n, dtype=np.int32) for name in COUNTS}

    def add(self, name: str, clients: np.ndarray) -> None:
        """Count one event per entry of ``clients`` (indices) in the current month."""
        self._month[name] += np.bincount(clients, minlength=len(self._month[name])).astype(np.int32)

    def close_month(self) -> None:
        for name, arr in self.counts.items():
            arr[:, 1:] = arr[:, :-1]
            arr[:, 0] = self._month[name]
            self._month[name][:] = 0

    def last(self, name: str, months: int) -> np.ndarray:
        return self.counts[name][:, :months].sum(axis=1)


@dataclass
class State:
    churn_us: np.ndarray
    engagement: np.ndarray  # AR(1) deviation around the client's mean, without seasonality
    finance: np.ndarray
    competitor: np.ndarray  # latent: the client really uses a competitor
    competitor_seen: np.ndarray  # last diagnostics: 0 never, 1 yes, 2 no, 3 unknown
    kit_stopped: np.ndarray
    key_user_change: np.ndarray
    dm_change: np.ndarray
    last_contact: np.ndarray  # last specialist call or visit, any outcome
    history: History


def initial_state(
    cfg: SimulateConfig, cal: Calendar, pop: Population, rng: np.random.Generator
) -> State:
    n = pop.n
    stat_sd = cfg.engagement_sd / np.sqrt(1 - cfg.engagement_ar**2)
    eng = pop.engagement_mean + stat_sd * rng.standard_normal(n)
    first = int(cal.month_start(cal.first_month))
    reached = first - (rng.exponential(20.0, n) * US_PER_DAY).astype(np.int64)
    return State(
        churn_us=np.full(n, NEVER, dtype=np.int64),
        engagement=eng,
        finance=pop.finance_mean + 0.5 * rng.standard_normal(n),
        competitor=rng.random(n) < np.clip(0.2 * np.exp(-0.6 * eng), 0, 0.8),
        competitor_seen=np.zeros(n, dtype=np.int8),
        kit_stopped=rng.random(n) < 0.05,
        key_user_change=np.full(n, LONG_AGO, dtype=np.int64),
        dm_change=np.full(n, LONG_AGO, dtype=np.int64),
        last_contact=np.where(reached > pop.contract_start, reached, LONG_AGO),
        history=History(n),
    )


def evolve(cfg: SimulateConfig, pop: Population, st: State, rng: np.random.Generator) -> None:
    """One month of drift in the latent states (vectorised over all clients)."""
    n = pop.n
    phi = cfg.engagement_ar
    st.engagement = pop.engagement_mean + phi * (st.engagement - pop.engagement_mean)
    st.engagement += cfg.engagement_sd * rng.standard_normal(n)
    st.finance = (
        pop.finance_mean + 0.85 * (st.finance - pop.finance_mean) + 0.35 * rng.standard_normal(n)
    )
    u = rng.random((3, n))
    start = u[0] < np.clip(0.012 * np.exp(-0.6 * st.engagement), 0, 0.2)
    st.competitor = np.where(st.competitor, u[1] >= 0.04, start)
    stop = u[2] < np.clip(0.008 * np.exp(-0.8 * st.engagement), 0, 0.2)
    st.kit_stopped = np.where(st.kit_stopped, u[2] >= 0.12, stop)


@dataclass(frozen=True)
class Window:
    """Where in the current month each client can have events: [lo, hi)."""

    lo: np.ndarray
    hi: np.ndarray
    active: np.ndarray  # indices of clients with lo < hi
    frac: np.ndarray  # share of the month covered, per client (0 when inactive)

    def spread(self, rng: np.random.Generator, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Turn per-client counts into (client index, time in the client's window).

        Office rhythm: most events on weekdays (a weekend day is redrawn 4 times in 5)
        and during the working day (hour ~ triangular 7-19 h). Window bounds are whole
        days, so the day + hour stays inside [lo, hi).
        """
        idx = np.repeat(np.arange(len(counts)), counts)
        lo = self.lo[idx]
        days = (self.hi[idx] - lo) // US_PER_DAY
        u = rng.random((4, len(idx)))
        day = (u[0] * days).astype(np.int64)
        weekday = ((lo // US_PER_DAY) + day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        day = np.where((weekday >= 5) & (u[1] < 0.8), ((u[1] / 0.8) * days).astype(np.int64), day)
        hour_us = ((7.0 + 6.0 * (u[2] + u[3])) * US_PER_HOUR).astype(np.int64)
        return idx, lo + day * US_PER_DAY + hour_us


def month_window(cal: Calendar, pop: Population, st: State, m: int) -> Window:
    ms, me = int(cal.month_start(m)), int(cal.month_start(m + 1))
    lo = np.maximum(pop.contract_start, ms)
    hi = np.minimum(np.minimum(st.churn_us, me), cal.window_end)
    ok = lo < hi
    frac = np.where(ok, (hi - lo) / (me - ms), 0.0)
    return Window(lo=lo, hi=np.where(ok, hi, lo), active=np.nonzero(ok)[0], frac=frac)
