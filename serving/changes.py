"""What changed since last week: one client's two weekly snapshot rows, explained.

A supervisor's first question about a weekly score is "why is it different from last
week?". Both rows go through the same served model in one SHAP call; the change of each
feature's contribution (calibrated log-odds, the shown probability's scale, as in
``serving.explain``) says how much that signal moved the score, so features are ranked by
the size of that change. Each change is said in words of the reasons file's language:

* "Logins in the last 30 days fell from 14 to 0 — raises risk"
* "Входы за последние 30 дней: было 14, стало 0 — повышает риск"

The suffix follows the sign of the contribution change (raises / lowers), not the value's
direction: fewer logins raise risk, fewer overdue days lower it. A feature whose value
did not move can still change its contribution (interactions with a signal that did);
such features are not listed one by one (nothing about them changed to say) but summed
into ``unchanged_change``, so the listed changes plus that sum add up to the whole move.

Pure: no store, no clock. The caller finds the rows (the store's weekly snapshots, or two
as_of dates of a snapshot file) and the previous week's stored score, if any.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from churn.config import ReasonsConfig, RulesConfig
from churn.errors import InputError
from features.catalog import CATALOG
from serving.explain import as_of_text, calibrated, raw_contributions
from serving.scoring import with_rule_columns
from serving.sentences import formatter, is_missing, json_value, signal_label
from training.model import ChurnModel

CHANGES_SHOWN = 5
_DTYPES = {f.name: f.dtype for f in CATALOG}
_SHARES = {"training_coverage", "newsletter_bounce_share_90d", "login_trend"}
_INDICES = {"contact_index", "training_indicator", "webinar_indicator", "cabinet_indicator"}


def value_text(feature: str, value: Any, reasons: ReasonsConfig) -> str:
    """A signal's value as a specialist reads it: 14, 12 300, 40 %, 0.45, "yes"."""
    fmt = formatter(reasons)
    if is_missing(value):
        return reasons.unknown
    if isinstance(value, str):
        return fmt.format_field(value, "word")
    x = float(value)
    if feature in _SHARES:
        return fmt.format_field(x, "pct")
    if feature.endswith("_rub"):
        return fmt.format_field(x, "rub")
    if feature in _INDICES:
        return fmt.format_field(x, "2f")
    if _DTYPES.get(feature) == "int" or float(x).is_integer():
        return fmt.format_field(x, "int")
    return fmt.format_field(x, "2f")


def same_value(a: Any, b: Any) -> bool:
    """Equal, with "unknown" equal to "unknown" (NaN == NaN here)."""
    if is_missing(a) or is_missing(b):
        return is_missing(a) and is_missing(b)
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-12)


def change_sentence(
    feature: str, before: Any, after: Any, change: float, reasons: ReasonsConfig
) -> str:
    """ "Logins in the last 30 days fell from 14 to 0 — raises risk"."""
    label = signal_label(feature, reasons)
    words = reasons.changes
    if is_missing(before) or is_missing(after) or isinstance(after, str):
        template = words.changed
    else:
        template = words.rose if float(after) > float(before) else words.fell
    text = template.format(
        label=label,
        before=value_text(feature, before, reasons),
        after=value_text(feature, after, reasons),
    )
    direction = reasons.raises if change > 0 else reasons.lowers
    return f"{text}{reasons.separator}{direction}"


def what_changed(
    model: ChurnModel,
    current: pd.DataFrame,
    previous: pd.DataFrame,
    *,
    reasons: ReasonsConfig,
    rules: RulesConfig | None = None,
    previous_score: dict[str, Any] | None = None,
    top_k: int = CHANGES_SHOWN,
    raw: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The client's changes between two snapshot rows (one-row frames), biggest first.

    ``previous_score`` is what the client was told last week (the store's row: as_of,
    probability, risk_band, model_version); without it the previous row is scored with
    ``model``. Returns the previous and current probability and band, and ``items``:
    feature, label, before, after, the two contributions, their change, direction, text
    (only features whose value moved, at most ``top_k``), and ``unchanged_change``: what the
    features that did not move add together (calibrated log-odds, so the listed changes plus
    it equal the change of logit(probability)).

    ``raw``: the two rows' raw SHAP values by ``model`` (previous first; (2, features) and
    (2,) bases) when the weeks stored them (``serving.stored_shap``); else computed here.
    """
    if len(current) != 1 or len(previous) != 1:
        raise InputError(
            f"changes: expected one current and one previous row, got {len(current)} and "
            f"{len(previous)}"
        )
    if top_k < 1:
        raise InputError(f"top_k: must be at least 1, got {top_k}")
    both = with_rule_columns(pd.concat([previous, current], ignore_index=True), rules)
    if raw is None:
        raw = raw_contributions(model, both)
    contrib, base = calibrated(model, *raw)  # calibrated log-odds
    proba = expit(base + contrib.sum(axis=1))  # = the served probability
    bands = model.risk_band(proba)
    before_row, after_row = both.iloc[0].to_dict(), both.iloc[1].to_dict()
    delta = contrib[1] - contrib[0]
    items = []
    unchanged = 0.0
    for j in np.argsort(-np.abs(delta), kind="stable"):
        feature = model.features[j]
        before, after = before_row[feature], after_row[feature]
        if same_value(before, after):
            unchanged += float(delta[j])
            continue
        if len(items) == top_k:
            continue
        items.append(
            {
                "feature": feature,
                "label": signal_label(feature, reasons),
                "before": json_value(before),
                "after": json_value(after),
                "contribution_before": float(contrib[0, j]),
                "contribution_after": float(contrib[1, j]),
                "change": float(delta[j]),
                "direction": "raises" if delta[j] > 0 else "lowers",
                "text": change_sentence(feature, before, after, float(delta[j]), reasons),
            }
        )
    prev = previous_score or {}
    previous_probability = prev.get("probability")
    return {
        "previous_as_of": as_of_text(prev.get("as_of", before_row.get("as_of"))),
        "previous_probability": float(
            previous_probability if previous_probability is not None else proba[0]
        ),
        "previous_risk_band": str(prev.get("risk_band") or bands[0]),
        "previous_model_version": (
            None if prev.get("model_version") is None else str(prev["model_version"])
        ),
        "as_of": as_of_text(after_row.get("as_of")),
        "probability": float(proba[1]),
        "risk_band": str(bands[1]),
        "items": items,
        "unchanged_change": unchanged,
    }
