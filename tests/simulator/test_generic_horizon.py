"""The generic generator's reference (simulator/generic_horizon.py): the true probability
that a customer's active period ends within the label's 90 days, given the state at each
monthly as_of.

Checked against the labels the loop itself computes (``churn import --source``, snapshots,
``training.labels`` on the periods' ends): the reference covers exactly the labelled rows
of the simulated window, its mean and its fifths match the observed label rate within
binomial noise, it ranks the labels far above chance, and its boundaries are the label's
(a renewal ending exactly at as_of counts, one at as_of + 90 days does not). The forward
paths leave the tables byte for byte as they are without them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from features.generic.load import import_source
from features.generic.spec import load_spec
from simulator.generic import GenericSimConfig, generate, write
from simulator.truth import TRUTH_DIR, TRUTH_HORIZON_FILE
from training.generic import labelled
from training.pipeline import reference_scores

SPEC = Path(__file__).resolve().parents[2] / "configs" / "sources" / "generic_demo.yaml"
CFG = GenericSimConfig(customers=1500, months=18, seed=19, reference_paths=100)
HORIZON = pd.Timedelta(days=CFG.horizon_days)
# consecutive monthly windows overlap by two months, so one period end counts in up to
# three rows: the binomial standard error of a mean is widened by sqrt(3)
OVERLAP = np.sqrt(3.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """1 500 customers over 18 months, imported and labelled as the loop does, with the
    reference of each labelled row of the window (rows before it: legacy customers)."""
    d = tmp_path_factory.mktemp("generic_horizon")
    write(CFG, d / "export")
    spec = load_spec(SPEC)
    import_source(spec, d / "export", d / "raw")
    frame, _ = labelled(spec, d / "raw")
    path = d / "export" / TRUTH_DIR / TRUTH_HORIZON_FILE
    ref = pd.read_parquet(path)
    rows = frame.merge(ref, on=["client_id", "as_of"], how="outer", indicator=True)
    return {"export": d / "export", "frame": frame, "ref": ref, "rows": rows, "path": path}


def _window(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["as_of"] >= pd.Timestamp(CFG.start, tz="UTC")]


def test_reference_leaves_the_tables_as_they_are_and_is_reproducible() -> None:
    cfg = GenericSimConfig(customers=200, months=8, seed=4, reference_paths=20)
    with_ref, without = generate(cfg), generate(cfg.with_(reference_paths=0))
    assert "_truth_horizon" in with_ref and "_truth_horizon" not in without
    for name in without:
        pd.testing.assert_frame_equal(with_ref[name], without[name])
    again = generate(cfg)["_truth_horizon"]
    pd.testing.assert_frame_equal(again, with_ref["_truth_horizon"])
    other = generate(cfg.with_(seed=5))["_truth_horizon"]
    assert not other["probability"].equals(with_ref["_truth_horizon"]["probability"])


def test_reference_rows_are_exactly_the_labelled_rows_of_the_window(run: dict) -> None:
    rows = run["rows"]
    labelled_last = run["frame"]["as_of"].max()
    window = _window(rows)
    assert (window["_merge"] != "left_only").all(), "a labelled row without a reference"
    # a reference row up to the last labelled as_of is a customer the snapshot holds
    later = window[window["as_of"] <= labelled_last]
    assert (later["_merge"] == "both").all(), later[later["_merge"] != "both"].head()
    # as_of months whose horizon reaches past the window are not written
    end = pd.Timestamp(CFG.start, tz="UTC") + pd.DateOffset(months=CFG.months)
    assert (run["ref"]["as_of"] + HORIZON <= end).all()
    assert (run["ref"]["as_of"].dt.day == 1).all() and run["ref"]["probability"].between(0, 1).all()
    assert len(later) > 10_000


def test_reference_mean_and_fifths_match_the_observed_label_rate(run: dict) -> None:
    both = run["rows"][run["rows"]["_merge"] == "both"]
    p, y = both["probability"].to_numpy(), both["label"].to_numpy()

    def se(q: np.ndarray) -> float:
        return float(np.sqrt(np.mean(q) * (1 - np.mean(q)) / len(q)) * OVERLAP)

    assert abs(p.mean() - y.mean()) < 3 * se(p), (p.mean(), y.mean())
    fifth = pd.qcut(pd.Series(p).rank(method="first"), 5, labels=False).to_numpy()
    for k in range(5):
        pk, yk = p[fifth == k], y[fifth == k]
        assert abs(pk.mean() - yk.mean()) < 3 * se(pk) + 0.003, (k, pk.mean(), yk.mean())
    # the fifths are far apart: the reference separates, it is not the base rate
    assert p[fifth == 4].mean() > 4 * p[fifth == 1].mean()


def test_reference_ranks_the_labels_far_above_chance(run: dict) -> None:
    both = run["rows"][run["rows"]["_merge"] == "both"]
    auc = roc_auc_score(both["label"], both["probability"])
    # the tuned model on the generic signals reaches about 0.80 on this generator
    # (tests/simulator/test_generic_sim.py, docs/results.md); the ceiling is above it
    assert auc > 0.79, auc


def test_a_renewal_ending_at_as_of_counts_and_one_at_the_horizon_does_not(run: dict) -> None:
    """Yearly payers leave only at a renewal: the reference is positive exactly when their
    current subscription ends in [as_of, as_of + 90 days), the label's window."""
    subs = pd.read_parquet(run["export"] / "subscriptions.parquet")
    yearly = subs[subs["billing"] == 12]
    ref = run["rows"][run["rows"]["_merge"] == "both"]
    # after the window's first month: the generator closes every legacy contract at the
    # window's start and opens the running one there (no renewal decision at that instant)
    ref = ref[ref["as_of"] > pd.Timestamp(CFG.start, tz="UTC")]
    cur = ref.merge(yearly, left_on="client_id", right_on="customer_id")
    cur = cur[(cur["start_date"] < cur["as_of"]) & (cur["end_date"] >= cur["as_of"])]
    assert cur.groupby(["client_id", "as_of"]).size().max() == 1
    inside = (cur["end_date"] >= cur["as_of"]) & (cur["end_date"] < cur["as_of"] + HORIZON)
    assert (cur.loc[inside, "probability"] > 0).all()
    assert (cur.loc[~inside, "probability"] == 0).all()
    assert (cur.loc[~inside, "label"] == 0).all()
    at_as_of = cur["end_date"] == cur["as_of"]
    at_horizon = cur["end_date"] == cur["as_of"] + HORIZON
    assert at_as_of.sum() > 0 and at_horizon.sum() > 0, "both boundaries occur in the data"
    assert (cur.loc[at_as_of, "probability"] > 0).all()
    assert (cur.loc[at_horizon, "probability"] == 0).all()


