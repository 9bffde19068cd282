"""The honest reference: the true probability of churning within the label horizon.

For every client active at a monthly ``as_of`` D (contract started before D, not churned
before D: exactly the snapshot's rows) the generator writes

    P(first churn in [D, D + horizon) | the generator's whole state at D)

to ``_truth/horizon_probability.parquet`` (client_id, as_of, probability). The label of a
snapshot row is the realisation of exactly this event, so this probability is the best
score any model could have: conditioning on the full hidden state (latent engagement,
finances, frailty, ...) is at least as informative as anything computable from the
exported events before D. It is a ceiling in expectation, up to sampling noise on a
finite test block and the Monte Carlo error below.

**Why Monte Carlo, not a formula.** The monthly hazard is a logistic function of the
*realised* history (Poisson login counts, invoice payment draws, diagnostics answers,
trainings, key-user changes ...), and the intercept is re-solved each month over the
whole population. The hazard of months after D therefore depends on random events not
yet drawn at D, through thresholds and interactions; there is no closed form. So the
future is simulated: the state at D (population, latent state, users, invoices) is
copied ``paths`` times and each copy is run forward with the generator's own month step
(the same code, so every mechanism - treatment or behaviour shifts added later included
- is integrated), with its own random stream, discarding the events.

**Estimator (Rao-Blackwellised).** In a path, a client at risk in month k churns with
probability h_k, the hazard the generator computes, on a day that is uniform over the
month - or the 21st when the churn is put down to debt (``simulator/churn.py``). The path
contributes ``sum_k 1[alive at the start of k] * h_k * f_k`` instead of its 0/1 outcome,
where ``f_k`` is the probability that a churn in month k falls before D + horizon (1 for
a month wholly inside the window; for the month the window ends in, the share of its
days inside plus the debt-on-the-21st case, :func:`window_share`). The expectation is
exactly the window probability, and replacing draws by probabilities removes the
binomial noise of the draws (the first month's term is nearly exact; what is left is
the spread of future hazards and survival over paths). The estimate is the mean over
paths, clipped to [0, 1].

**Separate random stream.** Each as_of month and chunk of paths uses its own
``PCG64(SeedSequence(seed, spawn_key=(STREAM, month, chunk)))``; the main generator's
stream is never touched, so the contract tables are byte-identical with or without the
reference. Paths are run in chunks of at most ``max_replicas`` copied clients to bound
memory; each chunk holds whole copies of the population, so the monthly intercept is
solved over a full population as in the real run.

Only as_of months whose whole horizon lies inside the simulated window are written (the
others have no complete label either). Cost: about ``paths x clients x 3.3 months`` of
simulated client-months per as_of month (the event writing skipped).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from churn.config import TrainingConfig
from simulator.billing import Billing
from simulator.calendar import US_PER_DAY, Calendar
from simulator.churn import BASE_WEIGHT, DEBT_SUSPENSION_DAY, DRIVERS, contributions, signals
from simulator.config import SimulateConfig
from simulator.population import Population
from simulator.state import History, State
from simulator.treatment import Listings, Plan, Treatment
from simulator.truth import HORIZON_ESTIMATOR, HORIZON_SCHEMA, TRUTH_DIR, TRUTH_HORIZON_FILE
from simulator.users import Users

STREAM = 0x5EF  # spawn-key tag of the reference's random streams ("ref")
SCHEMA = HORIZON_SCHEMA
Step = Callable[..., Any]  # generate._month(cfg, cal, m, pop, st, users, bill, rng, sink, t)


class _Capture:
    """A sink stand-in for a forward path: keeps each month's hazards, drops every event."""

    def __init__(self) -> None:
        self.hazards: list[tuple[int, np.ndarray, np.ndarray]] = []  # (month start, row, h)

    def write_truth(self, client_id: np.ndarray, month_us: int, hazard: np.ndarray) -> None:
        self.hazards.append((int(month_us), np.asarray(client_id), np.asarray(hazard, float)))

    def events(self, *_: Any, **__: Any) -> None:
        return None

    def write(self, *_: Any, **__: Any) -> None:
        return None


def _tile(value: Any, n: int, copies: int) -> Any:
    """``copies`` stacked copies of a per-client array (first axis ``n``); else unchanged."""
    if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n:
        return np.tile(value, (copies,) + (1,) * (value.ndim - 1))
    return value


