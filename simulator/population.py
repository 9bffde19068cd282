"""The static side of the client base: who the clients are and who their users are.

Drawn once, before the month loop. Shares follow the config; fees depend on category so
that the large segment (fee > 15 000 RUB) is mostly category A; some contracts started
years before the window and some start during it (with shorter first advances).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from churn.errors import InputError
from features.contract import CATEGORIES, LARGE_SEGMENT_FEE_RUB
from simulator.calendar import US_PER_DAY, Calendar
from simulator.config import SimulateConfig

REGIONS = ("city", "north", "south", "east", "west", "suburbs")
REGION_SHARES = (0.42, 0.14, 0.13, 0.12, 0.1, 0.09)
CATEGORY_ENGAGEMENT = {"A": 0.25, "B": 0.0, "C": -0.15}
CATEGORY_TRAINING = {"A": 0.07, "B": 0.04, "C": 0.035}  # monthly chance an untrained user trains


@dataclass
class Population:
    """Per-client static attributes, arrays of length ``n`` in client order."""

    client_id: np.ndarray
    category: np.ndarray  # int index into CATEGORIES
    fee: np.ndarray
    large: np.ndarray
    remote: np.ndarray
    contract_start: np.ndarray  # us
    first_advance: np.ndarray  # months, -1 = missing in the CRM
    advance: np.ndarray  # regular advance period, months
    region: np.ndarray  # index into REGIONS, -1 = missing
    n_users: np.ndarray
    engagement_mean: np.ndarray
    finance_mean: np.ndarray  # higher = more payment trouble
    training_rate: np.ndarray
    uses_cabinet: np.ndarray
    frailty: np.ndarray  # small unobservable hazard noise per client
    check_phase: np.ndarray  # competitor diagnostics in months where (month - phase) % 6 == 0

    @property
    def n(self) -> int:
        return len(self.client_id)


def _shares(shares: dict, levels: tuple, field: str) -> np.ndarray:
    missing = [lv for lv in levels if lv not in shares]
    if missing or any(v < 0 for v in shares.values()) or sum(shares.values()) <= 0:
        raise InputError(f"simulate.{field}: need non-negative shares for {list(levels)}")
    p = np.array([float(shares[lv]) for lv in levels])
    return p / p.sum()


def _advance_choice(
    rng: np.random.Generator, shares: dict[int, float], n: int, field: str
) -> np.ndarray:
    levels = tuple(sorted(shares))
    if not levels or min(levels) < 1:
        raise InputError(f"simulate.{field}: advance periods must be >= 1 month")
    return np.array(levels, dtype=np.int64)[
        rng.choice(len(levels), n, p=_shares(shares, levels, field))
    ]


def draw_population(cfg: SimulateConfig, cal: Calendar, rng: np.random.Generator) -> Population:
    """Draw every client's static profile (vectorised over clients)."""
    n = cfg.clients
    cat = rng.choice(
        len(CATEGORIES), n, p=_shares(cfg.category_shares, CATEGORIES, "category_shares")
    )
    medians = np.array([_fee_median(cfg, c) for c in CATEGORIES])
    fee = np.round(medians[cat] * np.exp(cfg.fee_sigma * rng.standard_normal(n)), -1)
    fee = np.maximum(fee, 500.0)
    large = fee > LARGE_SEGMENT_FEE_RUB
    remote = rng.random(n) < cfg.remote_share
    start = _contract_starts(cfg, cal, rng, n)
    new_at = start >= cal.month_start(-12)  # recent contracts: a first advance is on record
    advance = _advance_choice(rng, cfg.advance_shares, n, "advance_shares")
    first = np.where(
        new_at, _advance_choice(rng, cfg.first_advance_shares, n, "first_advance_shares"), advance
    )
    missing_p = np.where(
        new_at, cfg.first_advance_missing_share * 0.5, cfg.first_advance_missing_share * 1.5
    )
    first = np.where(rng.random(n) < missing_p, -1, first)
    region = rng.choice(len(REGIONS), n, p=np.array(REGION_SHARES))
    region = np.where(rng.random(n) < cfg.region_missing_share, -1, region)
    users = np.where(large, 3 + rng.poisson(4.5, n), 1 + rng.poisson(2.2, n))
    users = np.clip(users, 1, cfg.max_users)
    cat_eng = np.array([CATEGORY_ENGAGEMENT[c] for c in CATEGORIES])
    cat_train = np.array([CATEGORY_TRAINING[c] for c in CATEGORIES])
    return Population(
        client_id=np.arange(100_001, 100_001 + n, dtype=np.int64),
        category=cat,
        fee=fee,
        large=large,
        remote=remote,
        contract_start=start,
        first_advance=first.astype(np.int64),
        advance=advance,
        region=region,
        n_users=users.astype(np.int64),
        engagement_mean=cat_eng[cat] + 0.6 * rng.standard_normal(n),
        finance_mean=np.where(large, -0.5, 0.0) + 0.8 * rng.standard_normal(n),
        training_rate=cat_train[cat] * np.exp(0.8 * rng.standard_normal(n)),
        uses_cabinet=rng.random(n) < 0.7,
        frailty=cfg.hazard.client_noise_sd * rng.standard_normal(n),
        check_phase=rng.integers(0, 6, n),
    )


def _fee_median(cfg: SimulateConfig, category: str) -> float:
    if category not in cfg.fee_median_rub or cfg.fee_median_rub[category] <= 0:
        raise InputError(f"simulate.fee_median_rub: need a positive fee for category {category}")
    return float(cfg.fee_median_rub[category])


def _contract_starts(
    cfg: SimulateConfig, cal: Calendar, rng: np.random.Generator, n: int
) -> np.ndarray:
    """Old contracts: exponential tenure before the history; new ones: uniform in the window."""
    first = int(cal.month_start(cal.first_month))
    joins = rng.random(n) < cfg.new_client_share
    tenure_days = rng.exponential(cfg.mean_tenure_years * 365.25, n) + 1.0
    tenure_days = np.minimum(tenure_days, 25 * 365.25)
    old = first - (tenure_days * US_PER_DAY).astype(np.int64)
    last = cal.month_start(cal.months - 1)  # joiners start at least a month before the end
    new = cal.window_start + (rng.random(n) * (last - cal.window_start)).astype(np.int64)
    start = np.where(joins, new, old)
    return (start // US_PER_DAY) * US_PER_DAY  # contracts start at midnight
