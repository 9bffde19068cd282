"""Rolling calibration backtest: the served recipe replayed month by month, as it would have run.

The served model (:func:`training.pipeline.refit_served`) is the tuned recipe refitted on
every labelled row, its calibrator fitted on the newest ``test_months`` labelled months
scored by a twin fitted on the rows before them. Its probabilities are used in the weeks
after training, which no test block can show. So for each of the newest ``blocks``
monthly blocks ``k`` (first snapshot date ``d_k``) the recipe is run with only what was
known at ``d_k``:

* *known* rows: ``as_of + horizon <= d_k`` (their label window closed before ``d_k``);
* the calibration block: the newest ``test_months`` months of the known rows;
* the twin: the recipe fitted on known rows whose window closes before that block starts;
  every calibrator of :data:`training.calibrators.CALIBRATORS` is fitted on its scores;
* the served booster: the recipe fitted on all known rows, scoring block ``k``.

The tuned parameters and tree count are reused (no re-tuning per block), boosters are
memoised by their cutoff (the served fit of one block is the twin of a later one), so a
six-block backtest costs at most a dozen fixed-size LightGBM fits.

Per block and pooled over blocks, per calibrator: calibration-in-the-large (mean
predicted / observed), ECE over equal-count deciles, the reliability table by decile with
client-bootstrap intervals of the observed rate, Brier and log loss. The winner is the
calibrator with the lowest pooled log loss (a proper score: it rewards both calibration
and sharpness). Each calibrator also has a ``+recent`` variant, an intercept-only update:
its log-odds shifted so that the mean probability over the rows being scored (their
features are known when they are scored; their labels are not) equals the churn rate
observed in the newest ``recent_months`` labelled months. It corrects what the booster
alone cannot know: on the generated bases the features drift (the base ages) while the
churn rate stays put, so a booster fitted on older rows scores newer ones too high.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training.calibrators import CALIBRATORS, fit_calibrator, intercept_update
from training.evaluate import _num, brier_and_log_loss
from training.labels import LABEL

RECENT = "+recent"  # suffix of the intercept-updated variant of a calibrator


@dataclass(frozen=True)
class Goal:
    """What served probabilities must meet on the pooled backtest (issue 23)."""

    max_ece: float = 0.005
    max_citl_error: float = 0.05  # |mean predicted / observed - 1|
    top_decile_in_interval: bool = True

    def check(self, pooled: dict[str, Any]) -> dict[str, Any]:
        top = pooled["reliability"][-1] if pooled["reliability"] else None
        top_ok = bool(
            top is not None
            and top["observed_ci_low"] <= top["mean_predicted"] <= top["observed_ci_high"]
        )
        citl = pooled["calibration_in_the_large"]
        out = {
            "ece": {
                "value": pooled["ece"],
                "max": self.max_ece,
                "met": pooled["ece"] <= self.max_ece,
            },
            "calibration_in_the_large": {
                "value": citl,
                "allowed": [1 - self.max_citl_error, 1 + self.max_citl_error],
                "met": citl is not None and abs(citl - 1) <= self.max_citl_error,
            },
            "top_decile": {
                "mean_predicted": top["mean_predicted"] if top else None,
                "observed": top["observed_rate"] if top else None,
                "observed_ci": [top["observed_ci_low"], top["observed_ci_high"]] if top else None,
                "met": top_ok,
            },
        }
        out["met"] = all(v["met"] for v in out.values() if isinstance(v, dict))
        return out


def deciles(p: np.ndarray, bins: int = 10) -> np.ndarray:
    """Equal-count groups 0..bins-1 of the probability ranking (ties split by a stable sort,
    as :func:`training.evaluate.calibration_table`)."""
    order = np.argsort(p, kind="stable")
    out = np.empty(len(p), dtype=int)
    out[order] = np.arange(len(p)) * bins // max(len(p), 1)
    return out


def client_bootstrap(client_id: np.ndarray, rounds: int, seed: int) -> np.ndarray:
    """(rounds x rows) weights: how often each row's client was drawn in each round (clients
    drawn with replacement, all rows of a drawn client together). Shared by every
    calibrator scored on the same rows, so their intervals are paired."""
    client_idx, uniques = pd.factorize(np.asarray(client_id))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(uniques), (rounds, len(uniques)))
    counts = np.zeros((rounds, len(uniques)))
    np.add.at(counts, (np.arange(rounds)[:, None], draws), 1.0)
    return counts[:, client_idx]


def calibration_metrics(
    y: np.ndarray,
    p: np.ndarray,
    client_id: np.ndarray,
    *,
    bins: int = 10,
    rounds: int = 200,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """Calibration-in-the-large, ECE, reliability by decile (client-bootstrap 95 % intervals
    of the observed rate and of the ratio), Brier and log loss of probabilities ``p``.
    ``weights``: :func:`client_bootstrap` of these rows, when already drawn."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    d = deciles(p, bins)
    count = np.bincount(d, minlength=bins).astype(float)
    mean_p = np.bincount(d, p, bins) / np.maximum(count, 1)
    obs = np.bincount(d, y, bins) / np.maximum(count, 1)
    ece = float(np.sum(count / len(y) * np.abs(mean_p - obs)))
    w = client_bootstrap(client_id, rounds, seed) if weights is None else weights
    onehot = np.zeros((len(y), bins))
    onehot[np.arange(len(y)), d] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        boot_obs = (w @ (onehot * y[:, None])) / (w @ onehot)
        boot_ratio = (w @ p) / (w @ y)
    lo, hi = np.nanpercentile(boot_obs, [2.5, 97.5], axis=0)
    ratio_lo, ratio_hi = np.nanpercentile(boot_ratio[np.isfinite(boot_ratio)], [2.5, 97.5])
    brier, log_loss = brier_and_log_loss(y, p)
    observed = float(y.mean())
    return {
        "rows": int(len(y)),
        "clients": int(len(pd.unique(np.asarray(client_id)))),
        "positives": int(y.sum()),
        "mean_predicted": _num(p.mean()),
        "observed_rate": _num(observed),
        "calibration_in_the_large": _num(p.mean() / observed) if observed > 0 else None,
        "calibration_in_the_large_ci": [_num(ratio_lo), _num(ratio_hi)],
        "ece": _num(ece),
        "brier": _num(brier),
        "log_loss": _num(log_loss),
        "reliability": [
            {
                "decile": i + 1,
                "mean_predicted": _num(mean_p[i]),
                "observed_rate": _num(obs[i]),
                "observed_ci_low": _num(lo[i]),
                "observed_ci_high": _num(hi[i]),
                "count": int(count[i]),
            }
            for i in range(bins)
        ],
        "bootstrap": {"unit": "client", "rounds": int(len(w)), "seed": int(seed)},
    }


