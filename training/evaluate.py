"""Honest evaluation of one held-out block: the model, the rule indicator and the reference.

Everything here is a pure function of arrays (labels, scores, snapshot dates, client ids);
the pipeline decides which block is "test". Three scores are compared side by side:

* ``model``     - the calibrated churn probability;
* ``rule``      - the documented contact-necessity index (a coarse additive score, *not* a
  probability);
* ``baseline``  - (when given) a one-hot logistic regression on the model's own signals
  (:mod:`training.baseline`): what the model must beat where no rule exists;
* ``reference`` - the true probability of churning within the label horizon given the
  generator's whole state at ``as_of`` (``_truth/horizon_probability.parquet``, Monte
  Carlo over the hidden future, ``simulator/horizon_truth.py``): the label's own
  probability, so no model can beat its ROC-AUC or Brier beyond noise (``None`` when the
  data did not come from the generator).

Conventions that matter for reading the numbers:

* **Ties.** The rule takes only a handful of values, so "the top 10 %" usually cuts
  through a group of clients with the same score. Lift never breaks such ties by row
  order: the boundary group is included *fractionally* (if ``m`` more places are left and
  the boundary group has ``g`` clients with ``h`` churners, it contributes ``m * h / g``
  expected catches, the expectation under a random tie-break). ROC-AUC counts tied
  positive/negative pairs as one half (the Mann-Whitney convention, same as sklearn).
* **Call capacity = the served weekly list** (:func:`weekly_capacity_metrics`). The
  specialists call ``capacity_per_week`` clients a week: a list goes out every 7 days
  from the block's first ``as_of`` (4.35 a month on average), built from the newest
  snapshot. Each list takes the best clients by the call list's own ranking
  (``serving.ranking``: expected loss over the horizon, p x fee x horizon months, by
  default; :mod:`training.ranking`, ties to the smaller client id) among those not yet
  churned and not called within ``recall_after_days``. A churner is caught when called
  on or before its churn day. recall = caught / churners of the snapshot, precision =
  caught / calls; mean over dates and pooled, and each snapshot's first list alone.
* **Probabilities.** Brier score and log loss need probabilities. A score named in
  ``calib_scores`` is mapped to a probability by isotonic regression fitted on the
  *validation* block it carries (never on test rows); otherwise a score already in
  [0, 1] other than ``rule`` is used as-is; otherwise Brier / log loss are ``None``.
  The capacity ranking uses that probability (a score without one is ranked by value).
* **Profit.** Given each row's client value and the call economics (``profit_params``),
  every score also gets ``empc_rub`` / ``empc_share`` and ``empb_rub`` / ``empb_share``
  (:mod:`training.profit`: expected maximum profit per client and the profit-optimal share
  to call, rows of all the block's dates pooled); ``profit.perfect`` is the ceiling of a
  ranking that knows the outcome.
* **Confidence interval.** A client appears in several monthly snapshots, so rows are
  not independent: the bootstrap resamples *clients* (cluster bootstrap), each drawn
  client bringing all its rows, and recomputes every AUC on the same resample (paired).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import average_precision_score

from training.profit import ProfitParams, profit_metrics
from training.results import (
    BlockInfo,
    CalibrationBin,
    Evaluation,
    Interval,
    ProfitMetrics,
    ScoreMetrics,
)

SCORE_ORDER: tuple[str, ...] = ("model", "rule", "reference")
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


def list_days(dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """The weekly call lists a block of snapshots feeds: (snapshot code, day offset) each.

    Lists go out every 7 days from the first ``as_of`` until one snapshot period after the
    last; each uses the newest snapshot on or before its day (its ``day`` after that
    ``as_of``). Monthly snapshots feed 4 or 5 lists each, 52 a year, as a weekly run would.
    """
    if len(dates) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    start = dates[0]
    span = (dates[-1] - start) / pd.Timedelta(days=1) + snapshot_period_days(dates)
    at = start + pd.to_timedelta(7 * np.arange(int(np.ceil(span / 7 - 1e-9))), unit="D")
    code = np.searchsorted(dates.to_numpy(), at.to_numpy(), side="right") - 1
    day = ((at - dates[code]) / pd.Timedelta(days=1)).to_numpy()
    return code.astype(np.int64), np.round(day).astype(np.int64)


def weekly_capacity_metrics(
    y: np.ndarray,
    keys: list[np.ndarray],
    *,
    client_id: np.ndarray,
    date_code: np.ndarray,
    dates: pd.DatetimeIndex,
    capacity_per_week: int,
    churn_day: np.ndarray | None = None,
    recall_after_days: int = 28,
) -> dict[str, Any]:
    """Recall / precision of the weekly call list, replayed over the block as it is served.

    Every 7 days (:func:`list_days`) a list of ``capacity_per_week`` clients goes out,
    taken from the newest snapshot: the best by ``keys`` (:func:`training.ranking.
    rank_order`, the call list's order) among the clients still there - not churned
    before that day (``churn_day``: days from ``as_of`` to a positive's churn; None =
    nobody leaves before a call) - and not called within the last ``recall_after_days``
    days (the served list leaves those out; across snapshots too, by client id). A
    positive counts as caught when a list from its snapshot calls it on or before its
    churn day. Per snapshot date: recall = caught / positives of that date, precision =
    caught / calls; reported as the mean over dates and pooled, and the same for the
    first list of each snapshot alone.
    """
    from training.ranking import rank_order

    y = np.asarray(y, dtype=float) > 0.5
    cid = np.asarray(client_id)
    churn = np.full(len(y), np.inf) if churn_day is None else np.asarray(churn_day, float)
    churn = np.where(y, np.nan_to_num(churn, nan=np.inf), np.inf)
    client_idx, uniques = pd.factorize(cid)
    last_call = np.full(len(uniques), -np.inf)  # absolute day of each client's latest call
    rows_of = [np.flatnonzero(date_code == d) for d in range(len(dates))]
    orders = [idx[rank_order([k[idx] for k in keys], cid[idx])] for idx in rows_of]
    start = dates[0] if len(dates) else None
    offset = [(d - start) / pd.Timedelta(days=1) for d in dates]
    n = len(dates)
    caught, calls, first_caught, first_calls = (np.zeros(n) for _ in range(4))
    seen = np.zeros(n, dtype=bool)
    for code, day in zip(*list_days(dates), strict=True):  # ~4.35 lists a month
        order = orders[code]
        today = offset[code] + day
        free = (churn[order] >= day) & (today - last_call[client_idx[order]] > recall_after_days)
        take = order[np.flatnonzero(free)[:capacity_per_week]]
        last_call[client_idx[take]] = today
        hits = float(y[take].sum())
        caught[code] += hits
        calls[code] += len(take)
        if not seen[code]:
            first_caught[code], first_calls[code], seen[code] = hits, len(take), True
    pos = np.array([y[idx].sum() for idx in rows_of], dtype=float)

    def mean_ratio(num: np.ndarray, den: np.ndarray) -> float | None:
        keep = den > 0
        return _num(np.mean(num[keep] / den[keep])) if keep.any() else None

    def pooled(num: np.ndarray, den: np.ndarray) -> float | None:
        return _num(num.sum() / den.sum()) if den.sum() > 0 else None

    return {
        "recall_at_capacity": mean_ratio(caught, pos),
        "precision_at_capacity": mean_ratio(caught, calls),
        "recall_at_capacity_pooled": pooled(caught, pos),
        "precision_at_capacity_pooled": pooled(caught, calls),
        "recall_first_week": mean_ratio(first_caught, pos),
        "precision_first_week": mean_ratio(first_caught, first_calls),
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


@dataclass(frozen=True)
class CallPolicy:
    """How the served call list picks clients, so capacity figures measure that list.

    ``capacity_per_week`` calls a week (the call list's capacity), ranked by ``ranking``
    (``serving.ranking``; keys from :mod:`training.ranking`, expected loss over
    ``horizon_days`` by default in the pipeline), leaving out clients called within
    ``recall_after_days`` (``serving.recall_after_days``). ``profit`` is needed by the
    ``expected_profit`` ranking only.
    """

    capacity_per_week: int
    ranking: str = "probability"
    recall_after_days: int = 28
    horizon_days: int = 90
    profit: ProfitParams | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "capacity_per_week": int(self.capacity_per_week),
            "ranking": self.ranking,
            "recall_after_days": int(self.recall_after_days),
            "horizon_days": int(self.horizon_days),
        }


def call_keys(
    policy: CallPolicy,
    scores: np.ndarray,
    proba: np.ndarray | None,
    monthly_fee: np.ndarray | None,
) -> tuple[list[np.ndarray], str]:
    """Sort keys of one score under the policy, and the ranking actually used.

    The policy's ranking needs a probability (expected loss = p x fee x horizon months);
    a score without one (no validation map) is ranked by its value alone, and says so.
    """
    from training.ranking import ranking_keys

    if proba is None:
        return [_finite(scores)], "score"
    if policy.ranking != "probability" and monthly_fee is None:
        return [np.asarray(proba, dtype=float)], "probability"
    keys = ranking_keys(
        policy.ranking,
        proba,
        monthly_fee,
        horizon_days=policy.horizon_days,
        profit=policy.profit,
    )
    return keys, policy.ranking


def score_metrics(
    y: np.ndarray,
    scores: np.ndarray,
    *,
    name: str,
    date_code: np.ndarray,
    dates: pd.DatetimeIndex,
    client_id: np.ndarray,
    policy: CallPolicy,
    calib: tuple[np.ndarray, np.ndarray] | None = None,
    monthly_fee: np.ndarray | None = None,
    churn_day: np.ndarray | None = None,
) -> ScoreMetrics:
    """Every headline metric of one score on one block."""
    y = np.asarray(y, dtype=float)
    s = _finite(scores)
    both_classes = 0 < y.sum() < len(y)
    proba, proba_source = as_probability(name, scores, calib)
    brier, log_loss = brier_and_log_loss(y, proba)
    keys, ranked_by = call_keys(policy, scores, proba, monthly_fee)
    capacity = weekly_capacity_metrics(
        y,
        keys,
        client_id=client_id,
        date_code=date_code,
        dates=dates,
        capacity_per_week=policy.capacity_per_week,
        churn_day=churn_day,
        recall_after_days=policy.recall_after_days,
    )
    return ScoreMetrics(
        roc_auc=_num(roc_auc(y, s)),
        pr_auc=_num(average_precision_score(y, s)) if both_classes else None,
        brier=_num(brier),
        log_loss=_num(log_loss),
        probability_source=proba_source,
        lift_top_decile=_num(lift_top(y, s)),
        **capacity,
        capacity_ranking=ranked_by,
        base_rate=_num(y.mean()) if len(y) else None,
    )


def calibration_table(
    y: np.ndarray, proba: np.ndarray, bins: int = N_DECILES
) -> list[CalibrationBin]:
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
        CalibrationBin(
            decile=int(r.decile),
            mean_predicted=_num(r.mean_predicted),
            observed_rate=_num(r.observed_rate),
            count=int(r.count),
        )
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


def _interval(values: np.ndarray, rounds: int, observed: float | None = None) -> Interval:
    """The 95 % percentile interval of the finite bootstrap values (and the point value)."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return Interval(None, None, None, 0, observed=observed)
    low, high = np.percentile(v, [2.5, 97.5])
    return Interval(
        mean=_num(v.mean()),
        ci_low=_num(low),
        ci_high=_num(high),
        rounds=int(len(v)),
        requested_rounds=int(rounds),
        observed=observed,
    )


def _gap_closed(model_auc: float | None, reference_auc: float | None) -> float | None:
    if model_auc is None or reference_auc is None or reference_auc <= 0.5:
        return None
    return _num((model_auc - 0.5) / (reference_auc - 0.5))


@dataclass(frozen=True)
class HeldOutBlock:
    """One held-out block to evaluate: labels, every score on its rows, and how the served
    weekly list is replayed on it (what :func:`evaluate_block` and
    :func:`evaluate_by_centre` read).

    ``scores`` maps a name (model, rule, reference) to its values (``None``: absent);
    ``calib_scores`` gives a score its validation (scores, labels) for a probability map;
    ``monthly_fee`` (RUB per row) feeds an expected-loss ranking; ``churn_day`` (days from
    ``as_of`` to a positive's churn) says when a churner can no longer be called; with
    ``values`` (RUB a retained client is worth, per row) and ``policy.profit`` every score
    also carries the profit metrics.
    """

    y: np.ndarray
    scores: dict[str, np.ndarray | None]
    as_of: np.ndarray
    client_id: np.ndarray
    policy: CallPolicy
    bootstrap_rounds: int = 200
    seed: int = 0
    calib_scores: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
    monthly_fee: np.ndarray | None = None
    churn_day: np.ndarray | None = None
    values: np.ndarray | None = None


def evaluate_by_centre(
    block: HeldOutBlock, centre: np.ndarray | pd.Series
) -> dict[str, Any] | None:
    """The headline metrics of each score within each centre of a network block.

    A model trained on the whole network must also rank well inside every centre, since
    each centre calls its own list: the weekly lists are replayed per centre with the
    policy's ``capacity_per_week`` each (:func:`score_metrics` on the centre's rows).
    ``None`` when no row names a centre (a single centre's export). No bootstrap here: the
    block-level intervals stay the headline.
    """
    centre = pd.Series(np.asarray(centre, dtype=object)).astype("str")
    if not centre.notna().any():
        return None
    y = np.asarray(block.y, dtype=float)
    as_of, cid = np.asarray(block.as_of), np.asarray(block.client_id)

    def part(values: np.ndarray | None, m: np.ndarray) -> np.ndarray | None:
        return None if values is None else np.asarray(values)[m]

    keep = ("roc_auc", "pr_auc", "brier", "lift_top_decile", "recall_at_capacity")
    out: dict[str, Any] = {}
    for name in sorted(centre.dropna().unique()):
        m = (centre == name).to_numpy()
        date_code, dates = date_codes(as_of[m])
        entry: dict[str, Any] = {
            "rows": int(m.sum()),
            "clients": int(len(pd.unique(cid[m]))),
            "positives": int(y[m].sum()),
            "base_rate": _num(y[m].mean()),
            "capacity_per_week": int(block.policy.capacity_per_week),
        }
        for score_name, s in block.scores.items():
            if s is None:
                entry[score_name] = None
                continue
            metrics = score_metrics(
                y[m],
                np.asarray(s, dtype=float)[m],
                name=score_name,
                date_code=date_code,
                dates=dates,
                client_id=cid[m],
                policy=block.policy,
                calib=(block.calib_scores or {}).get(score_name),
                monthly_fee=part(block.monthly_fee, m),
                churn_day=part(block.churn_day, m),
            )
            entry[score_name] = {key: getattr(metrics, key) for key in keep}
        out[str(name)] = entry
    return out


def evaluate_block(block: HeldOutBlock) -> Evaluation:
    """Side-by-side metrics of model, rule and reference on one held-out block.

    One :class:`~training.results.ScoreMetrics` per score name (``None`` for an absent
    score), plus ``auc_gain`` (cluster-bootstrap CI of model minus rule ROC-AUC),
    ``gap_closed`` ((model - 0.5) / (reference - 0.5)) and its bootstrap interval
    ``gap_closed_ci``, ``reference_minus_model`` (paired CI of the reference's AUC minus the
    model's: the model may not beat the true probability beyond noise), ``calibration`` (by
    decile of the model probability) and the block with the call policy used. With
    ``values`` and ``policy.profit`` each score carries the profit metrics and ``profit``
    holds the economics and the perfect-information ceiling.
    """
    y = np.asarray(block.y, dtype=float)
    if len(y) == 0:
        raise ValueError("evaluate_block: empty block")
    scores, policy, rounds, seed = block.scores, block.policy, block.bootstrap_rounds, block.seed
    present = {name: np.asarray(s, dtype=float) for name, s in scores.items() if s is not None}
    for name, s in present.items():
        if len(s) != len(y):
            raise ValueError(f"evaluate_block: score {name!r} has {len(s)} rows, labels {len(y)}")
    calib_scores = block.calib_scores or {}
    date_code, dates = date_codes(block.as_of)
    if len(date_code) != len(y):
        raise ValueError(f"evaluate_block: as_of has {len(date_code)} rows, labels {len(y)}")
    lists = len(list_days(dates)[0]) / max(len(dates), 1)
    cid = np.asarray(block.client_id)
    names = [*SCORE_ORDER, *(n for n in scores if n not in SCORE_ORDER)]
    metrics: dict[str, ScoreMetrics | None] = {
        name: score_metrics(
            y,
            s,
            name=name,
            date_code=date_code,
            dates=dates,
            client_id=cid,
            policy=policy,
            calib=calib_scores.get(name),
            monthly_fee=block.monthly_fee,
            churn_day=block.churn_day,
        )
        if (s := present.get(name)) is not None
        else None
        for name in names
    }
    profit = None
    if block.values is not None and policy.profit is not None:
        values = np.asarray(block.values, dtype=float)
        for name, s in present.items():
            figures = ProfitMetrics(**profit_metrics(y, _finite(s), values, policy.profit))
            metrics[name] = replace(metrics[name], profit=figures)
        profit = {
            **policy.profit.describe(),
            "perfect": profit_metrics(y, y, values, policy.profit),
        }
    boot = bootstrap_auc(y, present, cid, rounds=rounds, seed=seed)
    for name, values in boot.items():
        ci = _interval(values, rounds)
        metrics[name] = replace(metrics[name], roc_auc_ci_low=ci.ci_low, roc_auc_ci_high=ci.ci_high)
    model, rule, reference = (metrics.get(n) for n in SCORE_ORDER)
    auc_gain = None
    if "model" in boot and "rule" in boot:
        observed = _num(model.roc_auc - rule.roc_auc)
        auc_gain = _interval(boot["model"] - boot["rule"], rounds, observed)
    baseline_gain = None
    if "model" in boot and "baseline" in boot:
        observed = _num(model.roc_auc - metrics["baseline"].roc_auc)
        baseline_gain = _interval(boot["model"] - boot["baseline"], rounds, observed)
    model_auc = model.roc_auc if model else None
    reference_auc = reference.roc_auc if reference else None
    gap_closed_ci = reference_minus_model = None
    if "model" in boot and "reference" in boot:
        lift_over_chance = boot["reference"] - 0.5
        ratio = np.where(lift_over_chance > 0, (boot["model"] - 0.5) / lift_over_chance, np.nan)
        gap_closed_ci = _interval(ratio, rounds)
        reference_minus_model = _interval(
            boot["reference"] - boot["model"], rounds, _num(reference_auc - model_auc)
        )
    return Evaluation(
        scores=metrics,
        profit=profit,
        auc_gain=auc_gain,
        baseline_gain=baseline_gain,
        gap_closed=_gap_closed(model_auc, reference_auc),
        gap_closed_ci=gap_closed_ci,
        reference_minus_model=reference_minus_model,
        calibration=calibration_table(y, present["model"]) if "model" in present else [],
        block=BlockInfo(
            rows=int(len(y)),
            clients=int(len(pd.unique(cid))),
            as_of_dates=int(len(dates)),
            first_as_of=dates[0].date().isoformat(),
            last_as_of=dates[-1].date().isoformat(),
            positives=int(y.sum()),
            base_rate=_num(y.mean()),
            **policy.describe(),
            weeks_per_snapshot=_num(lists),
            calls_per_snapshot=_num(policy.capacity_per_week * lists),
            bootstrap_seed=int(seed),
        ),
    )
