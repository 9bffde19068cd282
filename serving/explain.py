"""Why a client's score is what it is: SHAP contributions, drivers in words, the rule.

Contributions are on the scale of the **shown probability**: calibrated log-odds. TreeSHAP
gives them in the booster's raw log-odds, where ``sum + base == model.predict_raw``; the
served probability is ``p = g(raw)`` for a non-decreasing calibrator ``g``
(:mod:`training.calibrators`). With Platt, ``g = sigmoid(slope * raw + intercept)``, each
raw contribution is multiplied by the slope and the base becomes ``slope * base +
intercept``; with any other calibrator the row's log-odds gap ``logit(g(raw)) -
logit(g(base))`` is shared out in proportion to the raw contributions
(:meth:`training.model.ChurnModel.explain_scale`). Either way ``base_value +
sum(contributions) == logit(probability)`` exactly: a supervisor who adds the bars gets
the probability on the screen, not a different number on a scale nobody is shown. Training
refuses a Platt slope <= 0 (:class:`training.calibration.CalibrationError`) and every
calibrator is non-decreasing, so signs are those of the raw SHAP values: a feature that
raises the booster's score raises the probability.

Raw contributions come from LightGBM's own ``pred_contrib=True`` — for a LightGBM model
``shap.TreeExplainer(booster).shap_values`` calls exactly that (the tests check the two
agree), and it works on a whole frame at once, which the call list needs.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pandas as pd

from churn.config import ReasonsConfig, RulesConfig
from churn.errors import InputError
from features.rules import available, band, snapshot_flags
from serving import treeshap
from serving.scoring import with_rule_columns
from serving.sentences import group_and_action, json_value, sentence
from training.model import SMALL_BATCH_ROWS, ChurnModel, threads

SUB_INDICATORS = ("training_indicator", "webinar_indicator", "cabinet_indicator")
ACTION_SEPARATOR = " | "  # actions themselves contain "; "
TEXT_COLUMNS = ("reason_", "feature_", "action_")  # reason_group_ starts with reason_


def raw_contributions(model: ChurnModel, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(n × features) SHAP contributions in the booster's raw log-odds and the (n,) base
    value: ``sum + base == model.predict_raw``. Bulk frames (a week of clients) go through
    :mod:`serving.treeshap` (the same values, several times faster), small ones and models
    it does not cover through LightGBM's own ``pred_contrib``."""
    x = model.matrix(frame)
    trees = _compiled(model) if len(x) >= SMALL_BATCH_ROWS else None
    if trees is not None:
        out = treeshap.pred_contrib(trees, x)
    else:
        out = model.booster.predict(x, pred_contrib=True, num_threads=threads(len(x)))
    out = np.asarray(out, dtype=float)
    return out[:, :-1], out[:, -1]


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled(model: ChurnModel) -> treeshap.Trees | None:
    """The booster's trees for :mod:`serving.treeshap`, built once per loaded booster."""
    booster = model.booster
    if booster not in _COMPILED:
        _COMPILED[booster] = treeshap.compile_trees(booster.dump_model())
    return _COMPILED[booster]


