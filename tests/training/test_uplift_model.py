"""The two-model uplift ranking recovers who a call helps on data with a known effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.errors import InputError
from training.uplift_model import fit_two_model


def listings(n: int, seed: int) -> pd.DataFrame:
    """Random arms; churn risk from the probability; a call halves the risk of debtors only."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.5, n)
    debt = rng.random(n) < 0.4
    called = rng.random(n) < 0.7
    risk = np.where(called & debt, p * 0.3, p)
    return pd.DataFrame(
        {
            "assignment": np.where(called, "call", "holdout"),
            "probability": p,
            "overdue_debt_rub": np.where(debt, 5000.0, 0.0),
            "logins_30d": rng.poisson(10, n).astype(float),
            "competitor_present": np.where(rng.random(n) < 0.2, "yes", "no"),
            "reason_group": np.where(debt, "financial", "low_engagement"),
            "churned": (rng.random(n) < risk).astype(int),
        }
    )


def test_uplift_is_higher_where_the_call_works() -> None:
    model = fit_two_model(listings(6000, 1))
    test = listings(2000, 2)
    uplift = model.predict(test)
    debt = test["overdue_debt_rub"] > 0
    assert uplift[debt].mean() > uplift[~debt].mean() + 0.05
    assert abs(uplift[~debt].mean()) < 0.05  # no effect without debt
    # within debtors the effect grows with the risk (0.7 x p)
    hi = debt & (test["probability"] > 0.35)
    lo = debt & (test["probability"] < 0.15)
    assert uplift[hi].mean() > uplift[lo].mean()
    assert model.reasons == ["financial", "low_engagement"]


def test_bad_input_is_named() -> None:
    frame = listings(300, 3)
    with pytest.raises(InputError, match="missing column"):
        fit_two_model(frame.drop(columns=["logins_30d"]))
    one_class = frame.assign(
        churned=np.where(frame["assignment"] == "holdout", 0, frame["churned"])
    )
    with pytest.raises(InputError, match="holdout arm needs churners and stayers"):
        fit_two_model(one_class)
    model = fit_two_model(frame)
    with pytest.raises(InputError, match="missing column"):
        model.predict(frame.drop(columns=["reason_group"]))
