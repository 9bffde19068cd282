"""PSI: exact on a hand-computed case, ~0 for two samples of one distribution, large for a
shift, missing values and new levels count, the bands' edges, the drift table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from monitoring.psi import band, bin_shares, drift_table, psi, reference_bins


def _hand_psi(r: list[float], c: list[float]) -> float:
    return sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c, strict=True))


def test_psi_matches_the_formula_numeric_and_categorical() -> None:
    ref = np.array([0] * 50 + [1] * 50)
    cur = np.array([0] * 25 + [1] * 75)
    expected = _hand_psi([0.5, 0.5], [0.25, 0.75])
    assert psi(ref, cur) == pytest.approx(expected, rel=1e-9)
    as_text = pd.Series(np.where(ref == 1, "yes", "no"), dtype="str")
    cur_text = pd.Series(np.where(cur == 1, "yes", "no"), dtype="str")
    assert psi(as_text, cur_text) == pytest.approx(expected, rel=1e-9)


def test_same_distribution_is_stable_and_a_shift_is_significant() -> None:
    rng = np.random.default_rng(0)
    ref, same = rng.normal(size=5000), rng.normal(size=3000)
    assert psi(ref, same) < 0.02  # ~ (10 - 1) * (1/5000 + 1/3000) = 0.005 expected
    assert psi(ref, rng.normal(1.0, 1.0, 3000)) > 0.25
    counts = rng.poisson(20, 5000)
    assert psi(counts, rng.poisson(20, 3000)) < 0.02
    assert psi(counts, rng.poisson(10, 3000)) > 1.0  # halved login counts


def test_quantile_bins_hold_a_tenth_each_and_ties_collapse() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=10_000)
    shares = bin_shares(ref, reference_bins(ref, 10, categorical=False))
    assert len(shares) == 11  # ten bins + missing
    assert all(v == pytest.approx(0.1, abs=0.002) for k, v in shares.items() if k != "(missing)")
    flag = (rng.random(10_000) < 0.05).astype(int)  # a 0/1 flag: all inner quantiles are 0
    spec = reference_bins(flag, 10, categorical=False)
    assert spec.edges == (0.0,)
    assert psi(flag, (rng.random(3000) < 0.4).astype(int)) > 0.25


def test_missing_values_and_new_levels_are_drift() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(size=4000)
    cur = rng.normal(size=4000)
    cur[:1600] = np.nan  # 40 % of the week arrives empty
    assert psi(ref, cur) > 0.25
    levels = pd.Series(rng.choice(["A", "B", "C"], 4000), dtype="str")
    new = levels.copy()
    new[:1000] = "D"  # a level the reference never had
    assert psi(levels, levels.sample(frac=1, random_state=0)) == pytest.approx(0.0, abs=1e-12)
    assert psi(levels, new) > 0.25
    with_missing = levels.where(rng.random(4000) > 0.3)
    assert psi(levels, with_missing) > 0.25


def test_empty_side_is_an_error() -> None:
    with pytest.raises(ValueError, match="both have rows"):
        psi(np.array([1.0, 2.0]), np.array([]))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, "stable"), (0.0999, "stable"), (0.1, "moderate"), (0.25, "moderate"),
     (0.2501, "significant"), (3.0, "significant")],
)  # fmt: skip
def test_bands(value: float, expected: str) -> None:
    assert band(value, 0.1, 0.25) == expected


def test_drift_table_ranks_features_and_names_a_missing_one() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    ref = pd.DataFrame(
        {
            "logins_30d": rng.poisson(20, n),
            "monthly_fee_rub": rng.lognormal(9, 0.5, n),
            "category": pd.Series(rng.choice(["A", "B", "C"], n), dtype="str"),
        }
    )
    week = ref.sample(n=2000, random_state=1).reset_index(drop=True)
    week["logins_30d"] = rng.poisson(8, 2000)
    table = drift_table(ref, week, ["logins_30d", "monthly_fee_rub", "category"])
    assert table["feature"].tolist()[0] == "logins_30d"
    by = table.set_index("feature")
    assert by.loc["logins_30d", "band"] == "significant"
    assert by.loc["monthly_fee_rub", "band"] == "stable"
    assert by.loc["category", "kind"] == "categorical" and by.loc["category", "band"] == "stable"
    assert (table["reference_rows"] == n).all() and (table["current_rows"] == 2000).all()
    with pytest.raises(ValueError, match="week lacks feature column.*category"):
        drift_table(ref, week.drop(columns=["category"]), ["logins_30d", "category"])
