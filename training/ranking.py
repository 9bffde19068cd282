"""Who is called first: the call list's ranking keys, shared by the list and its evaluation.

The served call list (``serving/calllist.py``) and the test-block evaluation
(``training/evaluate.py``) must rank clients the same way, or "recall at capacity"
measures a list nobody sends. The keys live here, below both (training may not import
serving):

* ``expected_loss`` (default): expected loss in RUB **over the label horizon** =
  probability of churning within the horizon × monthly fee × horizon months
  (90 days = 2.96 months), then probability;
* ``probability``: the probability alone;
* ``expected_profit``: expected profit of a call (``training.profit.expected_profit``:
  p × value × acceptance − cost), then probability.

Ties left after the keys go to the smaller client id, so the same scores always give the
same order. A missing key (NaN) ranks last.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from training.profit import ProfitParams, client_value, expected_profit

Ranking = Literal["expected_loss", "probability", "expected_profit"]
RANKINGS: tuple[str, ...] = ("expected_loss", "probability", "expected_profit")
# each ranking's sort keys (call-list column names), best first; client id breaks the rest
RANK_KEYS: dict[str, list[str]] = {
    "expected_loss": ["expected_loss_rub", "probability"],
    "probability": ["probability"],
    "expected_profit": ["expected_profit_rub", "probability"],
}
DAYS_PER_MONTH = 365.25 / 12


def horizon_months(horizon_days: int) -> float:
    """The label horizon in months of 365.25 / 12 days (90 days = 2.957 months)."""
    return float(horizon_days) / DAYS_PER_MONTH


def expected_loss_rub(
    probability: np.ndarray, monthly_fee_rub: np.ndarray, horizon_days: int
) -> np.ndarray:
    """RUB of fees at stake over the horizon: p(churn within it) × fee × horizon months.

    The probability is of leaving at some point within the horizon, so this is an upper
    bound on the fees lost *within* the horizon (a client leaving on day 80 loses only
    the last days); it is the money the call list ranks by. A missing fee counts as 0.
    """
    fee = np.nan_to_num(np.asarray(monthly_fee_rub, dtype=float), nan=0.0)
    return np.asarray(probability, dtype=float) * fee * horizon_months(horizon_days)


def ranking_keys(
    ranking: str,
    probability: np.ndarray,
    monthly_fee_rub: np.ndarray | None,
    *,
    horizon_days: int,
    profit: ProfitParams | None = None,
) -> list[np.ndarray]:
    """The sort keys of ``ranking`` for these rows, best first (see ``RANK_KEYS``)."""
    if ranking not in RANKINGS:
        raise ValueError(f"ranking: unknown value {ranking!r}; expected one of {RANKINGS}")
    p = np.asarray(probability, dtype=float)
    if ranking == "probability":
        return [p]
    if monthly_fee_rub is None:
        raise ValueError(f"ranking {ranking!r} needs the monthly fee of each row")
    if ranking == "expected_loss":
        return [expected_loss_rub(p, monthly_fee_rub, horizon_days), p]
    if profit is None:
        raise ValueError("ranking 'expected_profit' needs the call economics (ProfitParams)")
    value = client_value(np.nan_to_num(np.asarray(monthly_fee_rub, dtype=float)), profit)
    return [expected_profit(p, value, profit), p]


def rank_order(keys: list[np.ndarray], client_id: np.ndarray) -> np.ndarray:
    """Row positions best-to-call first: keys descending, NaN last, then client id ascending."""
    cid = np.asarray(client_id)
    sort_keys = [cid]
    for k in reversed(keys):  # np.lexsort sorts by the last key first
        k = np.asarray(k, dtype=float)
        sort_keys.append(np.where(np.isnan(k), np.inf, -k))
    return np.lexsort(sort_keys)
