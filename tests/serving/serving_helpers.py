"""A small but real snapshot and ChurnModel for library-level serving tests.

The frame follows the snapshot contract (features/catalog.py) with the rule columns
computed by features.rules; the model is a real LightGBM booster with Platt calibration
(what training fits, and what explanations need), trained on a label that depends on
logins, debt and competitor presence so explanations have something true to find.
"""

from __future__ import annotations

import math
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from churn.config import RulesConfig
from features.catalog import CATALOG, CATEGORICAL_FEATURES, MODEL_FEATURES
from features.contract import CATEGORIES, COMPETITOR_PRESENT, SEGMENTS, SERVICE_MODES
from features.rules import rule_columns_frame
from training.calibration import fit_platt
from training.model import ChurnModel

LEVELS: dict[str, list[str]] = {
    "category": list(CATEGORIES),
    "segment": list(SEGMENTS),
    "service_mode": list(SERVICE_MODES),
    "region": ["north", "south", "centre"],
    "competitor_present": list(COMPETITOR_PRESENT),
}


def make_snapshot(n: int = 400, seed: int = 0, as_of: str = "2025-06-01") -> pd.DataFrame:
    """A random snapshot-like frame with every catalog column in catalog order."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {
        "client_id": np.arange(1000, 1000 + n, dtype="int64"),
        "as_of": pd.Series(pd.Timestamp(as_of, tz="UTC"), index=range(n)).astype(
            "datetime64[us, UTC]"
        ),
    }
    for f in CATALOG:
        if (
            f.name in data
            or f.name in ("contact_index", "rule_band")
            or f.name.endswith("_indicator")
        ):
            continue
        if f.name == "centre_id":  # one centre (tests of a network set their own)
            data[f.name] = pd.Series([None] * n, dtype="str")
        elif f.categorical:
            values = rng.choice(LEVELS[f.name], size=n).astype(object)
            values[rng.random(n) < 0.05] = None
            data[f.name] = pd.Series(values, dtype="str")
        elif f.dtype == "int":
            high = 2 if f.name.endswith(("_met", "_trained", "_arrived", "_180d")) else 30
            data[f.name] = rng.integers(0, high, size=n).astype("int64")
        else:
            x = rng.gamma(2.0, 500.0, size=n)
            x[rng.random(n) < 0.1] = np.nan
            data[f.name] = x
    frame = pd.DataFrame(data)
    frame.loc[frame.index[::3], "logins_30d"] = 0
    frame.loc[frame.index[::4], "overdue_debt_rub"] = 0.0
    frame["monthly_fee_rub"] = rng.uniform(2_000, 30_000, size=n).round(0)
    frame["segment"] = np.where(frame["monthly_fee_rub"] > 15_000, "large", "small_medium")
    frame["training_coverage"] = rng.uniform(0, 1, size=n)
    rules = rule_columns_frame(frame, RulesConfig())
    frame = frame.assign(**rules)
    return frame[[f.name for f in CATALOG]]


def make_model(snapshot: pd.DataFrame, seed: int = 0) -> ChurnModel:
    """A real booster + Platt calibrator on a label driven by a few known features."""
    rng = np.random.default_rng(seed)
    logit = (
        -1.0
        + 1.5 * (snapshot["logins_30d"] == 0)
        + 1.0 * (snapshot["overdue_debt_rub"].fillna(0) > 0)
        + 1.2 * (snapshot["competitor_present"] == "yes")
        - 0.8 * snapshot["key_user_trained"]
    ).to_numpy(dtype=float)
    y = (rng.random(len(snapshot)) < 1 / (1 + np.exp(-logit))).astype(int)
    model = ChurnModel(
        booster=None,
        calibrator=None,
        features=list(MODEL_FEATURES),
        categorical_levels={c: LEVELS[c] for c in CATEGORICAL_FEATURES},
        risk_thresholds={"high": 0.5, "dynamic": 0.3},
    )
    X = model.prepare(snapshot)
    params = {
        "objective": "binary",
        "num_leaves": 7,
        "learning_rate": 0.1,
        "verbose": -1,
        "seed": seed,
    }
    model.booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=30)
    raw = model.booster.predict(X, raw_score=True)
    model.calibrator = fit_platt(raw, y, block="tiny")
    return model


def assert_same_answer(got: Any, want: Any, where: str = "") -> None:
    """Equal structure and text; numbers equal to 1e-9 (the weekly run's TreeSHAP and
    LightGBM's agree to about 1e-15, not bit for bit)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), where
        for key in want:
            assert_same_answer(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same_answer(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert isinstance(got, float | int), where
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9) or (
            math.isnan(got) and math.isnan(want)
        ), f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"
