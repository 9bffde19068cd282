"""Scores for a snapshot: calibrated probability, model band, and the rule next to it.

One function serves the batch CLI, the service and the benchmarks, so "the score of
client X" means the same number everywhere. The rule columns come from the snapshot
when present (the feature layer computed them); a frame of hand-typed features without
them gets them computed from the same definitions (``features.rules``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.config import RulesConfig
from features.rules import (
    RULE_COLUMNS,
    SNAPSHOT_INPUTS,
    available,
    band_series,
    rule_columns_frame,
)
from training.model import ChurnModel

SCORE_COLUMNS = ["client_id", "probability", "risk_band", "contact_index", "rule_band"]


def with_rule_columns(snapshot: pd.DataFrame, rules: RulesConfig | None = None) -> pd.DataFrame:
    """``snapshot`` with every rule column filled: absent or null cells are computed from
    the snapshot inputs (or, for ``rule_band``, from ``contact_index``); given ones are kept.
    Where the configured source has no rule indicator (:func:`features.rules.available`)
    ``contact_index`` and ``rule_band`` are null: a source whose columns happen to share a
    name with the rule's inputs does not get this centre's rule computed from them."""
    rules = rules or RulesConfig()
    if not available():  # the source lacks the rule's inputs: null, never guessed
        return snapshot.assign(contact_index=np.nan, rule_band=None)
    gaps = [c for c in RULE_COLUMNS if c not in snapshot.columns or snapshot[c].isna().any()]
    if not gaps:
        return snapshot
    if all(c in snapshot.columns for c in SNAPSHOT_INPUTS):
        computed = rule_columns_frame(snapshot, rules)
    elif "contact_index" in snapshot.columns and snapshot["contact_index"].notna().all():
        computed = pd.DataFrame({"rule_band": band_series(snapshot["contact_index"], rules.bands)})
    else:
        return snapshot  # model.prepare names whatever is still missing
    filled = {
        c: snapshot[c].where(snapshot[c].notna(), computed[c])
        if c in snapshot.columns
        else computed[c]
        for c in gaps
        if c in computed.columns
    }
    return snapshot.assign(**filled)


def score_frame(
    model: ChurnModel,
    snapshot: pd.DataFrame,
    rules: RulesConfig | None = None,
    raw: np.ndarray | None = None,
) -> pd.DataFrame:
    """client_id, probability, risk_band, contact_index, rule_band for every row (same index).

    ``raw``: the booster's raw scores of these rows when already known (the weekly run
    rebuilds them from the SHAP contributions it computes anyway), calibrated as usual."""
    frame = with_rule_columns(snapshot, rules)
    if frame.empty:
        return pd.DataFrame({c: [] for c in SCORE_COLUMNS}, index=frame.index)
    if raw is None:
        proba = model.predict_proba(frame)
    elif len(raw) != len(frame):
        raise ValueError(f"raw: {len(raw)} scores for {len(frame)} rows")
    else:
        proba = model.calibrate(raw)
    return pd.DataFrame(
        {
            "client_id": frame["client_id"].to_numpy(),
            "probability": proba,
            "risk_band": model.risk_band(proba),
            "contact_index": frame["contact_index"].astype("float64").to_numpy(),
            "rule_band": frame["rule_band"].astype("str").to_numpy(),  # null stays null
        },
        index=frame.index,
    )