def _tiled_object(obj: Any, n: int, copies: int) -> Any:
    """A shallow copy of ``obj`` whose per-client arrays are tiled and whose logs are empty.

    Lists are the generator's output logs (users registered, demoted ...), which a forward
    path never writes: they start empty instead of being shared with the real run.
    """
    out = copy.copy(obj)
    names = [f.name for f in fields(obj)] if is_dataclass(obj) else list(vars(obj))
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, History):
            value = _tiled_history(value, n, copies)
        elif isinstance(value, list):
            value = []
        else:
            value = _tile(value, n, copies)
        object.__setattr__(out, name, value)
    return out


def _tiled_history(h: History, n: int, copies: int) -> History:
    out = copy.copy(h)
    out.counts = {k: _tile(v, n, copies) for k, v in h.counts.items()}
    out._month = {k: _tile(v, n, copies) for k, v in h._month.items()}
    return out


def replicate(
    pop: Population, st: State, users: Users, bill: Billing, copies: int
) -> tuple[Population, State, Users, Billing]:
    """``copies`` independent copies of the whole client base, stacked along the client axis.

    Copy c of client i is row ``c * n + i``; its ``client_id`` is that row number (the
    forward path writes nothing, the id only maps a hazard back to its row). Every array
    is new, so running the copies forward never changes the real run's state.
    """
    n = pop.n
    rpop = _tiled_object(pop, n, copies)
    rpop.client_id = np.arange(n * copies, dtype=np.int64)
    rst = _tiled_object(st, n, copies)
    rusers = _tiled_object(users, n, copies)
    rbill = _tiled_object(bill, n, copies)
    inv = bill.invoices
    offset = np.repeat(np.arange(copies, dtype=np.int64) * n, len(inv["client"]))
    tiled = {k: np.tile(v, copies) for k, v in inv.items()}
    tiled["client"] = tiled["client"] + offset
    rbill.pop, rbill._parts, rbill._all = rpop, [tiled], None
    return rpop, rst, rusers, rbill


