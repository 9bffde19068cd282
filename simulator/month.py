"""What every monthly event generator reads: one bundle instead of ten repeated arguments.

The generators (activity, engagement_events, relations) all draw from the same
population, latent state, user slots, activity window, effective engagement and random
generator, and append to the same sink. Passing them as one frozen object keeps the call
order in ``generate._month`` (and so the random stream) the single place that matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.calendar import Calendar
from simulator.config import SimulateConfig
from simulator.population import Population
from simulator.state import State, Window
from simulator.users import Users
from simulator.write import Sink


@dataclass(frozen=True)
class MonthContext:
    cfg: SimulateConfig
    cal: Calendar
    m: int  # month index relative to the window start (history months are negative)
    pop: Population
    st: State
    users: Users
    win: Window
    eff: np.ndarray  # engagement + the month's seasonality, per client
    rng: np.random.Generator
    sink: Sink

    def pick_users(self, idx: np.ndarray) -> np.ndarray:
        """A random current user for each event of client ``idx`` (one draw per event)."""
        return self.users.pick(self.rng, idx, self.pop.n_users)

    def in_window(self, rows: np.ndarray) -> np.ndarray:
        """One uniform time per row inside that client's window this month."""
        span = (self.win.hi - self.win.lo)[rows]
        return self.win.lo[rows] + (self.rng.random(len(rows)) * span).astype(np.int64)
