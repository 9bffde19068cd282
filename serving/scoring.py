"""Scores for a snapshot: calibrated probability, model band, and the rule next to it.

``model_matrix`` is the serving fast path of ``ChurnModel.prepare``: the same selection
and casts, but straight into one float matrix (categories as their codes in the model's
own level lists, which is exactly what LightGBM does with a categorical DataFrame). It
skips pandas' per-column frame building, which dominated single-client latency (about
100 ms of a 150 ms call on the shared box); the tests check it reproduces
``model.predict_raw`` exactly.

One function serves the batch CLI, the service and the benchmarks, so "the score of
client X" means the same number everywhere. The rule columns come from the snapshot
when present (the feature layer computed them); a frame of hand-typed features without
them gets them computed from the same definitions (``features.rules``).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from churn.config import RulesConfig
from churn.errors import InputError
from features.rules import RULE_COLUMNS, SNAPSHOT_INPUTS, band_series, rule_columns_pandas
from training.model import ChurnModel

SMALL_BATCH_ROWS = 2_000
SCORE_COLUMNS = ["client_id", "probability", "risk_band", "contact_index", "rule_band"]


def with_rule_columns(snapshot: pd.DataFrame, rules: RulesConfig | None = None) -> pd.DataFrame:
    """``snapshot`` with every rule column filled: absent or null cells are computed from
    the snapshot inputs (or, for ``rule_band``, from ``contact_index``); given ones are kept."""
    rules = rules or RulesConfig()
    gaps = [c for c in RULE_COLUMNS if c not in snapshot.columns or snapshot[c].isna().any()]
    if not gaps:
        return snapshot
    if all(c in snapshot.columns for c in SNAPSHOT_INPUTS):
        computed = rule_columns_pandas(snapshot, rules)
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


def model_matrix(model: ChurnModel, frame: pd.DataFrame) -> np.ndarray:
    """(n × features) float matrix for the booster; unknown or missing categories are NaN."""
    missing = [c for c in model.features if c not in frame.columns]
    if missing:
        raise InputError(f"missing feature column(s): {', '.join(missing)}")
    out = np.empty((len(frame), len(model.features)), dtype="float64")
    numeric = [j for j, c in enumerate(model.features) if c not in model.categorical_levels]
    block = frame[[model.features[j] for j in numeric]]
    try:  # one conversion for the whole numeric block (the common, clean case)
        out[:, numeric] = block.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError):  # text in a numeric column: coerce like prepare()
        coerced = block.apply(pd.to_numeric, errors="coerce")
        out[:, numeric] = coerced.to_numpy(dtype="float64", na_value=np.nan)
    for j, col in enumerate(model.features):
        if col in model.categorical_levels:
            values = frame[col]
            if not pd.api.types.is_string_dtype(values.dtype):  # as prepare(): text of the value
                values = values.astype("str").where(values.notna())
            codes = _levels(tuple(model.categorical_levels[col])).get_indexer(
                values.to_numpy(dtype=object, na_value=None)
            )
            out[:, j] = np.where(codes >= 0, codes, np.nan)
    return out


@functools.lru_cache(maxsize=256)
def _levels(levels: tuple[str, ...]) -> pd.Index:
    return pd.Index(levels, dtype=object)


def raw_scores(model: ChurnModel, frame: pd.DataFrame) -> np.ndarray:
    """The booster's raw output (log-odds), as ``model.predict_raw``."""
    x = model_matrix(model, frame)
    raw = model.booster.predict(x, raw_score=True, num_threads=threads(len(x)))
    return np.asarray(raw, dtype=float)


def threads(rows: int) -> int:
    """LightGBM threads: one for small inputs (thread start-up dominates a single-client
    call, as in ``ChurnModel.predict_raw``), the default for bulk."""
    return 1 if rows < SMALL_BATCH_ROWS else 0


def probabilities(model: ChurnModel, raw: np.ndarray) -> np.ndarray:
    """Calibrated probabilities of raw scores, as ``model.predict_proba``."""
    return np.clip(np.asarray(model.calibrator.predict(raw), dtype=float), 0.0, 1.0)


def score_frame(
    model: ChurnModel, snapshot: pd.DataFrame, rules: RulesConfig | None = None
) -> pd.DataFrame:
    """client_id, probability, risk_band, contact_index, rule_band for every row (same index)."""
    frame = with_rule_columns(snapshot, rules)
    if frame.empty:
        return pd.DataFrame({c: [] for c in SCORE_COLUMNS}, index=frame.index)
    proba = probabilities(model, raw_scores(model, frame))
    return pd.DataFrame(
        {
            "client_id": frame["client_id"].to_numpy(),
            "probability": proba,
            "risk_band": model.risk_band(proba),
            "contact_index": frame["contact_index"].astype("float64").to_numpy(),
            "rule_band": frame["rule_band"].astype("str").to_numpy(),
        },
        index=frame.index,
    )
