"""What a call list is worth: expected maximum profit (EMPC / EMPB) and the profit curve.

Risk ranking answers "who is likely to leave"; the retention department needs "whom is a
call worth". Following Verbraken, Verbeke and Baesens (2013) a call to client *i* earns

* churner who accepts the offer (probability gamma): ``value_i - incentive_i - contact``;
* churner who declines: ``-contact``;
* non-churner (takes the offer, would have stayed anyway): ``-incentive_i - contact``,

where ``value_i = monthly fee x retention.value_months`` and gamma, the acceptance rate, is
Beta distributed with mean ``retention.efficiency``. Calling the top-k clients of a
ranking earns ``gamma * A_k - B_k`` (``A_k`` = sum of ``value - incentive`` over the
churners called, ``B_k`` = contacts plus the non-churners' incentives): linear in gamma.

* **EMPC** (Verbraken 2013) is ``E_gamma[max_k (gamma A_k - B_k)] / N``: for each gamma the
  best cut, averaged over the Beta. The max of lines is a convex piecewise-linear function
  (its upper envelope), so the integral is exact: on each envelope segment
  ``integral of (a gamma + b) dBeta = a * mean * dF_{alpha+1,beta} + b * dF_{alpha,beta}``.
  Its profit-optimal share is ``E_gamma[k*(gamma)] / N``.
* **EMPB** (Janssens et al. 2022, as in the ``empulse`` package) replaces gamma by its mean
  and takes the best cut of that one curve: ``max_k (mean A_k - B_k) / N``.

The ``empulse`` package (0.13) computes both but its EMPC takes one value for every
client; ours is per client (B2B fees vary tenfold). ``tests/training/test_profit.py``
checks both against the package on its published examples and on random data where the
package's definitions apply (constant value for EMPC, incentive as a fraction of value
for EMPB). Cuts are only made between distinct scores (a tie group is called whole or not
at all), as in the package: a coarse score like the rule indicator cannot split a group.
All amounts are RUB; the metrics are RUB per client of the block, >= 0 (calling nobody
is always an option).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import beta as beta_dist

if TYPE_CHECKING:
    import pandas as pd

    from churn.config import Config, RetentionConfig


@dataclass(frozen=True)
class ProfitParams:
    """The economics of one retention call (RUB) and the acceptance-rate Beta(alpha, beta)."""

    alpha: float
    beta: float
    contact_cost: float
    incentive: float = 0.0  # fixed RUB per accepted offer
    incentive_fraction: float = 0.0  # plus this share of the client's value (EMPB's delta)
    value_months: float = 24.0

    @classmethod
    def from_config(cls, cfg: RetentionConfig) -> ProfitParams:
        a, b = cfg.beta_parameters()
        return cls(
            alpha=a,
            beta=b,
            contact_cost=cfg.contact_cost_rub,
            incentive=cfg.incentive_rub,
            value_months=cfg.value_months,
        )

    @property
    def mean_acceptance(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def incentive_of(self, value: np.ndarray) -> np.ndarray:
        return self.incentive + self.incentive_fraction * np.asarray(value, dtype=float)

    def describe(self) -> dict[str, float]:
        return {
            "acceptance_alpha": self.alpha,
            "acceptance_beta": self.beta,
            "acceptance_mean": self.mean_acceptance,
            "contact_cost_rub": self.contact_cost,
            "incentive_rub": self.incentive,
            "incentive_fraction": self.incentive_fraction,
            "value_months": self.value_months,
        }


def client_value(monthly_fee: np.ndarray | pd.Series, params: ProfitParams) -> np.ndarray:
    """RUB a retained client is worth: fee x expected remaining months (unknown fee: 0)."""
    fee = np.nan_to_num(np.asarray(monthly_fee, dtype=float), nan=0.0)
    return fee * params.value_months


def expected_profit(probability: np.ndarray, value: np.ndarray, params: ProfitParams) -> np.ndarray:
    """Expected RUB of calling each client: ``p x mean acceptance x (value - incentive) - cost``.

    The cost is the contact plus the incentive the non-churners take ((1 - p) x incentive):
    the expectation of the per-call profit above under the model's probability ``p``.
    """
    p = np.asarray(probability, dtype=float)
    v = np.asarray(value, dtype=float)
    d = params.incentive_of(v)
    return p * params.mean_acceptance * (v - d) - params.contact_cost - (1.0 - p) * d


def _cut_sums(
    y: np.ndarray, score: np.ndarray, value: np.ndarray, params: ProfitParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(called count, A, B) at every cut between tie groups, cut 0 (nobody) first."""
    y = np.asarray(y, dtype=float)
    s = np.asarray(score, dtype=float)
    s = np.where(np.isnan(s), -np.inf, s)  # a missing score is never called first
    v = np.broadcast_to(np.asarray(value, dtype=float), y.shape)
    d = params.incentive_of(v)
    order = np.argsort(-s, kind="stable")
    gain = (y * (v - d))[order]  # gamma-proportional part
    cost = (params.contact_cost + (1.0 - y) * d)[order]
    ends = np.flatnonzero(np.r_[np.diff(s[order]) != 0, True]) + 1  # end of each tie group
    a = np.r_[0.0, np.cumsum(gain)[ends - 1]]
    b = np.r_[0.0, np.cumsum(cost)[ends - 1]]
    return np.r_[0, ends], a, b