class HorizonTruth:
    """Writes the reference probability for each labelled monthly ``as_of`` of one run."""

    def __init__(
        self,
        cfg: SimulateConfig,
        cal: Calendar,
        out_dir: Path,
        *,
        horizon_days: int,
        paths: int,
        max_replicas: int,
        plan: Plan | None = None,
    ) -> None:
        self.cfg, self.cal, self.plan = cfg, cal, plan
        self.horizon_us = int(horizon_days) * US_PER_DAY
        self.paths, self.max_replicas = int(paths), int(max_replicas)
        self.meta = {
            b"horizon_days": str(int(horizon_days)).encode(),
            b"paths": str(self.paths).encode(),
            b"estimator": HORIZON_ESTIMATOR,
        }
        path = Path(out_dir) / TRUTH_DIR / TRUTH_HORIZON_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = pq.ParquetWriter(
            path, SCHEMA.with_metadata(self.meta), compression=cfg.compression
        )

    def wants(self, m: int) -> bool:
        """Window months whose whole horizon ends inside the simulated window."""
        return m >= 0 and int(self.cal.month_start(m)) + self.horizon_us <= self.cal.window_end

    def fork(
        self, m: int, pop: Population, st: State, users: Users, bill: Billing, step: Step
    ) -> None:
        """Estimate and write the horizon probability at the start of month ``m``.

        Call it before the real run's step for month ``m``: the state is then exactly the
        state at the first instant of the month (the snapshot's ``as_of``).
        """
        if not self.wants(m):
            return
        ms = int(self.cal.month_start(m))
        active = np.nonzero((pop.contract_start < ms) & (st.churn_us >= ms))[0]
        if len(active) == 0:
            return
        total = np.zeros(pop.n)
        per_chunk = max(1, self.max_replicas // max(pop.n, 1))
        done, chunk = 0, 0
        while done < self.paths:
            copies = min(per_chunk, self.paths - done)
            total += self._run(m, pop, st, users, bill, step, copies, chunk)
            done, chunk = done + copies, chunk + 1
        prob = np.clip(total[active] / self.paths, 0.0, 1.0)
        batch = pa.Table.from_arrays(
            [
                pa.array(pop.client_id[active], pa.int64()),
                pa.array(np.full(len(active), ms, np.int64), SCHEMA.field("as_of").type),
                pa.array(prob, pa.float64()),
            ],
            schema=self.writer.schema,
        )
        self.writer.write_table(batch)

    def _run(
        self,
        m: int,
        pop: Population,
        st: State,
        users: Users,
        bill: Billing,
        step: Step,
        copies: int,
        chunk: int,
    ) -> np.ndarray:
        """Sum over ``copies`` forward paths of each client's window-churn contribution."""
        seq = np.random.SeedSequence(self.cfg.seed, spawn_key=(STREAM, m, chunk))
        rng = np.random.Generator(np.random.PCG64(seq))
        rpop, rst, rusers, rbill = replicate(pop, st, users, bill, copies)
        treatment = replicated_treatment(self.plan, self.cal, pop.client_id, copies, before=m)
        sink = _Capture()
        end = int(self.cal.month_start(m)) + self.horizon_us
        share: dict[int, np.ndarray] = {}  # month start -> P(churn day in window | churn)
        k = m
        while k < self.cfg.months and int(self.cal.month_start(k)) < end:
            if int(self.cal.month_start(k + 1)) > end:  # the window ends inside month k
                share[int(self.cal.month_start(k))] = window_share(
                    self.cfg, self.cal, k, rpop, rst, rusers, rbill, end
                )
            step(self.cfg, self.cal, k, rpop, rst, rusers, rbill, rng, sink, treatment)
            k += 1
        n = pop.n
        out = np.zeros(n)
        for month_us, idx, h in sink.hazards:
            f = share[month_us][idx] if month_us in share else 1.0
            out += np.bincount(idx % n, weights=h * f, minlength=n)
        return out

    def close(self) -> None:
        self.writer.close()


def replicated_treatment(
    plan: Plan | None, cal: Calendar, client_id: np.ndarray, copies: int, *, before: int
) -> Treatment | None:
    """The closed loop's calls made before month ``before``, bound to the copied base.

    Their effect on the hazard outlasts ``as_of`` (part of the state); calls listed later
    are the future and are left out, so with a call plan the reference reads "given the
    state at as_of, with no new calls".
    """
    if plan is None:
        return None
    lst = plan.listings
    past = cal.month_of(lst.as_of_us) < before if len(lst) else np.zeros(0, dtype=bool)
    pos = np.searchsorted(client_id, lst.client_id[past])  # ids are sorted, the plan checked
    n = len(client_id)
    rows = (np.arange(copies, dtype=np.int64)[:, None] * n + pos[None, :]).ravel()
    tiled = Listings(
        client_id=rows,
        **{
            f: np.tile(getattr(lst, f)[past], copies)
            for f in ("as_of_us", "called", "reached", "accepted", "rho")
        },
    )
    return Plan(tiled, plan.cfg, plan.horizon_days).bind(cal, np.arange(n * copies))


def window_share(
    cfg: SimulateConfig,
    cal: Calendar,
    k: int,
    pop: Population,
    st: State,
    users: Users,
    bill: Billing,
    end_us: int,
) -> np.ndarray:
    """P(the churn day falls before ``end_us`` | the client churns in month ``k``), per row.

    ``churn_month`` dates a churner uniformly over the month's days, except that a debt
    driver (picked with probability weight / sum of weights, the weights it uses) means
    a debt suspension on the 21st. Computed from the state at the month's start, as
    ``churn_month`` sees it.
    """
    ms, me = int(cal.month_start(k)), int(cal.month_start(k + 1))
    contrib = contributions(cfg.hazard, signals(cfg, cal, k, pop, st, users, bill), pop)
    weights = {name: np.maximum(contrib[name], 0.0) for name in DRIVERS}
    weights["base"] = np.full(pop.n, BASE_WEIGHT)
    p_debt = weights["debt"] / sum(weights.values())
    days_in = np.clip((end_us - ms) / (me - ms), 0.0, 1.0)  # whole days: both at midnight
    debt_in = float(ms + (DEBT_SUSPENSION_DAY - 1) * US_PER_DAY < end_us)
    return p_debt * debt_in + (1.0 - p_debt) * days_in


def open_reference(
    cfg: SimulateConfig, cal: Calendar, out_dir: Path, plan: Plan | None = None
) -> HorizonTruth | None:
    """The reference writer for this run, or None when ``reference.paths`` is 0 (off) or
    the base has more than ``reference.max_clients`` clients (too costly; see the config).

    ``reference.horizon_days`` is filled from ``training.horizon_days`` when the whole
    config is loaded; a bare ``SimulateConfig`` falls back to the training default.
    """
    ref = cfg.reference
    if ref.paths <= 0 or cfg.clients > ref.max_clients:
        return None
    return HorizonTruth(
        cfg,
        cal,
        out_dir,
        horizon_days=ref.horizon_days or TrainingConfig().horizon_days,
        paths=ref.paths,
        max_replicas=ref.max_replicas,
        plan=plan,
    )
