"""The generic generator's churn mechanism, declared once: the month's activity drawn from
the latent engagement and the renewal hazard computed from it.

Both the generator's month step (``simulator/generic.py``) and the forward paths of its
reference (``simulator/generic_horizon.py``) call these, so the reference integrates exactly
the mechanism that wrote the data. Every function broadcasts: per-customer arrays of shape
``(n,)`` or a block of forward paths ``(paths, n)`` against per-customer attributes ``(n,)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

ACTIVITY_TYPES = ("login", "export", "support_ticket")
BASE_RATES = {"login": 10.0, "export": 2.5, "support_ticket": 0.35}  # per month at engagement 0


def month_counts(
    rng: np.random.Generator, eng: np.ndarray, plan: np.ndarray
) -> dict[str, np.ndarray]:
    """The month's activity counts per type, Poisson around the engagement (drawn in the
    order of :data:`ACTIVITY_TYPES`: the generator's stream depends on it)."""
    return {
        "login": rng.poisson(BASE_RATES["login"] * np.exp(eng) * (1 + 0.3 * plan)),
        "export": rng.poisson(BASE_RATES["export"] * np.exp(1.2 * eng)),
        "support_ticket": rng.poisson(BASE_RATES["support_ticket"] * np.exp(-0.8 * eng)),
    }


def renewal_logit(
    w: Mapping[str, float],
    counts: Mapping[str, np.ndarray],
    *,
    amount: np.ndarray,
    median: np.ndarray,
    plan: np.ndarray,
    n_users: np.ndarray,
    tenure: np.ndarray,
) -> np.ndarray:
    """The renewal logit before the month's intercept: the month's activity, the price, the
    seats left unused and the tenure in months (see ``GenericSimConfig.weights``)."""
    return (
        w["login"] * np.log1p(counts["login"])
        + w["export"] * np.log1p(counts["export"])
        + w["support_ticket"] * np.log1p(counts["support_ticket"])
        + w["price_shock"] * (amount > 1.4 * median)
        + w["few_logins_many_seats"] * ((plan > 0) & (counts["login"] < 2 * n_users))
        + w["young"] * (tenure < 6)
        + w["silent_with_tickets"] * ((counts["login"] == 0) & (counts["support_ticket"] > 0))
    )


def monthly_hazard(logit: np.ndarray, intercept: float) -> np.ndarray:
    """The month's churn probability of a monthly payer (``_truth/hazard.parquet``)."""
    return 1 / (1 + np.exp(-(logit + intercept)))


def decision_hazard(h_month: np.ndarray, period: np.ndarray) -> np.ndarray:
    """The probability of leaving at a renewal: a yearly payer renews once for twelve
    months of monthly hazard."""
    return np.where(period == 12, 1 - (1 - h_month) ** 12, h_month)


def solve_intercept(logit: np.ndarray, target: float) -> float:
    """The shift b with mean(sigmoid(logit + b)) == target (bisection, vectorised)."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(logit + mid)))) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