def test_a_monthly_payers_decision_at_as_of_is_the_last_months_hazard(run: dict) -> None:
    """The renewal ending exactly at as_of was decided on the month before's activity (past
    at as_of): its hazard is a floor of the reference, and the reference stays below the
    chance of leaving at any of the window's renewals at the worst hazard seen."""
    hz = pd.read_parquet(run["export"] / TRUTH_DIR / "hazard.parquet")
    start = pd.Timestamp(CFG.start, tz="UTC")
    next_month = {m: start + pd.DateOffset(months=m + 1) for m in range(CFG.months)}
    hz["as_of"] = hz["month"].map(next_month).astype("datetime64[us, UTC]")
    subs = pd.read_parquet(run["export"] / "subscriptions.parquet")
    monthly = set(subs.loc[subs["billing"] == 1, "customer_id"]) - set(
        subs.loc[subs["billing"] == 12, "customer_id"]
    )
    ref = run["ref"][run["ref"]["client_id"].isin(monthly)]
    m = ref.merge(hz, left_on=["client_id", "as_of"], right_on=["customer_id", "as_of"])
    assert len(m) > 5_000
    assert (m["probability"] >= m["hazard"] - 1e-12).all()
    assert (m["probability"] > m["hazard"]).mean() > 0.99  # later renewals add to it


def test_the_file_is_what_churn_train_reference_reads(run: dict) -> None:
    meta = pq.read_schema(run["path"]).metadata
    assert meta[b"horizon_days"] == b"90" and meta[b"paths"] == b"100"
    frame = run["frame"]
    ref = reference_scores(run["path"], frame, CFG.horizon_days)
    assert ref is not None and ref.paths == 100 and ref.horizon_days == 90
    before = int((frame["as_of"] < pd.Timestamp(CFG.start, tz="UTC")).sum())
    assert ref.missing_rows == before  # only the legacy rows before the window lack one
