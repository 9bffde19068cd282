"""The generic generator's reference: the true probability that a customer's active period
ends within the label horizon, given the generator's state at each monthly ``as_of``.

``churn train --reference FILE`` scores it beside the model and the baseline, so the report
says how much of the reachable gain over chance the model takes. The file is
``_truth/horizon_probability.parquet`` (client_id, as_of, probability), the same shape and
metadata as the centre's generator writes (``simulator/horizon_truth.py``).

**The event is the label's.** A renewal decision at the end of month k that goes "leave"
closes the subscription at the first instant of month k + 1, and the customer does not
come back for at least two months, so the active period (``features/generic/periods.py``,
gaps up to ``gap_days`` = 7 bridged; late renewals are 1-6 days) ends exactly then. The
label of a row at ``as_of`` D is positive when a period end falls in ``[D, D + horizon)``.
So the reference is ``P(some renewal decision with its end in [D, D + horizon) says leave)``
for every customer the generator has active at D: everyone whose subscription covered the
month before D (the snapshot's population: a subscription started before D and not ended
before D), legacy customers at the window's first month.

**Given the state at D.** The decision falling exactly on D (end of month D - 1) has a
known probability: the month before D is past, its activity drawn. Later decisions depend
on activity not yet drawn at D (Poisson counts driven by the AR(1) engagement), through
thresholds and an interaction, so the future is simulated: ``paths`` forward paths per
as_of start from the hidden engagement at D and run the generator's own mechanism
(``simulator/generic_mechanism.py``) month by month, and

    P = 1 - (1 - p_D) * mean over paths of prod_k (1 - h_k)   (decisions k due in the window)

(Rao-Blackwellised: the path contributes its survival probability, not a 0/1 draw, so only
the spread of future activity is left as Monte Carlo noise). The month's intercept, which
the generator solves over the whole active base, is taken as realised in the run: a
population figure, moved by one customer's draws by about 1/customers. What the reference
knows that no model can: the hidden engagement and the mechanism itself; what it does not:
the future activity. It is a ceiling in expectation, up to that Monte Carlo noise.

**Separate random stream.** ``PCG64(SeedSequence(seed, spawn_key=(STREAM, month,
chunk)))`` per as_of month and chunk of paths: the generator's own stream is never
touched, so the tables are byte-identical with or without the reference. Only as_of months
whose whole horizon ends inside the simulated window are written (the others have no
complete label either); as_of dates before the window (legacy subscriptions, no activity)
have no generator state and no row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator.generic_mechanism import (
    decision_hazard,
    month_counts,
    monthly_hazard,
    renewal_logit,
)

STREAM = 0x6E5  # spawn-key tag of the generic reference's random streams
MAX_CELLS = 2_000_000  # paths x customers simulated at once (memory bound)


@dataclass(frozen=True)
class AsOfState:
    """The generator's state at the first instant of window month ``month`` (an as_of),
    for the customers active then (positions into the run's per-customer arrays)."""

    month: int
    pos: np.ndarray
    eng: np.ndarray  # latent engagement, after the previous month's step
    pending: np.ndarray  # P(leave) of the decision ending exactly at as_of; NaN: none due
    next_due: np.ndarray  # month index whose end holds the next decision if they stay
    period_start: np.ndarray  # month index the current active period started


@dataclass
class Trace:
    """What a run records for its reference: per-customer attributes, the month starts,
    each month's realised intercept and the state at every month start."""

    ids: np.ndarray
    plan: np.ndarray
    amount: np.ndarray
    median: np.ndarray
    n_users: np.ndarray
    period: np.ndarray
    month_starts: pd.DatetimeIndex  # window months 0..months (the last: the window's end)
    intercepts: list[float] = field(default_factory=list)
    states: list[AsOfState] = field(default_factory=list)


def horizon_probability(
    trace: Trace,
    *,
    horizon_days: int,
    paths: int,
    seed: int,
    engagement_ar: float,
    engagement_sd: float,
    weights: Mapping[str, float],
) -> pd.DataFrame:
    """client_id, as_of, probability for every recorded as_of whose horizon ends inside
    the window (see the module text)."""
    if horizon_days <= 0 or paths <= 0:
        raise ValueError(f"horizon_days and paths must be positive, got {horizon_days}, {paths}")
    starts = trace.month_starts
    horizon = pd.Timedelta(days=horizon_days)
    parts = []
    for st in trace.states:
        d = starts[st.month]
        if d + horizon > starts[-1] or not len(st.pos):
            continue
        # window months k whose end-of-month decision (at starts[k + 1]) falls before D + h
        months = [k for k in range(st.month, len(starts) - 1) if starts[k + 1] < d + horizon]
        survive = _mean_survival(
            trace, st, months, paths, seed, engagement_ar, engagement_sd, weights
        )
        pending = np.nan_to_num(st.pending, nan=0.0)
        parts.append(
            pd.DataFrame(
                {
                    "client_id": trace.ids[st.pos].astype(np.int64),
                    "as_of": pd.Series(np.full(len(st.pos), d), dtype="datetime64[us, UTC]"),
                    "probability": np.clip(1.0 - (1.0 - pending) * survive, 0.0, 1.0),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            {
                "client_id": pd.Series(dtype="int64"),
                "as_of": pd.Series(dtype="datetime64[us, UTC]"),
                "probability": pd.Series(dtype="float64"),
            }
        )
    return pd.concat(parts, ignore_index=True)


def _mean_survival(
    trace: Trace,
    st: AsOfState,
    months: list[int],
    paths: int,
    seed: int,
    ar: float,
    sd: float,
    weights: Mapping[str, float],
) -> np.ndarray:
    """Mean over forward paths of the probability of staying at every decision in
    ``months``, per customer of ``st``, given that the decision on as_of says stay."""
    n = len(st.pos)
    per_chunk = max(1, MAX_CELLS // max(n, 1))
    total = np.zeros(n)
    done, chunk = 0, 0
    p = st.pos
    attrs = {
        "amount": trace.amount[p],
        "median": trace.median[p],
        "plan": trace.plan[p],
        "n_users": trace.n_users[p],
    }
    period = trace.period[p]
    while done < paths:
        copies = min(per_chunk, paths - done)
        seq = np.random.SeedSequence(seed, spawn_key=(STREAM, st.month, chunk))
        rng = np.random.Generator(np.random.PCG64(seq))
        eng = np.broadcast_to(st.eng, (copies, n)).copy()
        due_at = np.broadcast_to(st.next_due, (copies, n)).copy()
        survive = np.ones((copies, n))
        for k in months:
            eng = ar * eng + rng.normal(0, sd, (copies, n))
            counts = month_counts(rng, eng, attrs["plan"])
            logit = renewal_logit(weights, counts, tenure=k + 1 - st.period_start, **attrs)
            h = decision_hazard(monthly_hazard(logit, trace.intercepts[k]), period)
            due = due_at == k + 1
            survive *= np.where(due, 1.0 - h, 1.0)
            due_at = np.where(due, due_at + period, due_at)
        total += survive.sum(axis=0)
        done, chunk = done + copies, chunk + 1
    return total / paths
