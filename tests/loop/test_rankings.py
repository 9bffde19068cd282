"""The comparison's verdict and report (pure parts); the uplift re-ranking of a week's pool
is tested with the week's builder (tests/serving/test_weekly.py)."""

from __future__ import annotations

import json

from loop.rankings import RankingResult, RankingsReport, verdict


def _result(name: str, mean: float, ci: list[float]) -> RankingResult:
    return RankingResult(
        ranking=name, calls=10, held_out=2, true_retained_per_100_calls=mean, true_ci=ci,
        realised_retained_per_100_calls=mean, measured_retained_per_100_calls=None,
        measured_ci=None, churn_called=None, churn_holdout=None,
        mean_probability_listed=0.3, mean_untreated_churn_listed=0.25,
    )  # fmt: skip


def test_verdict_says_whether_the_best_clears_the_others() -> None:
    r = {
        "a": _result("a", 5.0, [4.0, 6.0]),
        "b": _result("b", 3.0, [2.0, 3.5]),
        "c": _result("c", 4.5, [3.8, 5.2]),
    }
    v = verdict(r)
    assert v.best_by_truth == "a" and v.order_by_truth == ["a", "c", "b"]
    assert v.best_interval_above == ["b"] and v.overlapping == ["c"]


def test_the_report_serialises_to_the_rankings_json_layout() -> None:
    r = {"a": _result("a", 5.0, [4.0, 6.0]), "b": _result("b", 3.0, [2.0, 3.5])}
    report = RankingsReport(
        clients=400, weeks=4, capacity=13, learning_seed=7, evaluation_seed=8,
        learning_rows=52, learning_held_out=5, uplift_model={"kind": "k", "reasons": []},
        rankings=r, verdict=verdict(r), seconds=1.5,
    )  # fmt: skip
    doc = json.loads(json.dumps(report.as_dict()))
    assert list(doc) == [
        "clients", "weeks", "capacity", "learning_seed", "evaluation_seed", "learning_rows",
        "learning_held_out", "uplift_model", "rankings", "verdict", "seconds",
    ]  # fmt: skip
    assert doc["rankings"]["b"]["true_ci"] == [2.0, 3.5]
    assert doc["verdict"] == {
        "best_by_truth": "a",
        "order_by_truth": ["a", "b"],
        "best_interval_above": ["b"],
        "overlapping": [],
    }
