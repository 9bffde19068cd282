"""Honest evaluation of one held-out block: the model, the rule indicator and the oracle.

Everything here is a pure function of arrays (labels, scores, snapshot dates, client ids);
the pipeline decides which block is "test". Three scores are compared side by side:

* ``model``  - the calibrated churn probability;
* ``rule``   - the documented contact-necessity index (a coarse additive score, *not* a
  probability);
* ``oracle`` - the generator's hidden true hazard, the best any model could do (``None``
  when the data did not come from the generator).

Conventions that matter for reading the numbers:

* **Ties.** The rule takes only a handful of values, so "the top 10 %" or "the top K"
  usually cuts through a group of clients with the same score. We never break such ties
  by row order (that would make the metric depend on file order); the boundary group is
  included *fractionally*: if ``m`` more places are left and the boundary group has ``g``
  clients with ``h`` churners, it contributes ``m * h / g`` expected catches. This is the
  expectation under a random tie-break, deterministic and order-free. ROC-AUC counts tied
  positive/negative pairs as one half (the Mann-Whitney convention, same as sklearn).
* **Call capacity.** The specialists call ``capacity_per_week`` clients a week. A snapshot
  is taken every ``period`` days (the median gap between consecutive ``as_of`` dates; a
  single date is treated as monthly, 365.25 / 12 days), so between two snapshots they can
  call ``K = round(capacity_per_week * period / 7)`` clients - for monthly snapshots and
  100 a week that is 435. Per ``as_of`` date we call the top ``K`` clients by the score;
  recall = churners caught / churners of that date, precision = churners caught / K.
  Reported as the mean over dates and pooled over the block.
* **Probabilities.** Brier score and log loss need probabilities. A score named in
  ``calib_scores`` is mapped to a probability by isotonic regression fitted on the
  *validation* block it carries (never on test rows); otherwise a score already in
  [0, 1] other than ``rule`` is used as-is; otherwise Brier / log loss are ``None``.
* **Profit.** Given each row's client value and the call economics (``profit_params``),
  every score also gets ``empc_rub`` / ``empc_share`` and ``empb_rub`` / ``empb_share``
  (:mod:`training.profit`: expected maximum profit per client and the profit-optimal share
  to call, rows of all the block's dates pooled); ``profit.perfect`` is the ceiling of a
  ranking that knows the outcome.
* **Confidence interval.** A client appears in several monthly snapshots, so rows are
  not independent: the bootstrap resamples *clients* (cluster bootstrap), each drawn
  client bringing all its rows, and recomputes both AUCs on the same resample (paired).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import average_precision_score

from training.profit import ProfitParams, profit_metrics

SCORE_ORDER: tuple[str, ...] = ("model", "rule", "oracle")
NOT_PROBABILITIES: frozenset[str] = frozenset({"rule"})
DAYS_PER_MONTH = 365.25 / 12
EPS = 1e-6
TOP_SHARE = 0.10
N_DECILES = 10


# --------------------------------------------------------------------------- helpers


def _finite(scores: np.ndarray) -> np.ndarray:
    """Scores as float with NaN ranked lowest (a missing score never wins a call)."""
    s = np.asarray(scores, dtype=float)
    if np.isnan(s).any():
        floor = np.nanmin(s) - 1.0 if (~np.isnan(s)).any() else 0.0
        s = np.where(np.isnan(s), floor, s)
    return s


def _num(value: float | None) -> float | None:
    """JSON-friendly float: NaN / inf become None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _tie_groups(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense rank of each score (0 = lowest) and the number of distinct values."""
    uniq, inverse = np.unique(scores, return_inverse=True)
    return inverse, len(uniq)


def weighted_auc(y: np.ndarray, groups: np.ndarray, n_groups: int, w: np.ndarray) -> float:
    """ROC-AUC from dense score ranks with row weights; ties count one half.

    With integer weights equal to how often a row was drawn this is exactly the AUC of
    the resampled data set, so one pre-computed ranking serves every bootstrap round.
    """
    is_pos = np.asarray(y) > 0.5
    return _auc_split(groups[is_pos], groups[~is_pos], n_groups, w[is_pos], w[~is_pos])


def _auc_split(
    g_pos: np.ndarray, g_neg: np.ndarray, n_groups: int, w_pos: np.ndarray, w_neg: np.ndarray
) -> float:
    """Weighted Mann-Whitney AUC with the score ranks already split by class."""
    total_pos, total_neg = w_pos.sum(), w_neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan")
    neg = np.bincount(g_neg, weights=w_neg, minlength=n_groups)
    credit = np.cumsum(neg) - 0.5 * neg  # negatives strictly below + half the ties
    return float((w_pos * credit[g_pos]).sum() / (total_pos * total_neg))


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Unweighted ROC-AUC (Mann-Whitney; NaN when only one class is present)."""
    groups, n_groups = _tie_groups(_finite(scores))
    return weighted_auc(np.asarray(y, float), groups, n_groups, np.ones(len(groups)))


def expected_hits_top_k(y: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Expected churners among the top ``k`` by score, boundary ties included fractionally."""
    n = len(scores)
    k = int(min(max(k, 0), n))
    if k == 0:
        return 0.0
    s = _finite(scores)
    y = np.asarray(y, dtype=float)
    threshold = np.partition(s, n - k)[n - k]  # the k-th largest score
    above = s > threshold
    tie = s == threshold
    room = k - int(above.sum())
    return float(y[above].sum() + room * y[tie].mean())


def lift_top(y: np.ndarray, scores: np.ndarray, share: float = TOP_SHARE) -> float:
    """Churn rate in the top ``share`` by score divided by the overall churn rate."""
    y = np.asarray(y, dtype=float)
    k = max(1, int(round(share * len(y))))
    base = y.mean() if len(y) else float("nan")
    if not base > 0:
        return float("nan")
    return expected_hits_top_k(y, scores, k) / k / base


def date_codes(as_of: np.ndarray | pd.Series) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Integer code per row (0 = earliest date) and the sorted distinct snapshot dates.

    Accepts a Series, naive or UTC ``datetime64`` values, or an object array of
    Timestamps (what a tz-aware ``Series.to_numpy()`` returns; slower, still vectorised).
    """
    values = as_of if isinstance(as_of, pd.Series | pd.Index) else np.asarray(as_of)
    codes, uniques = pd.factorize(values, sort=True)
    return np.asarray(codes), pd.DatetimeIndex(pd.to_datetime(uniques, utc=True))


def snapshot_period_days(dates: pd.DatetimeIndex) -> float:
    """Median gap between consecutive snapshot dates (monthly when there is only one)."""
    if len(dates) < 2:
        return DAYS_PER_MONTH
    return float(np.median(np.diff(dates.to_numpy()) / np.timedelta64(1, "D")))


def calls_per_snapshot(as_of: np.ndarray | pd.Series, capacity_per_week: int) -> tuple[int, float]:
    """K = capacity_per_week x weeks between snapshots, and the weeks used."""
    _, dates = date_codes(as_of)
    weeks = snapshot_period_days(dates) / 7.0
    return max(1, int(round(capacity_per_week * weeks))), weeks


def capacity_metrics(y: np.ndarray, scores: np.ndarray, date_code: np.ndarray, k: int) -> dict:
    """Recall / precision of calling the top ``k`` per snapshot date (mean and pooled).

    ``date_code`` is the integer date of each row (see :func:`date_codes`).
    """
    y = np.asarray(y, dtype=float)
    s = _finite(scores)
    order = np.argsort(date_code, kind="stable")
    bounds = np.flatnonzero(np.diff(date_code[order])) + 1
    recalls, precisions, hits_all, calls_all = [], [], 0.0, 0
    for idx in np.split(order, bounds):  # one slice per snapshot date, not per row
        k_d = min(k, len(idx))
        hits = expected_hits_top_k(y[idx], s[idx], k_d)
        positives = y[idx].sum()
        if positives > 0:
            recalls.append(hits / positives)
        precisions.append(hits / k_d)
        hits_all += hits
        calls_all += k_d
    total_pos = y.sum()
    return {
        "recall_at_capacity": _num(np.mean(recalls)) if recalls else None,
        "precision_at_capacity": _num(np.mean(precisions)) if precisions else None,
        "recall_at_capacity_pooled": _num(hits_all / total_pos) if total_pos > 0 else None,
        "precision_at_capacity_pooled": _num(hits_all / calls_all) if calls_all else None,
    }


def fit_probability_map(valid_scores: np.ndarray, valid_y: np.ndarray) -> IsotonicRegression:
    """Monotone score -> probability map fitted on validation rows (observed rate per value)."""
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(_finite(valid_scores), np.asarray(valid_y, dtype=float))
    return iso


def as_probability(
    name: str,
    scores: np.ndarray,
    calib: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray | None, str | None]:
    """The score as a probability, and where that probability came from."""
    if calib is not None:
        iso = fit_probability_map(*calib)
        return np.asarray(iso.predict(_finite(scores)), dtype=float), "isotonic_on_validation"
    s = np.asarray(scores, dtype=float)
    if name not in NOT_PROBABILITIES and np.nanmin(s) >= 0.0 and np.nanmax(s) <= 1.0:
        return s, "as_is"
    return None, None


def brier_and_log_loss(y: np.ndarray, proba: np.ndarray | None) -> tuple[float | None, ...]:
    if proba is None:
        return None, None
    y = np.asarray(y, dtype=float)
    p = np.clip(np.nan_to_num(proba, nan=float(np.mean(y))), EPS, 1.0 - EPS)
    brier = float(np.mean((p - y) ** 2))
    log_loss = float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))
    return brier, log_loss