def contributions(model: ChurnModel, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(n × features) SHAP contributions in calibrated log-odds and the (n,) base value:
    ``sigmoid(base + sum) == model.predict_proba`` (what every explanation shows)."""
    return calibrated(model, *raw_contributions(model, frame))


def calibrated(
    model: ChurnModel, contrib: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Raw contributions and base (:func:`raw_contributions`, or as a week stored them:
    :mod:`serving.stored_shap`) on the shown probability's scale (calibrated log-odds)."""
    scale, shown_base = model.explain_scale(contrib.sum(axis=1) + base, base)
    return scale[:, None] * contrib, shown_base


def shap_contributions(model: ChurnModel, frame: pd.DataFrame) -> tuple[np.ndarray, float]:
    """:func:`raw_contributions` through ``shap.TreeExplainer`` (raw log-odds; slower, kept
    to cross-check the fast path)."""
    import shap

    explainer = shap.TreeExplainer(model.booster)
    values = np.asarray(explainer.shap_values(model.prepare(frame)), dtype=float)
    base = np.asarray(explainer.expected_value, dtype=float).reshape(-1)[-1]
    return values, float(base)


def as_of_text(value: Any) -> str | None:
    """A snapshot date as YYYY-MM-DD (None when the row has no as_of)."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date().isoformat()


def driver_order(contrib: np.ndarray) -> np.ndarray:
    """Feature indices: risk-raising by contribution desc, then lowering by size; zeros last."""
    positive = contrib > 0
    key = np.where(positive, -contrib, np.where(contrib < 0, 1.0 / (1.0 + np.abs(contrib)), np.inf))
    return np.argsort(key, kind="stable")


def rule_summary(
    row: pd.Series, rules: RulesConfig, flags: pd.Series | None = None
) -> dict[str, Any]:
    """The documented rule next to the model: index, band, sub-indicators, conditions met.
    ``flags``: the row's :func:`features.rules.snapshot_flags` when already known (a served
    week computes them for all its clients at once: one engine round trip per week, not
    one per request)."""
    if flags is None:
        flags = snapshot_flags(row.to_frame().T).iloc[0]
    weights = rules.contact_index
    return {
        "contact_index": json_value(row["contact_index"]),
        "rule_band": json_value(row["rule_band"]),
        "bands": rules.bands.model_dump(),
        "sub_indicators": [
            {
                "name": name,
                "value": json_value(row[name]),
                "band": None if pd.isna(row[name]) else band(row[name], rules.bands),
            }
            for name in SUB_INDICATORS
        ],
        "conditions": [
            {"name": name, "weight": getattr(weights, name)}
            for name in flags.index[flags.to_numpy()]
        ],
    }


def rule_part(
    record: pd.Series, rules: RulesConfig, reasons: ReasonsConfig, flags: pd.Series | None = None
) -> dict[str, Any]:
    """``rule`` (:func:`rule_summary`) and ``rule_note``: where the source has no rule
    indicator (:func:`features.rules.available`) the rule is absent and the note says why,
    in the explanation's language."""
    if not available():
        return {"rule": None, "rule_note": reasons.no_rule}
    return {"rule": rule_summary(record, rules, flags), "rule_note": None}


PROTECTIVE_SHOWN = 3


def explain_client(
    model: ChurnModel,
    row: pd.DataFrame,
    *,
    top_k: int,
    reasons: ReasonsConfig,
    rules: RulesConfig | None = None,
) -> dict[str, Any]:
    """Everything a supervisor needs about one client (``row``: a one-row snapshot frame),
    its SHAP values computed now (:func:`explain_stored` words ones a week stored)."""
    rules = rules or RulesConfig()
    if len(row) != 1:
        raise InputError(f"explain: expected one client row, got {len(row)}")
    frame = with_rule_columns(row, rules)
    raw_c, raw_base = raw_contributions(model, frame)
    return explain_stored(
        model, frame, raw_c[0], float(raw_base[0]), top_k=top_k, reasons=reasons, rules=rules
    )


