"""The oracle score is the generator's hazard of the month that starts at as_of."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.pipeline import oracle_scores


def _write_hazard(raw: Path, rows: list[tuple[int, str, float]]) -> None:
    (raw / "_truth").mkdir(parents=True)
    frame = pd.DataFrame(rows, columns=["client_id", "month", "hazard"])
    frame["month"] = pd.to_datetime(frame["month"], utc=True)
    frame.to_parquet(raw / "_truth" / "hazard.parquet", index=False)


def test_point_in_time_and_horizon_hazard(tmp_path: Path) -> None:
    _write_hazard(
        tmp_path,
        [
            (1, "2024-01-01", 0.1),
            (1, "2024-02-01", 0.2),
            (1, "2024-03-01", 0.3),
            (1, "2024-04-01", 0.9),  # outside a 90-day horizon from 2024-01-01
            (2, "2024-01-01", 0.5),  # churned in January: no later months
        ],
    )
    snaps = pd.DataFrame(
        {
            "client_id": [1, 1, 2],
            "as_of": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01"], utc=True),
        }
    )
    point, horizon = oracle_scores(tmp_path, snaps, horizon_days=90)
    np.testing.assert_allclose(point, [0.1, 0.2, 0.5])
    expected_1 = 1 - (0.9 * 0.8 * 0.7)
    expected_2 = 1 - (0.5 * 0.5 * 0.5)  # last hazard carried forward after churn
    np.testing.assert_allclose(horizon[[0, 2]], [expected_1, expected_2])


def test_no_truth_means_no_oracle(tmp_path: Path) -> None:
    snaps = pd.DataFrame({"client_id": [1], "as_of": pd.to_datetime(["2024-01-01"], utc=True)})
    assert oracle_scores(tmp_path, snaps, horizon_days=90) is None
