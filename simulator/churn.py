"""The hidden monthly churn hazard and the churn events it produces.

The hazard for month m is a logistic function of signals a specialist could observe in
the raw tables strictly before the month starts (last months' logins, overdue debt,
the last competitor diagnostics, training coverage, renewal period, recent key-user
change, tenure, segment ...) plus a small unobservable noise. Effects are non-linear
(saturating activity, thresholds) and interact (a competitor matters mostly when activity
is low, debt mostly for small clients), so an additive rule captures only part of it.
The intercept is solved each month so the mean hazard equals the target churn rate.
Each churner's type and reason group follow the driver that contributed most.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features.contract import CATEGORIES, CHURN_TYPES, REASON_GROUPS
from simulator.billing import Billing
from simulator.calendar import US_PER_DAY, Calendar
from simulator.config import HazardConfig, SimulateConfig
from simulator.population import Population
from simulator.state import State
from simulator.users import Users
from simulator.write import Sink

if TYPE_CHECKING:
    from simulator.treatment import Treatment

# driver -> (churn type shares, reason group shares)
DRIVERS: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "debt": ({"debt_suspension": 1.0}, {"financial_difficulties": 0.9, "other": 0.1}),
    "competitor": (
        {"termination": 0.85, "suspension": 0.15},
        {"changed_preferences": 0.9, "product_quality": 0.1},
    ),
    "engagement": (
        {"termination": 0.6, "suspension": 0.4},
        {"service_quality": 0.75, "product_quality": 0.15, "other": 0.1},
    ),
    "training": (
        {"termination": 0.6, "suspension": 0.4},
        {"service_quality": 0.8, "product_quality": 0.2},
    ),
    "contacts": (
        {"termination": 0.8, "suspension": 0.2},
        {"not_decision_maker": 0.85, "other": 0.15},
    ),
    "new_client": (
        {"suspension": 0.6, "termination": 0.4},
        {"product_quality": 0.4, "service_quality": 0.3, "financial_difficulties": 0.3},
    ),
    "renewal": (
        {"termination": 0.9, "suspension": 0.1},
        {"changed_preferences": 0.4, "product_quality": 0.3, "financial_difficulties": 0.3},
    ),
    "base": (
        {"termination": 0.7, "suspension": 0.3},
        {"uncontrollable": 0.35, "relocation": 0.25, "other": 0.25, "product_quality": 0.15},
    ),
}
BASE_WEIGHT = 0.8  # how often churn is put down to nothing observable
DEBT_SUSPENSION_DAY = 21


def signals(
    cfg: SimulateConfig,
    cal: Calendar,
    m: int,
    pop: Population,
    st: State,
    users: Users,
    bill: Billing,
) -> dict[str, np.ndarray]:
    """Observable signals at the first instant of month ``m`` (only earlier events)."""
    ms = int(cal.month_start(m))
    h = st.history
    overdue, oldest_due, paid_end = bill.at(ms)
    norm = np.array([cfg.training_norm[c] for c in CATEGORIES])[pop.category]
    logins1 = h.last("logins", 1).astype(float)
    base2 = (h.last("logins", 3) - h.last("logins", 1)) / 2.0
    return {
        "logins": logins1,
        "falling": (base2 >= 4) & (logins1 < 0.4 * base2),
        "overdue": overdue > 0,
        "overdue_days": np.where(overdue > 0, (ms - np.minimum(oldest_due, ms)) / US_PER_DAY, 0.0),
        "competitor_yes": st.competitor_seen == 1,
        "competitor_unknown": st.competitor_seen == 3,
        "norm_not_met": users.coverage(ms, pop.n_users) < norm,
        "renewal": paid_end <= ms + 30 * US_PER_DAY,
        "no_kits": h.last("kits", 3) == 0,
        "no_hotline_cabinet": (h.last("hotline", 2) + h.last("cabinet", 3)) == 0,
        "key_user_change": ms - st.key_user_change < cfg.hazard.change_window_days * US_PER_DAY,
        "dm_change": ms - st.dm_change < cfg.hazard.change_window_days * US_PER_DAY,
        "new": ms - pop.contract_start < cfg.hazard.new_client_days * US_PER_DAY,
        "short_advance": (pop.first_advance >= 1) & (pop.first_advance <= 3),
        "clicks": h.last("clicks", 3) > 0,
        "webinars2": h.last("webinars", 6) >= 2,
        "no_contact": ms - st.last_contact > cfg.hazard.no_contact_days * US_PER_DAY,
    }


def contributions(
    hz: HazardConfig, s: dict[str, np.ndarray], pop: Population
) -> dict[str, np.ndarray]:
    """Logit contributions grouped by driver (the reason a churner will give)."""
    low = np.clip((hz.low_login_threshold - s["logins"]) / hz.low_login_threshold, 0, 1)
    small = ~pop.large
    f = {k: v.astype(float) for k, v in s.items()}
    return {
        "engagement": hz.low_activity * low
        + hz.zero_logins * (s["logins"] == 0)
        + hz.falling_activity * f["falling"]
        + hz.no_kit_updates * f["no_kits"]
        + hz.neither_hotline_nor_cabinet * f["no_hotline_cabinet"]
        + hz.no_contact * f["no_contact"]
        + hz.newsletter_clicks * f["clicks"]
        + hz.webinars_2plus * f["webinars2"],
        "debt": f["overdue"] * (hz.overdue_debt + hz.overdue_debt_small_extra * small)
        + hz.long_overdue * (s["overdue_days"] > hz.long_overdue_days)
        + hz.very_long_overdue * (s["overdue_days"] > hz.very_long_overdue_days),
        "competitor": f["competitor_yes"]
        * (hz.competitor_yes + hz.competitor_yes_low_activity * low)
        + hz.competitor_unknown * f["competitor_unknown"],
        "training": hz.training_norm_not_met * f["norm_not_met"],
        "contacts": hz.key_user_change * f["key_user_change"]
        + hz.decision_maker_change * f["dm_change"],
        "new_client": f["new"] * (hz.new_client + hz.new_client_short_advance * f["short_advance"]),
        "renewal": f["renewal"] * (hz.renewal_arrived + hz.renewal_low_activity * low),
        "base": hz.large_segment * pop.large + hz.category_a * (pop.category == 0),
    }


def calibrate(x: np.ndarray, target: float) -> float:
    """Intercept b with mean(sigmoid(b + x)) == target (bisection; the mean is monotone in b)."""
    if x.size == 0:
        return 0.0
    lo, hi = -20.0, 10.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(mid + x)))) > target:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1)."""
    cum = np.cumsum(probs, axis=1)
    return np.minimum(
        (cum < rng.random(len(probs))[:, None] * cum[:, -1:]).sum(axis=1), probs.shape[1] - 1
    )