def explain_stored(
    model: ChurnModel,
    row: pd.DataFrame,
    raw_contrib: np.ndarray,
    raw_base: float,
    *,
    top_k: int,
    reasons: ReasonsConfig,
    rules: RulesConfig | None = None,
    flags: pd.Series | None = None,
) -> dict[str, Any]:
    """:func:`explain_client` from the row's raw SHAP values already known (``raw_contrib``:
    one per feature of ``model``, ``raw_base``: the base value), as the weekly run stored
    them: the same answer without a pass over the trees. Pure and cheap: what ``/explain``
    does for a client of a stored week (``flags``: see :func:`rule_summary`)."""
    rules = rules or RulesConfig()
    if len(row) != 1:
        raise InputError(f"explain: expected one client row, got {len(row)}")
    if not 1 <= top_k <= len(model.features):
        raise InputError(f"top_k: must be between 1 and {len(model.features)}, got {top_k}")
    raw_c = np.asarray(raw_contrib, dtype=float)
    if raw_c.shape != (len(model.features),):
        raise InputError(
            f"explain: {raw_c.size} SHAP values for a model of {len(model.features)} features"
        )
    frame = with_rule_columns(row, rules)
    raw = float(raw_base + raw_c.sum())
    scale, shown_base = model.explain_scale(np.array([raw]), np.array([raw_base]))
    c, record = float(scale[0]) * raw_c, frame.iloc[0]
    base = float(shown_base[0])
    proba = float(model.calibrate(np.array([raw]))[0])
    values = record.to_dict()
    by_size = np.argsort(-np.abs(c), kind="stable")

    def driver(j: int) -> dict[str, Any]:
        feature = model.features[j]
        group, action = group_and_action(feature, c[j], reasons)
        return {
            "text": sentence(feature, values[feature], c[j], values, reasons),
            "feature": feature,
            "value": json_value(values[feature]),
            "contribution": float(c[j]),
            "direction": "raises" if c[j] > 0 else "lowers",
            "reason_group": group,
            "action": action,
        }

    drivers = [driver(j) for j in driver_order(c)[:top_k] if c[j] != 0]
    # what keeps the client: the strongest risk-lowering signals, for the specialist to build on
    protective = [driver(j) for j in np.argsort(c, kind="stable")[:PROTECTIVE_SHOWN] if c[j] < 0]
    return {
        "client_id": json_value(record["client_id"]),
        "as_of": as_of_text(record.get("as_of")),
        "probability": proba,
        "risk_band": str(model.risk_band(np.array([proba]))[0]),
        "base_value": base,  # calibrated log-odds: base_value + contributions = log_odds
        "log_odds": base + float(c.sum()),  # = logit(probability)
        "raw_score": raw,  # the booster's own score before calibration (for reference)
        "contributions": [
            {
                "feature": model.features[j],
                "value": json_value(values[model.features[j]]),
                "contribution": float(c[j]),
            }
            for j in by_size
        ],
        "drivers": drivers,
        "protective": protective,
        **rule_part(record, rules, reasons, flags),
    }


def explain_frame(
    model: ChurnModel,
    snapshot: pd.DataFrame,
    top_n: int = 3,
    *,
    reasons: ReasonsConfig,
) -> pd.DataFrame:
    """Top ``top_n`` risk-raising reasons per row (same index): reason_i, feature_i,
    reason_group_i, action_i, contribution_i, plus ``action``: the distinct suggested
    actions, most important first, joined by `` | ``. Rows with fewer raising drivers
    get empty slots (None)."""
    frame = with_rule_columns(snapshot)
    contrib, _ = contributions(model, frame)
    n, f = contrib.shape
    k = min(top_n, f)
    top = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    top_c = np.take_along_axis(contrib, top, axis=1)
    records = frame.to_dict("records")
    features = np.asarray(model.features, dtype=object)
    out: dict[str, Any] = {"client_id": frame["client_id"].to_numpy()}
    for i in range(k):
        names, cs = features[top[:, i]], top_c[:, i]
        active = cs > 0
        texts = np.full(n, None, dtype=object)
        groups = np.full(n, None, dtype=object)
        actions = np.full(n, None, dtype=object)
        for r in np.flatnonzero(active):  # only the k shown cells need words
            name, value = names[r], records[r][names[r]]
            texts[r] = sentence(name, value, cs[r], records[r], reasons)
            groups[r], actions[r] = group_and_action(name, cs[r], reasons)
        out[f"reason_{i + 1}"] = texts
        out[f"feature_{i + 1}"] = np.where(active, names, None)
        out[f"reason_group_{i + 1}"] = groups
        out[f"action_{i + 1}"] = actions
        out[f"contribution_{i + 1}"] = np.where(active, cs, np.nan)
    # object columns keep None as None (a plain str column would turn it into NaN)
    result = pd.DataFrame(
        {
            k: pd.Series(v, index=frame.index, dtype=object if k.startswith(TEXT_COLUMNS) else None)
            for k, v in out.items()
        }
    )
    action_cols = [f"action_{i + 1}" for i in range(k)]
    result["action"] = [
        ACTION_SEPARATOR.join(dict.fromkeys(a for a in acts if isinstance(a, str) and a)) or None
        for acts in result[action_cols].itertuples(index=False)
    ]
    return result