@dataclass(frozen=True)
class BlockPlan:
    """Which rows fit what when block ``k`` is scored (all as_of dates, ISO)."""

    block: pd.Timestamp  # first as_of of the scored month
    scored: list[str]
    served_fit: list[str]
    calibration: list[str]
    twin_fit: list[str]
    recent: list[str]  # the newest labelled months (the intercept-only update's target rate)


def _month(values: pd.Series) -> np.ndarray:
    t = pd.DatetimeIndex(pd.to_datetime(values))
    return np.asarray(t.year * 12 + t.month)


def _iso(values: pd.DatetimeIndex) -> list[str]:
    return sorted(pd.DatetimeIndex(values).unique().strftime("%Y-%m-%d"))


def plan_blocks(
    as_of: pd.Series, *, blocks: int, horizon_days: int, test_months: int, recent_months: int = 1
) -> list[tuple[BlockPlan, dict[str, np.ndarray]]]:
    """The newest ``blocks`` months and, per month, the row masks of each role."""
    t = pd.DatetimeIndex(pd.to_datetime(as_of))
    if t.tz is None:
        t = t.tz_localize("UTC")
    months = _month(pd.Series(t))
    horizon = pd.Timedelta(days=horizon_days)
    out = []
    for key in np.unique(months)[-blocks:]:
        scored = months == key
        start = t[scored].min()
        known = np.asarray(t + horizon <= start)
        if not known.any():
            continue
        known_months = np.unique(months[known])
        calib = known & np.isin(months, known_months[-test_months:])
        calib_start = t[calib].min()
        twin = known & np.asarray(t + horizon < calib_start)
        recent = known & np.isin(months, known_months[-recent_months:])
        if not twin.any():
            continue
        masks = {"scored": scored, "served": known, "calib": calib, "twin": twin, "recent": recent}
        plan = BlockPlan(
            block=start,
            scored=_iso(t[scored]),
            served_fit=_iso(t[known]),
            calibration=_iso(t[calib]),
            twin_fit=_iso(t[twin]),
            recent=_iso(t[recent]),
        )
        out.append((plan, masks))
    return out


