"""serving.holdout: seeded, stratified random holdout with its assignment probability."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from churn.errors import InputError
from serving.holdout import assign_holdout, risk_deciles, to_scheduler


def _calls(n: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 8, n)
    calls = pd.DataFrame({"rank": np.arange(1, n + 1), "client_id": rng.permutation(n) + 10_000})
    return calls, risk_deciles(p)


def test_deciles_are_equal_count_and_ties_stay_together() -> None:
    d = risk_deciles(np.arange(100.0))
    assert np.bincount(d)[1:].tolist() == [10] * 10 and d[0] == 1 and d[-1] == 10
    tied = risk_deciles(np.array([0.1] * 5 + [0.9] * 5))
    assert len(set(tied[:5])) == 1 and len(set(tied[5:])) == 1 and tied[0] < tied[5]


def test_share_is_held_out_within_every_decile() -> None:
    calls, d = _calls()
    out = assign_holdout(calls, decile=d, share=0.1, seed=0, as_of=date(2025, 6, 2))
    held = out["assignment"] == "holdout"
    for k in range(1, 11):
        n = (d == k).sum()
        assert abs(held[d == k].sum() - 0.1 * n) < 1  # floor or ceil of share x n
    np.testing.assert_allclose(out["propensity"], 0.9)
    assert set(out["assignment"]) == {"call", "holdout"}


def test_every_client_has_the_stated_chance_of_being_held_out() -> None:
    calls, d = _calls(n=37)  # small strata: the remainder is drawn, not rounded away
    counts = np.zeros(len(calls))
    weeks = [date(2025, 1, 6) + pd.Timedelta(weeks=w) for w in range(2000)]
    for w in weeks:
        out = assign_holdout(calls, decile=d, share=0.1, seed=0, as_of=w)
        counts += (out["assignment"] == "holdout").to_numpy()
    assert np.abs(counts / len(weeks) - 0.1).max() < 0.035  # ~5 binomial SDs of 2000 weeks


def test_seeded_by_week_and_independent_of_row_order() -> None:
    calls, d = _calls()
    week = date(2025, 6, 2)
    a = assign_holdout(calls, decile=d, share=0.1, seed=0, as_of=week)
    shuffled = np.random.default_rng(1).permutation(len(calls))
    b = assign_holdout(calls.iloc[shuffled], decile=d[shuffled], share=0.1, seed=0, as_of=week)
    held = lambda f: set(f.loc[f["assignment"] == "holdout", "client_id"])  # noqa: E731
    assert held(a) == held(b)
    assert held(a) != held(
        assign_holdout(calls, decile=d, share=0.1, seed=0, as_of=date(2025, 6, 9))
    )
    assert held(a) != held(assign_holdout(calls, decile=d, share=0.1, seed=1, as_of=week))


def test_holdout_never_reaches_the_scheduler() -> None:
    calls, d = _calls()
    out = assign_holdout(calls, decile=d, share=0.2, seed=0, as_of=date(2025, 6, 2))
    sent = to_scheduler(out)
    assert not set(sent["client_id"]) & set(out.loc[out.assignment == "holdout", "client_id"])
    assert sent["rank"].tolist() == list(range(1, len(sent) + 1))
    assert len(sent) == (out["assignment"] == "call").sum()


def test_no_holdout_and_bad_share() -> None:
    calls, d = _calls(n=50)
    none = assign_holdout(calls, decile=d, share=0.0, seed=0, as_of=date(2025, 6, 2))
    assert (none["assignment"] == "call").all() and (none["propensity"] == 1.0).all()
    with pytest.raises(InputError, match="holdout_share"):
        assign_holdout(calls, decile=d, share=1.0, seed=0, as_of=date(2025, 6, 2))
    with pytest.raises(InputError, match="decile"):
        assign_holdout(calls, decile=d[:3], share=0.1, seed=0, as_of=date(2025, 6, 2))
