"""The issue's quality target, measured on a demo-sized generated base (slow: ~4 minutes).

On test months the model never saw, the tuned model must beat the rule indicator by a
margin whose cluster-bootstrap 95 % interval excludes zero, get at least 85 % of the way
from chance to the reference's ROC-AUC, and not beat the reference beyond noise.

The reference is the true 90-day churn probability given the state at as_of (Monte Carlo,
32 paths): the label's own probability, so it is a ceiling. Threshold re-derived on it
(2026-12-03, 3000 x 24, seed 42, 20 trials): model 0.787, rule 0.682, reference 0.814;
gap closed 0.913 (client-bootstrap CI 0.869 .. 0.964); reference minus model 0.027
(0.011 .. 0.041); AUC gain 0.105 (0.062 .. 0.146). 0.85 sits below the gap's interval.
(Against the old first-month-hazard "oracle", 0.802, the same model closed 0.95.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from churn.config import Config
from simulator.config import SimulateConfig
from simulator.truth import TRUTH_DIR, TRUTH_HORIZON_FILE

CLIENTS, MONTHS, SEED, TRIALS = 3000, 24, 42, 20
MIN_GAP_CLOSED = 0.85


@pytest.mark.slow
def test_model_closes_gap_to_reference_and_beats_rule(
    fresh_mlflow: Config, base_sim: SimulateConfig, tmp_path: Path
) -> None:
    from simulator.generate import simulate
    from training.pipeline import run_train

    sim = base_sim.override(clients=CLIENTS, months=MONTHS, seed=SEED)
    cfg = fresh_mlflow.override(
        training__n_trials=TRIALS,
        training__timeout_s=600,
        training__max_boost_rounds=1000,
        training__bootstrap_rounds=500,
        paths__features_path=tmp_path / "features" / "snapshots.parquet",
    )
    raw = tmp_path / "raw"
    simulate(sim, raw)
    # --raw only: run_train builds the monthly snapshots itself
    truth = raw / TRUTH_DIR / TRUTH_HORIZON_FILE
    report = run_train(
        cfg, raw=raw, features_file=None, report=tmp_path / "train.json", reference=truth
    ).to_dict()
    assert cfg.paths.features_path.exists()

    model, rule, ref = (report["test"][k]["roc_auc"] for k in ("model", "rule", "reference"))
    print(f"model {model:.4f} rule {rule:.4f} reference {ref:.4f} gap {report['gap_closed']:.3f}")
    assert report["reference_info"]["paths"] == sim.reference.paths
    assert report["gap_closed"] >= MIN_GAP_CLOSED
    assert report["auc_gain"]["ci_low"] > 0
    assert model > rule
    assert report["reference_minus_model"]["ci_high"] > 0  # not above the ceiling