def churn_month(
    cfg: SimulateConfig,
    cal: Calendar,
    m: int,
    pop: Population,
    st: State,
    users: Users,
    bill: Billing,
    rng: np.random.Generator,
    sink: Sink,
    treatment: Treatment | None = None,
) -> dict[str, int]:
    """Hazard for every client at risk in month m, the truth row, and this month's churners.

    ``treatment`` (the closed loop's calls, :mod:`simulator.treatment`) cuts the hazard of
    treated clients after the intercept is solved; it draws nothing from ``rng``."""
    ms, me = int(cal.month_start(m)), int(cal.month_start(m + 1))
    risk = np.nonzero((pop.contract_start < ms) & (st.churn_us >= ms))[0]
    contrib = contributions(cfg.hazard, signals(cfg, cal, m, pop, st, users, bill), pop)
    x = sum(contrib.values()) + pop.frailty + cfg.hazard.month_noise_sd * rng.standard_normal(pop.n)
    b = calibrate(x[risk], cfg.target_monthly_churn)
    hazard = 1 / (1 + np.exp(-(b + x[risk])))
    if treatment is not None:
        hazard = treatment.month(m, risk, b + x, contrib, hazard)
    sink.write_truth(pop.client_id[risk], ms, hazard)
    gone = risk[rng.random(len(risk)) < hazard]
    names = list(DRIVERS)
    weights = np.stack([np.maximum(contrib[k][gone], 0) for k in names], axis=1)
    weights[:, names.index("base")] = BASE_WEIGHT
    driver = _pick(rng, weights)
    ctype, reason = np.zeros(len(gone), np.int64), np.zeros(len(gone), np.int64)
    for d, name in enumerate(names):
        sel = np.nonzero(driver == d)[0]
        types, reasons = DRIVERS[name]
        tp = np.tile([types.get(t, 0.0) for t in CHURN_TYPES], (len(sel), 1))
        rp = np.tile([reasons.get(r, 0.0) for r in REASON_GROUPS], (len(sel), 1))
        ctype[sel], reason[sel] = _pick(rng, tp), _pick(rng, rp)
    debt = driver == names.index("debt")
    ts = ms + (rng.random(len(gone)) * (me - ms)).astype(np.int64)
    ts = np.where(debt, ms + (DEBT_SUSPENSION_DAY - 1) * US_PER_DAY, ts)
    ts = (ts // US_PER_DAY) * US_PER_DAY  # the CRM records the day
    ts = np.maximum(ts, pop.contract_start[gone] + US_PER_DAY)
    st.churn_us[gone] = ts
    bill.forfeit(gone[debt], ms)
    reason = np.where(rng.random(len(gone)) < 0.05, -1, reason)
    sink.events(
        "churn_events",
        pop.client_id[gone],
        ts,
        churn_type=(ctype, CHURN_TYPES),
        reason_group=(reason, REASON_GROUPS),
    )
    return {"at_risk": len(risk), "churned": len(gone), "hazard_sum": float(hazard.sum())}
