"""A model trained on the whole network, evaluated centre by centre (issue 12, item 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn.config import Config
from training.evaluate import CallPolicy, HeldOutBlock, evaluate_by_centre
from training.pipeline import evaluate, fit_model, labelled, split_blocks


def test_by_centre_metrics_are_those_of_each_centres_rows() -> None:
    rng = np.random.default_rng(0)
    dates = pd.date_range("2025-01-01", periods=3, freq="MS", tz="UTC")
    n = 3000
    as_of = dates.to_numpy()[rng.integers(0, 3, n)]
    centre = np.where(rng.random(n) < 0.3, "C02", "C01")
    latent = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * latent - 2)))).astype(float)
    model = latent + rng.normal(0, 0.5, n)
    model[centre == "C02"] = rng.normal(size=(centre == "C02").sum())  # useless in C02
    client = np.arange(n)
    policy = CallPolicy(capacity_per_week=10)
    block = HeldOutBlock(y, {"model": model, "reference": None}, as_of, client, policy)
    out = evaluate_by_centre(block, centre)
    assert set(out) == {"C01", "C02"}
    for name, entry in out.items():
        m = centre == name
        assert entry["rows"] == m.sum() and entry["positives"] == y[m].sum()
        assert entry["model"]["roc_auc"] == pytest.approx(roc_auc_score(y[m], model[m]))
        assert entry["reference"] is None
        assert entry["capacity_per_week"] == 10  # the capacity applies within the centre
    assert out["C01"]["model"]["roc_auc"] > 0.75 > 0.6 > out["C02"]["model"]["roc_auc"]
    # a single centre's block: no per-centre section
    none = np.full(n, None, dtype=object)
    assert (
        evaluate_by_centre(HeldOutBlock(y, {"model": model}, as_of, client, policy), none) is None
    )


def test_network_model_is_evaluated_per_centre_in_the_report(
    base_config: Config, synthetic, synthetic_files
) -> None:
    """Trained on both centres' rows (centre_id is no model input), the test block is
    scored once and each centre's figures come from its own rows."""
    cfg = base_config.override(
        training__n_trials=2, training__timeout_s=60, training__bootstrap_rounds=20
    )
    raw = synthetic_files[0]
    blocks = split_blocks(cfg, labelled(cfg, synthetic.snapshots, raw))
    model, _ = fit_model(cfg, blocks)
    assert "centre_id" not in model.features
    result, scores = evaluate(cfg, model, blocks, raw)
    by_centre = result.by_centre
    assert set(by_centre) == {"C01", "C02"}
    test = blocks.test
    assert sum(e["rows"] for e in by_centre.values()) == len(test)
    for name, entry in by_centre.items():
        m = (test["centre_id"] == name).to_numpy()
        y = test["label"].to_numpy()[m]
        assert entry["model"]["roc_auc"] == pytest.approx(roc_auc_score(y, scores["model"][m]))
        assert entry["rule"]["roc_auc"] == pytest.approx(roc_auc_score(y, scores["rule"][m]))
        assert entry["model"]["roc_auc"] > 0.6