def _upper_envelope(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the lines ``a x - b`` on the upper envelope over [0, 1] and its breakpoints.

    Returns (line index per segment, segment edges: len + 1 values from 0 to 1).
    """
    intercept = -b
    order = np.lexsort((-intercept, a))  # by slope, best intercept first within a slope
    hull: list[int] = []
    for i in order:
        if hull and a[hull[-1]] == a[i]:
            continue  # same slope, lower intercept: never above
        while len(hull) >= 2:
            j, k = hull[-2], hull[-1]
            # k is useless if line i overtakes j no later than k does
            if (intercept[j] - intercept[i]) * (a[k] - a[j]) <= (intercept[j] - intercept[k]) * (
                a[i] - a[j]
            ):
                hull.pop()
            else:
                break
        hull.append(int(i))
    lines = np.asarray(hull)
    cross = (intercept[lines[:-1]] - intercept[lines[1:]]) / (a[lines[1:]] - a[lines[:-1]])
    edges = np.clip(np.r_[0.0, cross, 1.0], 0.0, 1.0)
    edges = np.maximum.accumulate(edges)
    return lines, edges


def emp_curve(
    y: np.ndarray, score: np.ndarray, value: np.ndarray, params: ProfitParams
) -> dict[str, np.ndarray]:
    """The profit curve at the mean acceptance: share called and RUB per client at each cut."""
    n_called, a, b = _cut_sums(y, score, value, params)
    n = max(len(np.asarray(y)), 1)
    return {"share": n_called / n, "profit_per_client": (params.mean_acceptance * a - b) / n}


def empc(
    y: np.ndarray, score: np.ndarray, value: np.ndarray, params: ProfitParams
) -> tuple[float, float]:
    """(EMPC in RUB per client, profit-optimal share to call), integrated over the Beta."""
    n = len(np.asarray(y))
    if n == 0:
        return 0.0, 0.0
    n_called, a, b = _cut_sums(y, score, value, params)
    lines, edges = _upper_envelope(a, b)
    cdf = beta_dist.cdf(edges, params.alpha, params.beta)
    cdf1 = beta_dist.cdf(edges, params.alpha + 1, params.beta)  # for the integral of gamma
    mass, first_moment = np.diff(cdf), params.mean_acceptance * np.diff(cdf1)
    profit = float(np.sum(a[lines] * first_moment - b[lines] * mass)) / n
    share = float(np.sum(n_called[lines] * mass)) / n
    return max(profit, 0.0), share


def empb(
    y: np.ndarray, score: np.ndarray, value: np.ndarray, params: ProfitParams
) -> tuple[float, float]:
    """(EMPB in RUB per client, profit-optimal share): best cut at the mean acceptance."""
    curve = emp_curve(y, score, value, params)
    best = int(np.argmax(curve["profit_per_client"]))
    return float(curve["profit_per_client"][best]), float(curve["share"][best])


def profit_metrics(
    y: np.ndarray, score: np.ndarray, value: np.ndarray, params: ProfitParams
) -> dict[str, Any]:
    """The four profit numbers of one score on one block (JSON-ready)."""
    empc_rub, empc_share = empc(y, score, value, params)
    empb_rub, empb_share = empb(y, score, value, params)
    return {
        "empc_rub": empc_rub,
        "empc_share": empc_share,
        "empb_rub": empb_rub,
        "empb_share": empb_share,
    }


def empc_rub(y: np.ndarray, proba: np.ndarray, rows: pd.DataFrame, cfg: Config) -> float | None:
    """EMPC (RUB per client) of a score on a block's rows; None without fees or rows.

    The promotion gate calls this to score the champion on the challenger's test block.
    """
    if len(rows) == 0 or "monthly_fee_rub" not in rows.columns:
        return None
    params = ProfitParams.from_config(cfg.retention)
    value = client_value(rows["monthly_fee_rub"].to_numpy(dtype=float), params)
    return empc(np.asarray(y, dtype=float), np.asarray(proba, dtype=float), value, params)[0]