def run_backtest(
    frame: pd.DataFrame,
    fit: Callable[[pd.DataFrame], Callable[[pd.DataFrame], np.ndarray]],
    *,
    blocks: int,
    horizon_days: int,
    test_months: int,
    methods: Sequence[str] = tuple(CALIBRATORS),
    recent_variants: bool = True,
    recent_months: int = 1,
    rounds: int = 200,
    seed: int = 0,
    bins: int = 10,
    goal: Goal | None = None,
) -> dict[str, Any]:
    """The backtest report (JSON-ready). ``fit(rows)`` returns a raw scorer of the recipe
    fitted on ``rows`` (fixed parameters and trees); ``frame`` holds every labelled row."""
    goal = goal or Goal()
    plans = plan_blocks(
        frame["as_of"],
        blocks=blocks,
        horizon_days=horizon_days,
        test_months=test_months,
        recent_months=recent_months,
    )
    if not plans:
        return {"blocks": [], "pooled": {}, "winner": None, "note": "no block has earlier labels"}
    scorers: dict[tuple[str, ...], Callable[[pd.DataFrame], np.ndarray]] = {}

    def scorer(rows_as_of: list[str], mask: np.ndarray) -> Callable[[pd.DataFrame], np.ndarray]:
        key = tuple(rows_as_of)
        if key not in scorers:
            scorers[key] = fit(frame[mask].reset_index(drop=True))
        return scorers[key]

    y_all = frame[LABEL].to_numpy(dtype=float)
    cid_all = frame["client_id"].to_numpy()
    names = list(methods) + ([m + RECENT for m in methods] if recent_variants else [])
    pooled_p: dict[str, list[np.ndarray]] = {n: [] for n in names}
    pooled_y: list[np.ndarray] = []
    pooled_c: list[np.ndarray] = []
    per_block = []
    for i, (plan, m) in enumerate(plans):
        twin = scorer(plan.twin_fit, m["twin"])
        served = scorer(plan.served_fit, m["served"])
        calib_raw = twin(frame[m["calib"]])
        raw = served(frame[m["scored"]])
        y, cid = y_all[m["scored"]], cid_all[m["scored"]]
        pooled_y.append(y)
        pooled_c.append(cid)
        weights = client_bootstrap(cid, rounds, seed + i)
        entry: dict[str, Any] = {**plan.__dict__, "block": plan.block.date().isoformat()}
        entry["calibrators"] = {}
        for method in methods:
            cal = fit_calibrator(method, calib_raw, y_all[m["calib"]], block="backtest")
            variants = {method: cal}
            if recent_variants:
                rate = np.full(len(raw), y_all[m["recent"]].mean())
                variants[method + RECENT] = intercept_update(cal, raw, rate)
            for name, c in variants.items():
                p = np.clip(np.asarray(c.predict(raw), dtype=float), 0.0, 1.0)
                pooled_p[name].append(p)
                entry["calibrators"][name] = calibration_metrics(
                    y, p, cid, bins=bins, seed=seed + i, weights=weights
                )
        per_block.append(entry)
    y, cid = np.concatenate(pooled_y), np.concatenate(pooled_c)
    weights = client_bootstrap(cid, rounds, seed)  # a client in several blocks: drawn once
    pooled = {
        name: calibration_metrics(y, np.concatenate(ps), cid, bins=bins, seed=seed, weights=weights)
        for name, ps in pooled_p.items()
    }
    for metrics in pooled.values():
        metrics["goal"] = goal.check(metrics)
    winner = min(pooled, key=lambda n: pooled[n]["log_loss"])
    base_rates = [float(np.mean(b)) for b in pooled_y]
    return {
        "blocks_requested": int(blocks),
        "blocks": per_block,
        "pooled": pooled,
        "winner": winner,
        "ranking_by_pooled_log_loss": sorted(pooled, key=lambda n: pooled[n]["log_loss"]),
        "why": (
            f"{winner} has the lowest pooled log loss ({pooled[winner]['log_loss']:.5f}) over "
            f"{len(per_block)} monthly blocks scored the way the served model would have "
            "scored them (fitted before the block, calibrated on the newest labelled months)"
        ),
        "base_rate_by_block": [_num(r) for r in base_rates],
        "fits": len(scorers),
        "goal": goal.__dict__,
        "recipe": (
            "per block k: served booster fitted on rows with as_of + horizon <= first as_of of "
            f"k; calibrators fitted on the newest {test_months} of those months scored by a "
            "twin fitted on the rows whose horizon closes before them; tuned parameters and "
            "tree count reused; +recent: log-odds shifted so the block's mean probability is "
            f"the churn rate of the newest {recent_months} labelled month(s)"
        ),
    }
