"""The calibration goal of issue 23 on the demo base, through the benchmark script: the
configured calibrator, replayed on the newest six monthly blocks, has pooled ECE <= 0.005,
mean predicted within 5 % of observed and its top-decile mean inside the client-bootstrap
interval of the observed rate (minutes: generates the demo base and tunes 20 trials)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_configured_calibrator_meets_the_goal_on_the_demo_base(tmp_path: Path) -> None:
    script = REPO / "benchmarks" / "calibration.py"
    args = ["--clients", "3000", "--months", "24", "--seed", "42", "--cache-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, check=True
    )
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(line["blocks"]) == 6
    assert line["configured"] == line["winner"], line["calibrators"]
    served = line["calibrators"][line["configured"]]
    assert served["goal_met"], served
    assert served["ece"] <= 0.005 and abs(served["calibration_in_the_large"] - 1) <= 0.05
    low, high = served["top_decile_observed_ci"]
    assert low <= served["top_decile_predicted"] <= high
