"""Which ranking retains most clients per call: risk, expected loss, expected profit, uplift.

``churn simulate-rankings`` (:func:`compare_rankings`) answers it on the closed loop
(:mod:`loop.closed_loop`):

1. a **learning** run (seed S, probability ranking, the default holdout) logs calls and
   held-out clients with their outcomes; the two-model uplift ranking
   (:mod:`training.uplift_model`) is fitted on them;
2. one **evaluation** run per ranking on a *new* base (seed S + 1), the same risk model,
   the same capacity and weeks: ``probability`` (risk), ``expected_loss``,
   ``expected_profit`` and ``uplift`` (the uplift model re-ranks the risk ranking's best
   ``RERANK_POOL`` x capacity candidates each week);
3. per run, clients retained per 100 calls two ways: **true** (the generator's
   per-listing effect of the called listings, ``_truth/treatment.parquet``, with a
   bootstrap interval over those listings) and **measured** (held out minus called churn
   of the run's own holdout, the ``churn uplift`` figure, with its interval): what a
   centre without the truth would see.

Whichever ranking wins is reported as it comes out; on a small base the intervals are
wide and overlap, and the report says so.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from churn.config import Config
from loop.closed_loop import LoopResult

RANKINGS = ("probability", "expected_loss", "expected_profit", "uplift")
REPORT_FILE = "rankings.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankingResult:
    """One evaluation run: clients retained per 100 calls, true and measured (per 100)."""

    ranking: str
    calls: int
    held_out: int
    true_retained_per_100_calls: float
    true_ci: list[float]
    realised_retained_per_100_calls: float
    measured_retained_per_100_calls: float | None
    measured_ci: list[float] | None
    churn_called: float | None
    churn_holdout: float | None
    mean_probability_listed: float
    mean_untreated_churn_listed: float


@dataclass(frozen=True)
class Verdict:
    """The best ranking by the truth, and which others its interval clears."""

    best_by_truth: str
    order_by_truth: list[str]
    best_interval_above: list[str]
    overlapping: list[str]


@dataclass(frozen=True)
class RankingsReport:
    """``rankings.json``: the learning run, the uplift model and one result per ranking."""

    clients: int
    weeks: int
    capacity: int
    learning_seed: int
    evaluation_seed: int
    learning_rows: int
    learning_held_out: int
    uplift_model: dict[str, Any]
    rankings: dict[str, RankingResult]
    verdict: Verdict
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _interval(values: np.ndarray, rounds: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(rounds, len(values)), replace=True).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def ranking_result(cfg: Config, result: LoopResult, *, rounds: int, seed: int) -> RankingResult:
    """True and holdout-measured clients retained per 100 calls of one evaluation run."""
    from loop.closed_loop import logged_listings
    from simulator.treatment import read_truth
    from training.uplift import difference

    truth, _ = read_truth(Path(result.raw_dir))
    called = truth[truth["assignment"] == "call"]
    effect = called["effect_itt"].to_numpy(dtype=float)
    low, high = _interval(effect, rounds, seed)
    logged = logged_listings(result, cfg.training.horizon_days)
    measured = difference(logged, rounds=rounds, seed=seed)
    return RankingResult(
        ranking=result.ranking,
        calls=int(len(called)),
        held_out=int((truth["assignment"] == "holdout").sum()),
        true_retained_per_100_calls=100 * float(effect.mean()),
        true_ci=[100 * low, 100 * high],
        realised_retained_per_100_calls=100 * float((called["effect"] * called["treated"]).mean()),
        measured_retained_per_100_calls=measured["retained_per_100_calls"],
        measured_ci=[100 * measured["ci_low"], 100 * measured["ci_high"]]
        if measured["ci_low"] is not None
        else None,
        churn_called=measured["churn_called"],
        churn_holdout=measured["churn_holdout"],
        mean_probability_listed=float(logged["probability"].mean()),
        mean_untreated_churn_listed=float(truth["p_untreated"].mean()),
    )


def verdict(results: dict[str, RankingResult]) -> Verdict:
    """The best ranking by the truth, and whether its interval clears the others'."""
    order = sorted(results, key=lambda k: -results[k].true_retained_per_100_calls)
    best, rest = order[0], order[1:]
    clears = [k for k in rest if results[best].true_ci[0] > results[k].true_ci[1]]
    return Verdict(
        best_by_truth=best,
        order_by_truth=order,
        best_interval_above=clears,
        overlapping=[k for k in rest if k not in clears],
    )


def compare_rankings(
    cfg: Config,
    *,
    out: Path,
    weeks: int,
    clients: int,
    seed: int,
    capacity: int | None = None,
    rankings: tuple[str, ...] = RANKINGS,
    sim: Any = None,
) -> RankingsReport:
    """Learning run, uplift model, one evaluation run per ranking; writes rankings.json
    (``sim``: the generator's settings, default the repository's ``simulate.yaml``)."""
    from loop.closed_loop import logged_listings, run_loop, uplift_rerank
    from training.uplift_model import fit_two_model

    t0 = time.perf_counter()
    out = Path(out)
    log.info("learning run: seed %d, probability ranking", seed)
    learn = run_loop(
        cfg, out=out / "learn", weeks=weeks, clients=clients, seed=seed,
        capacity=capacity, ranking="probability", sim=sim,
    )  # fmt: skip
    logged = logged_listings(learn, cfg.training.horizon_days)
    uplift_model = fit_two_model(logged)
    rounds, boot_seed = cfg.training.bootstrap_rounds, cfg.retention.holdout_seed
    results: dict[str, RankingResult] = {}
    for name in rankings:
        log.info("evaluation run: seed %d, %s ranking", seed + 1, name)
        extra: dict[str, Any] = (
            {"ranking": "probability", "rerank": uplift_rerank(uplift_model)}
            if name == "uplift"
            else {"ranking": name}
        )
        run = run_loop(
            cfg, out=out / name, weeks=weeks, clients=clients, seed=seed + 1,
            capacity=learn.capacity, model=learn.model, sim=sim, **extra,
        )  # fmt: skip
        results[name] = ranking_result(cfg, run, rounds=rounds, seed=boot_seed)
    report = RankingsReport(
        clients=clients,
        weeks=weeks,
        capacity=learn.capacity,
        learning_seed=seed,
        evaluation_seed=seed + 1,
        learning_rows=int(len(logged)),
        learning_held_out=int((logged["assignment"] == "holdout").sum()),
        uplift_model={
            "kind": "two-model (T-learner): logistic regression per arm",
            "reasons": uplift_model.reasons,
        },
        rankings=results,
        verdict=verdict(results),
        seconds=round(time.perf_counter() - t0, 1),
    )
    (out / REPORT_FILE).write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
    return report
