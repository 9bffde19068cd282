"""Realised performance: the training label function on the week's rows, a week is judged
only once its whole horizon is observed, metrics equal sklearn's, groups and deciles add up."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from monitoring.performance import label_week, matured, realised_performance


def test_matured_only_when_the_whole_window_is_observed() -> None:
    end = pd.Timestamp("2025-08-31", tz="UTC")
    assert matured(date(2025, 6, 2), 90, end)  # 2025-06-02 + 90 days = 2025-08-31
    assert not matured(date(2025, 6, 3), 90, end)
    assert matured(date(2025, 6, 2), 90, pd.Timestamp("2025-08-31"))  # naive end read as UTC


def test_label_week_uses_the_training_window() -> None:
    as_of = pd.Timestamp("2025-03-03")
    scores = pd.DataFrame(
        {"client_id": [1, 2, 3, 4], "as_of": as_of, "probability": [0.9, 0.5, 0.2, 0.1]}
    )
    events = pd.DataFrame(
        {
            "client_id": [1, 2, 3],
            # at as_of (in the window), the window's last day, the first day after it
            "ts": pd.to_datetime(["2025-03-03", "2025-05-31", "2025-06-01"], utc=True),
        }
    )
    out = label_week(scores, events, 90, pd.Timestamp("2025-12-31", tz="UTC"))
    assert out.set_index("client_id")["label"].to_dict() == {1: 1, 2: 1, 3: 0, 4: 0}
    waiting = label_week(scores, events, 90, pd.Timestamp("2025-05-01", tz="UTC"))
    assert waiting.empty  # "no churn seen yet" is not "no churn"


def test_label_week_uses_the_training_churn_types() -> None:
    as_of = pd.Timestamp("2025-03-03", tz="UTC")
    scores = pd.DataFrame({"client_id": [1, 2, 3], "as_of": as_of, "probability": 0.5})
    events = pd.DataFrame(
        {
            "client_id": [1, 2],
            "ts": pd.to_datetime(["2025-03-10", "2025-03-10"], utc=True),
            "churn_type": pd.Series(["termination", "debt_suspension"], dtype="str"),
        }
    )
    end = pd.Timestamp("2025-12-31", tz="UTC")
    out = label_week(scores, events, 90, end, ["termination"])
    assert out.set_index("client_id")["label"].to_dict() == {1: 1, 3: 0}  # 2: left out


def test_realised_performance_matches_sklearn_and_groups_add_up() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    p = rng.beta(1, 12, n)
    y = (rng.random(n) < p).astype(int)
    frame = pd.DataFrame(
        {
            "probability": p,
            "label": y,
            "segment": pd.Series(rng.choice(["small_medium", "large"], n), dtype="str"),
            "category": pd.Series(rng.choice(["A", "B", "C"], n), dtype="str"),
        }
    )
    out = realised_performance(frame, bins=10)
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert out["brier"] == pytest.approx(brier_score_loss(y, p), rel=1e-9)
    assert out["rows"] == n and out["churners"] == y.sum()
    calib = out["calibration"]
    assert [c["decile"] for c in calib] == list(range(1, 11))
    assert sum(c["count"] for c in calib) == n
    assert calib[-1]["mean_predicted"] > calib[0]["mean_predicted"]
    for column in ("segment", "category"):
        groups = out["by"][column]
        assert sum(g["rows"] for g in groups) == n
        for g in groups:
            mask = (frame[column] == g["value"]).to_numpy()
            assert g["roc_auc"] == pytest.approx(roc_auc_score(y[mask], p[mask]), abs=1e-12)


def test_one_class_has_no_auc() -> None:
    frame = pd.DataFrame({"probability": [0.1, 0.2, 0.3], "label": [0, 0, 0]})
    out = realised_performance(frame, by=("segment",))
    assert out["roc_auc"] is None and out["brier"] == pytest.approx((0.01 + 0.04 + 0.09) / 3)
    assert out["by"] == {}