# --------------------------------------------------------------------------- metrics


def score_metrics(
    y: np.ndarray,
    scores: np.ndarray,
    *,
    name: str,
    date_code: np.ndarray,
    k: int,
    calib: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Every headline metric of one score on one block."""
    y = np.asarray(y, dtype=float)
    s = _finite(scores)
    both_classes = 0 < y.sum() < len(y)
    proba, proba_source = as_probability(name, scores, calib)
    brier, log_loss = brier_and_log_loss(y, proba)
    return {
        "roc_auc": _num(roc_auc(y, s)),
        "pr_auc": _num(average_precision_score(y, s)) if both_classes else None,
        "brier": _num(brier),
        "log_loss": _num(log_loss),
        "probability_source": proba_source,
        "lift_top_decile": _num(lift_top(y, s)),
        **capacity_metrics(y, s, date_code, k),
        "base_rate": _num(y.mean()) if len(y) else None,
    }


def calibration_table(y: np.ndarray, proba: np.ndarray, bins: int = N_DECILES) -> list[dict]:
    """Mean predicted vs observed churn rate by decile of predicted probability.

    Deciles are equal-count groups of the probability ranking; isotonic calibration
    produces many equal probabilities, so ties are split by a stable sort (the mean
    prediction of each group is still exact).
    """
    p = np.asarray(proba, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(p) == 0:
        return []
    order = np.argsort(p, kind="stable")
    decile = np.empty(len(p), dtype=int)
    decile[order] = np.arange(len(p)) * bins // len(p)
    table = (
        pd.DataFrame({"decile": decile + 1, "p": p, "y": y})
        .groupby("decile", sort=True)
        .agg(mean_predicted=("p", "mean"), observed_rate=("y", "mean"), count=("y", "size"))
        .reset_index()
    )
    return [
        {
            "decile": int(r.decile),
            "mean_predicted": _num(r.mean_predicted),
            "observed_rate": _num(r.observed_rate),
            "count": int(r.count),
        }
        for r in table.itertuples(index=False)
    ]


def bootstrap_auc(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    client_id: np.ndarray,
    *,
    rounds: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """AUC of each score on ``rounds`` cluster-bootstrap resamples (clients, not rows).

    Each round draws clients with replacement; a row's weight is how often its client
    was drawn. All scores share the same draws, so differences are paired.
    """
    is_pos = np.asarray(y, dtype=float) > 0.5
    client_idx, uniques = pd.factorize(np.asarray(client_id))
    n_clients = len(uniques)
    c_pos, c_neg = client_idx[is_pos], client_idx[~is_pos]
    ranked = {}
    for name, s in scores.items():
        groups, n_groups = _tie_groups(_finite(s))
        ranked[name] = (groups[is_pos], groups[~is_pos], n_groups)
    rng = np.random.default_rng(seed)
    out = {name: np.full(rounds, np.nan) for name in scores}
    for r in range(rounds):  # each round is O(rows) vectorised work
        draws = np.bincount(rng.integers(0, n_clients, n_clients), minlength=n_clients)
        w_pos, w_neg = draws[c_pos].astype(float), draws[c_neg].astype(float)
        for name, (g_pos, g_neg, n_groups) in ranked.items():
            out[name][r] = _auc_split(g_pos, g_neg, n_groups, w_pos, w_neg)
    return out


def _interval(values: np.ndarray, rounds: int) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "rounds": 0}
    low, high = np.percentile(v, [2.5, 97.5])
    return {
        "mean": _num(v.mean()),
        "ci_low": _num(low),
        "ci_high": _num(high),
        "rounds": int(len(v)),
        "requested_rounds": int(rounds),
    }


def _gap_closed(model_auc: float | None, oracle_auc: float | None) -> float | None:
    if model_auc is None or oracle_auc is None or oracle_auc <= 0.5:
        return None
    return _num((model_auc - 0.5) / (oracle_auc - 0.5))


def evaluate_block(
    y: np.ndarray,
    scores: dict[str, np.ndarray | None],
    *,
    as_of: np.ndarray,
    client_id: np.ndarray,
    capacity_per_week: int,
    bootstrap_rounds: int,
    seed: int,
    calib_scores: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    values: np.ndarray | None = None,
    profit_params: ProfitParams | None = None,
) -> dict[str, Any]:
    """Side-by-side metrics of model, rule and oracle on one held-out block.

    Returns a JSON-ready dict: one entry per score name (``None`` for an absent score)
    with the metrics of :func:`score_metrics`, plus ``auc_gain`` (cluster-bootstrap CI of
    model minus rule ROC-AUC), ``gap_closed`` ((model - 0.5) / (oracle - 0.5)) and its
    bootstrap interval ``gap_closed_ci``,
    ``calibration`` (by decile of the model probability) and the capacity used. With
    ``values`` (RUB per row) and ``profit_params`` each score also carries the profit
    metrics and ``profit`` holds the economics and the perfect-information ceiling.
    """
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        raise ValueError("evaluate_block: empty block")
    present = {name: np.asarray(s, dtype=float) for name, s in scores.items() if s is not None}
    for name, s in present.items():
        if len(s) != len(y):
            raise ValueError(f"evaluate_block: score {name!r} has {len(s)} rows, labels {len(y)}")
    calib_scores = calib_scores or {}
    date_code, dates = date_codes(as_of)
    if len(date_code) != len(y):
        raise ValueError(f"evaluate_block: as_of has {len(date_code)} rows, labels {len(y)}")
    weeks = snapshot_period_days(dates) / 7.0
    k = max(1, int(round(capacity_per_week * weeks)))
    names = [*SCORE_ORDER, *(n for n in scores if n not in SCORE_ORDER)]
    result: dict[str, Any] = {
        name: score_metrics(y, s, name=name, date_code=date_code, k=k, calib=calib_scores.get(name))
        if (s := present.get(name)) is not None
        else None
        for name in names
    }
    result["profit"] = None
    if values is not None and profit_params is not None:
        values = np.asarray(values, dtype=float)
        for name, s in present.items():
            result[name].update(profit_metrics(y, _finite(s), values, profit_params))
        result["profit"] = {
            **profit_params.describe(),
            "perfect": profit_metrics(y, y, values, profit_params),
        }
    boot = bootstrap_auc(y, present, client_id, rounds=bootstrap_rounds, seed=seed)
    for name, values in boot.items():
        ci = _interval(values, bootstrap_rounds)
        result[name]["roc_auc_ci_low"], result[name]["roc_auc_ci_high"] = (
            ci["ci_low"],
            ci["ci_high"],
        )
    if "model" in boot and "rule" in boot:
        gain = _interval(boot["model"] - boot["rule"], bootstrap_rounds)
        gain["observed"] = _num(result["model"]["roc_auc"] - result["rule"]["roc_auc"])
        result["auc_gain"] = gain
    else:
        result["auc_gain"] = None
    model_auc = result["model"]["roc_auc"] if result.get("model") else None
    oracle_auc = result["oracle"]["roc_auc"] if result.get("oracle") else None
    result["gap_closed"] = _gap_closed(model_auc, oracle_auc)
    result["gap_closed_ci"] = None
    if "model" in boot and "oracle" in boot:
        lift_over_chance = boot["oracle"] - 0.5
        ratio = np.where(lift_over_chance > 0, (boot["model"] - 0.5) / lift_over_chance, np.nan)
        result["gap_closed_ci"] = _interval(ratio, bootstrap_rounds)
    result["calibration"] = calibration_table(y, present["model"]) if "model" in present else []
    result["block"] = {
        "rows": int(len(y)),
        "clients": int(len(pd.unique(np.asarray(client_id)))),
        "as_of_dates": int(len(dates)),
        "first_as_of": dates[0].date().isoformat(),
        "last_as_of": dates[-1].date().isoformat(),
        "positives": int(y.sum()),
        "base_rate": _num(y.mean()),
        "capacity_per_week": int(capacity_per_week),
        "weeks_per_snapshot": _num(weeks),
        "calls_per_snapshot": int(k),
        "bootstrap_seed": int(seed),
    }
    return result
