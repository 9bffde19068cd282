"""The comparison's verdict (pure part); the uplift re-ranking of a week's pool is tested
with the week's builder (tests/serving/test_weekly.py)."""

from __future__ import annotations

from cli.ranking_compare import verdict


def test_verdict_says_whether_the_best_clears_the_others() -> None:
    r = {
        "a": {"true_retained_per_100_calls": 5.0, "true_ci": [4.0, 6.0]},
        "b": {"true_retained_per_100_calls": 3.0, "true_ci": [2.0, 3.5]},
        "c": {"true_retained_per_100_calls": 4.5, "true_ci": [3.8, 5.2]},
    }
    v = verdict(r)
    assert v["best_by_truth"] == "a" and v["order_by_truth"] == ["a", "c", "b"]
    assert v["best_interval_above"] == ["b"] and v["overlapping"] == ["c"]
