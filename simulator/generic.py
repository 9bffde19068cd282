"""A generator of subscription + activity logs with a known churn mechanism.

The second kind of source (``features/generic``) needs data the centre's generator does not
write: customers with subscriptions (monthly or yearly, renewed as new rows, sometimes a few
days late), activity logs of several types with values and users, and customers who leave
and come back. The churn mechanism is known, so tests can check that a model trained on the
generic signals ranks churners far above chance and beats a logistic baseline:

* each customer has a latent engagement (AR(1) month to month) that drives activity;
* at each renewal (monthly payers every month, yearly payers every 12 months) the customer
  leaves with a hazard on the logit scale that **falls** with logins and exports, **rises**
  with support tickets, with the amount paid (relative to the plan's median) and for young
  customers, and jumps when logins stop while tickets go on (an interaction a linear model
  cannot draw);
* a leaver comes back after some months with probability ``return_share`` (a new period).

Vectorised numpy: one step per month over all customers, events expanded with
``np.repeat``. One ``numpy.random.Generator(PCG64(seed))`` in a fixed order: the same config
gives the same bytes. The written column names are this generator's own (``customer_id``,
``event_time`` ...), mapped by ``configs/sources/generic_demo.yaml`` like any foreign export.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.generic_horizon import AsOfState, Trace, horizon_probability
from simulator.generic_mechanism import (
    ACTIVITY_TYPES,
    decision_hazard,
    month_counts,
    monthly_hazard,
    renewal_logit,
    solve_intercept,
)
from simulator.truth import (
    HORIZON_ESTIMATOR,
    HORIZON_SCHEMA,
    TRUTH_DIR,
    TRUTH_HAZARD_FILE,
    TRUTH_HORIZON_FILE,
)

PLANS = ("basic", "team", "business")
COUNTRIES = ("RU", "KZ", "BY", "AM")


@dataclass(frozen=True)
class GenericSimConfig:
    """What the generic generator draws; overrides make a copy (``with_``)."""

    customers: int = 2000
    months: int = 24
    seed: int = 7
    start: date = date(2024, 1, 1)
    yearly_share: float = 0.3
    late_renewal_share: float = 0.06  # next subscription starts 1-6 days after the end
    late_renewal_max_days: int = 6
    return_share: float = 0.25  # leavers who come back later
    return_months: tuple[int, int] = (2, 9)
    new_customer_share: float = 0.3  # customers whose first subscription starts in the window
    target_monthly_churn: float = 0.025
    engagement_ar: float = 0.8
    engagement_sd: float = 0.45
    # the reference (simulator/generic_horizon.py): the label's horizon (the source spec's
    # churn.horizon_days; `churn simulate-generic` passes training.horizon_days) and its
    # forward paths per as_of month (0: not computed, no horizon_probability.parquet)
    horizon_days: int = 90
    reference_paths: int = 200
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "login": -0.45,  # per log1p(count in the month)
            "export": -0.35,
            "support_ticket": 0.45,
            "price_shock": 1.0,  # amount above 1.4x the plan's median (a step, not a slope)
            "young": 0.9,  # tenure under 6 months (a step)
            "silent_with_tickets": 1.6,  # no logins but tickets this month
            "few_logins_many_seats": 1.0,  # under 2 logins per user on a team/business plan
        }
    )

    def with_(self, **changes: object) -> GenericSimConfig:
        return replace(self, **changes)


def _month_start(start: date, m: int) -> pd.Timestamp:
    y, mo = divmod(start.month - 1 + m, 12)
    return pd.Timestamp(year=start.year + y, month=mo + 1, day=1, tz="UTC")


@dataclass
class _Out:
    subs: list[dict[str, np.ndarray]] = field(default_factory=list)
    acts: list[dict[str, np.ndarray]] = field(default_factory=list)
    hazard: list[dict[str, np.ndarray]] = field(default_factory=list)


def _events(rng, cfg, ids, users, n_users, counts, m0, m1, kind, out) -> None:
    """Events of one type in [m0, m1): ``counts[i]`` for customer ``ids[i]``."""
    total = int(counts.sum())
    if not total:
        return
    cid = np.repeat(ids, counts)
    span = (m1 - m0).total_seconds()
    offs = rng.uniform(0, span, total)
    ts = m0 + pd.to_timedelta(np.floor(offs), unit="s")
    # users: the first user of a customer is the most active (Zipf-like shares)
    nu = np.repeat(n_users, counts)
    u = np.minimum(np.floor(rng.pareto(1.2, total)).astype(np.int64), nu - 1)
    user = np.repeat(users, counts) + u
    value = np.full(total, np.nan)
    if kind == "export":
        value = np.round(rng.lognormal(2.0, 0.8, total), 1)  # pages exported
    out.acts.append(
        {
            "customer_id": cid,
            "event_time": ts.to_numpy(),
            "event_type": np.full(total, kind, dtype=object),
            "amount": value,
            "user_id": user,
        }
    )


def generate(cfg: GenericSimConfig) -> dict[str, pd.DataFrame]:
    """Tables in this generator's own column names: customers, subscriptions, events,
    ``_truth_hazard`` (customer_id, month, hazard: the true monthly churn probability at the
    month's renewal) and, unless ``reference_paths`` is 0, ``_truth_horizon`` (client_id,
    as_of, probability: the true probability that the active period ends within
    ``horizon_days`` given the state at as_of, :mod:`simulator.generic_horizon`)."""
    rng = np.random.Generator(np.random.PCG64(cfg.seed))
    n = cfg.customers
    ids = np.arange(1, n + 1, dtype=np.int64) + 500_000
    plan = rng.choice(len(PLANS), n, p=[0.5, 0.35, 0.15])
    median = np.array([20.0, 60.0, 200.0])[plan]
    amount = np.round(median * np.exp(rng.normal(0, 0.35, n)), 2)
    yearly = rng.random(n) < cfg.yearly_share
    period = np.where(yearly, 12, 1)
    n_users = np.clip(rng.poisson([1.5, 5, 15][0], n) + 1 + plan * 3, 1, 40)
    first_user = 1 + np.concatenate([[0], np.cumsum(n_users)[:-1]]).astype(np.int64)
    new = rng.random(n) < cfg.new_customer_share
    start_month = np.where(new, rng.integers(0, cfg.months, n), -rng.integers(1, 48, n))
    eng = rng.normal(0, cfg.engagement_sd, n)
    w = cfg.weights
    active = np.zeros(n, dtype=bool)
    period_start_month = np.full(n, -10_000)
    sub_start = np.full(
        n, np.datetime64("NaT"), dtype="datetime64[us]"
    )  # current subscription's start
    renew_due = np.full(n, 10_000)  # month index of the next renewal decision
    back_at = np.full(n, 10_000)  # month a leaver returns
    out = _Out()
    trace = Trace(
        ids=ids,
        plan=plan,
        amount=amount,
        median=median,
        n_users=n_users,
        period=period,
        month_starts=pd.DatetimeIndex([_month_start(cfg.start, k) for k in range(cfg.months + 1)]),
    )
    next_sub_id = 1

    def open_subs(who: np.ndarray, m: int, late: np.ndarray) -> None:
        nonlocal next_sub_id
        if not len(who):
            return
        m0 = _month_start(cfg.start, m)
        s = m0.to_datetime64() + late.astype("timedelta64[D]")
        sub_start[who] = s
        renew_due[who] = m + period[who]

    for m in range(cfg.months):
        m0, m1 = _month_start(cfg.start, m), _month_start(cfg.start, m + 1)
        # arrivals: first subscriptions (legacy ones start before the window) and returns
        if m == 0:
            first = np.flatnonzero(start_month < 0)
            active[first] = True
            period_start_month[first] = start_month[first]
            open_subs(first, 0, np.zeros(len(first), dtype=np.int64))
            # yearly payers of legacy contracts renew in any month, not all in month 12
            yearly_first = first[period[first] == 12]
            renew_due[yearly_first] = rng.integers(1, 13, len(yearly_first))
            legacy_start = np.array(
                [_month_start(cfg.start, int(k)).to_datetime64() for k in start_month[first]]
            )
            out.subs.append(
                {
                    "sub_key": np.arange(next_sub_id, next_sub_id + len(first)),
                    "customer_id": ids[first],
                    "start_date": legacy_start,
                    "end_date": np.full(len(first), m0.to_datetime64()),
                    "price": amount[first],
                    "billing": period[first],
                }
            )
            next_sub_id += len(first)
            trace.states.append(  # as_of = the window's start: legacy customers, no decision
                AsOfState(
                    month=0,
                    pos=first,
                    eng=eng[first].copy(),
                    pending=np.full(len(first), np.nan),
                    next_due=renew_due[first].copy(),
                    period_start=period_start_month[first].copy(),
                )
            )
        arriving = np.flatnonzero(~active & ((start_month == m) | (back_at == m)))
        if len(arriving):
            returning = back_at[arriving] == m
            eng[arriving[returning]] = rng.normal(0, cfg.engagement_sd, int(returning.sum()))
            active[arriving] = True
            period_start_month[arriving] = m
            back_at[arriving] = 10_000
            open_subs(arriving, m, rng.integers(0, 20, len(arriving)))
        idx = np.flatnonzero(active)
        # the month's activity, driven by engagement
        eng[idx] = cfg.engagement_ar * eng[idx] + rng.normal(0, cfg.engagement_sd, len(idx))
        e = eng[idx]
        counts = month_counts(rng, e, plan[idx])
        for kind in ACTIVITY_TYPES:
            _events(
                rng, cfg, ids[idx], first_user[idx], n_users[idx], counts[kind], m0, m1, kind, out
            )
        # renewal decisions at the month's end for subscriptions that end now
        due = renew_due[idx] == m + 1
        tenure = m + 1 - period_start_month[idx]
        logit = renewal_logit(
            w,
            counts,
            amount=amount[idx],
            median=median[idx],
            plan=plan[idx],
            n_users=n_users[idx],
            tenure=tenure,
        )
        b = solve_intercept(logit, cfg.target_monthly_churn)
        h_month = monthly_hazard(logit, b)
        h = decision_hazard(h_month, period[idx])
        out.hazard.append(
            {"customer_id": ids[idx], "month": np.full(len(idx), m), "hazard": h_month}
        )
        trace.intercepts.append(b)
        trace.states.append(  # as_of = the next month's start; the decision due then pending
            AsOfState(
                month=m + 1,
                pos=idx,
                eng=eng[idx].copy(),
                pending=np.where(due, h, np.nan),
                next_due=renew_due[idx] + np.where(due, period[idx], 0),
                period_start=period_start_month[idx].copy(),
            )
        )
        d = idx[due]
        if not len(d):
            continue
        leave = rng.random(len(d)) < h[due]
        # close the ending subscriptions
        ends = np.full(len(d), m1.to_datetime64())
        out.subs.append(
            {
                "sub_key": np.arange(next_sub_id, next_sub_id + len(d)),
                "customer_id": ids[d],
                "start_date": sub_start[d],
                "end_date": ends,
                "price": amount[d],
                "billing": period[d],
            }
        )
        next_sub_id += len(d)
        gone = d[leave]
        active[gone] = False
        renew_due[gone] = 10_000
        comes_back = rng.random(len(gone)) < cfg.return_share
        lo, hi = cfg.return_months
        back_at[gone[comes_back]] = m + 1 + rng.integers(lo, hi + 1, int(comes_back.sum()))
        stay = d[~leave]
        late = np.where(
            rng.random(len(stay)) < cfg.late_renewal_share,
            rng.integers(1, cfg.late_renewal_max_days + 1, len(stay)),
            0,
        )
        open_subs(stay, m + 1, late)
    # subscriptions still running at the end: open-ended for monthly payers, end date for yearly
    still = np.flatnonzero(active)
    end_month = renew_due[still]
    out.subs.append(
        {
            "sub_key": np.arange(next_sub_id, next_sub_id + len(still)),
            "customer_id": ids[still],
            "start_date": sub_start[still],
            "end_date": np.array(
                [
                    _month_start(cfg.start, int(k)).to_datetime64()
                    if p == 12
                    else np.datetime64("NaT")
                    for k, p in zip(end_month, period[still], strict=True)
                ],
                dtype="datetime64[us]",
            ),
            "price": amount[still],
            "billing": period[still],
        }
    )
    frames = _frames(cfg, ids, plan, out)
    if cfg.reference_paths > 0:
        frames["_truth_horizon"] = horizon_probability(
            trace,
            horizon_days=cfg.horizon_days,
            paths=cfg.reference_paths,
            seed=cfg.seed,
            engagement_ar=cfg.engagement_ar,
            engagement_sd=cfg.engagement_sd,
            weights=cfg.weights,
        )
    return frames


def _frames(
    cfg: GenericSimConfig, ids: np.ndarray, plan: np.ndarray, out: _Out
) -> dict[str, pd.DataFrame]:
    rng = np.random.Generator(np.random.PCG64(cfg.seed + 1))
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "customer_name": [f"Customer {i}" for i in ids],
            "plan": pd.Series(np.array(PLANS)[plan], dtype="str"),
            "country": pd.Series(rng.choice(COUNTRIES, len(ids)), dtype="str"),
        }
    )
    subs = pd.concat([pd.DataFrame(s) for s in out.subs], ignore_index=True)
    for c in ("start_date", "end_date"):
        subs[c] = (
            pd.to_datetime(subs[c]).dt.tz_localize("UTC") if subs[c].dt.tz is None else subs[c]
        )
    subs = subs[subs["start_date"] < subs["end_date"].fillna(pd.Timestamp.max.tz_localize("UTC"))]
    subs = subs.sort_values(["start_date", "customer_id"], kind="stable").reset_index(drop=True)
    subs["sub_key"] = np.arange(1, len(subs) + 1, dtype=np.int64)
    events = pd.concat([pd.DataFrame(a) for a in out.acts], ignore_index=True)
    events["event_time"] = pd.to_datetime(events["event_time"], utc=True)
    events["event_type"] = events["event_type"].astype("str")
    events = events.sort_values(["event_time", "customer_id"], kind="stable").reset_index(drop=True)
    hazard = pd.concat([pd.DataFrame(h) for h in out.hazard], ignore_index=True)
    return {
        "customers": customers,
        "subscriptions": subs,
        "events": events,
        "_truth_hazard": hazard,
    }


def write(cfg: GenericSimConfig, out_dir: Path, fmt: str = "parquet") -> dict[str, int]:
    """Write the tables into ``out_dir`` as Parquet, or CSV (``fmt="csv"``: UTF-8, ISO
    times, what a spreadsheet export looks like); the truths always as Parquet under
    ``_truth/`` (``hazard.parquet``, ``horizon_probability.parquet`` with its horizon and
    paths in the file's metadata, what ``churn train --reference`` checks). Returns the rows
    per table."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt: parquet or csv, got {fmt!r}")
    out_dir = Path(out_dir)
    (out_dir / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, frame in generate(cfg).items():
        if name == "_truth_hazard":
            frame.to_parquet(out_dir / TRUTH_DIR / TRUTH_HAZARD_FILE, index=False)
        elif name == "_truth_horizon":
            meta = {
                b"horizon_days": str(cfg.horizon_days).encode(),
                b"paths": str(cfg.reference_paths).encode(),
                b"estimator": HORIZON_ESTIMATOR,
            }
            table = pa.Table.from_pandas(frame, preserve_index=False)
            pq.write_table(
                table.cast(HORIZON_SCHEMA).replace_schema_metadata(meta),
                out_dir / TRUTH_DIR / TRUTH_HORIZON_FILE,
            )
        elif fmt == "csv":
            frame.to_csv(out_dir / f"{name}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        else:
            frame.to_parquet(out_dir / f"{name}.parquet", index=False)
        rows[name] = len(frame)
    return rows
