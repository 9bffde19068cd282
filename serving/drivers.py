"""Every client's top risk-raising drivers, as the score store keeps them.

The weekly run stores the strongest three risk-raising drivers (feature, value,
contribution) of *every* scored client, so ``/explain`` and the history can show why a
score moved without recomputing SHAP. For 100 000 clients the Python around TreeSHAP
cost more than TreeSHAP itself: a dict per driver, then ``json.dumps`` per client. So
:class:`TopDrivers` keeps the drivers as arrays, writes the store's JSON text for all
rows with column-wise string building (:meth:`TopDrivers.json_texts`, the same text
``json.dumps`` gives), and builds dicts only for the rows that are read as objects: the
listed clients, whose drivers also get their sentences (:func:`with_words`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn.config import Config
from serving import stored_shap
from serving.calllist import TOP_REASONS
from serving.explain import explain_frame, raw_contributions
from serving.scoring import with_rule_columns
from serving.sentences import signal_group
from store.weeks import JsonText
from training.model import ChurnModel

NO_REASON = "none"  # call_list.reason when the client has no risk-raising driver
_CELL = '{{"feature": {}, "value": {}, "contribution": {}}}'  # json.dumps' separators


@dataclass(frozen=True)
class TopDrivers:
    """Per row: the ``k`` strongest contributions, which of them raise risk, the values.

    ``top``: (n, k) feature indices, strongest first; ``contribution``: their calibrated
    SHAP values; ``raising``: the cells kept (contribution > 0); ``value_json``: the
    feature's value in each kept cell as JSON text (None elsewhere), the one form kept: the
    dicts of the few rows read as objects parse theirs; ``features``: names.
    """

    features: tuple[str, ...]
    top: np.ndarray
    contribution: np.ndarray
    raising: np.ndarray
    value_json: np.ndarray
    raw: np.ndarray  # (n,) the booster's raw score, rebuilt from the contributions
    raw_contrib: np.ndarray  # (n, features) every raw SHAP value (what /explain words)
    raw_base: np.ndarray  # (n,) the raw base value: raw == raw_contrib.sum(1) + raw_base

    def shap_cells(self) -> list[bytes]:
        """Every row's raw SHAP values as the store keeps them (:mod:`serving.stored_shap`)."""
        return stored_shap.encode(self.raw_contrib, self.raw_base)

    def __len__(self) -> int:
        return len(self.top)

    def dicts(self, rows: np.ndarray | list[int] | None = None) -> list[list[dict[str, Any]]]:
        """``[{"feature", "value", "contribution"}, ...]`` per row (positions), strongest first."""
        idx = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=int)
        names = np.asarray(self.features, dtype=object)[self.top[idx]].tolist()
        return [
            [
                {"feature": f, "value": json.loads(v), "contribution": c}
                for f, v, c, keep in zip(fs, vs, cs, ok, strict=True)
                if keep
            ]
            for fs, vs, cs, ok in zip(
                names,
                self.value_json[idx].tolist(),
                self.contribution[idx].tolist(),
                self.raising[idx].tolist(),
                strict=True,
            )
        ]

    def json_texts(self) -> np.ndarray:
        """Each row's drivers as JSON text, equal to ``json.dumps(self.dicts()[i],
        ensure_ascii=False)``, built slot by slot over whole columns (no dict per driver)."""
        n, k = self.top.shape
        names = np.asarray([json.dumps(f, ensure_ascii=False) for f in self.features], dtype=object)
        # raising cells are a prefix of the slots (sorted by contribution): the row is its
        # first ``shown`` cells joined; plain lists, as numpy would turn text into '<U' arrays
        rows = [[] for _ in range(n)]
        for slot in range(k):
            keep = np.flatnonzero(self.raising[:, slot]).tolist()
            cells = [
                _CELL.format(f, v, c)
                for f, v, c in zip(
                    names[self.top[keep, slot]].tolist(),
                    self.value_json[keep, slot].tolist(),
                    floats_json(self.contribution[keep, slot]),
                    strict=True,
                )
            ]
            for i, cell in zip(keep, cells, strict=True):
                rows[i].append(cell)
        out = np.empty(n, dtype=object)
        out[:] = [JsonText("[" + ", ".join(r) + "]") for r in rows]
        return out


def top_drivers(model: ChurnModel, snapshot: pd.DataFrame, k: int = TOP_REASONS) -> TopDrivers:
    """The top ``k`` drivers of every row from one LightGBM ``pred_contrib`` call on the
    whole frame (:func:`serving.explain.contributions`, in the order
    :func:`serving.explain.explain_frame` gives: strongest risk-raising first). The
    contributions sum to the raw score, so the scores need no second pass over the trees
    (``raw``, for :func:`serving.scoring.score_frame`)."""
    frame = with_rule_columns(snapshot)
    raw, raw_base = raw_contributions(model, frame)
    total = raw.sum(axis=1) + raw_base
    scale, _ = model.explain_scale(total, raw_base)
    contrib = scale[:, None] * raw  # calibrated log-odds, as serving.explain.contributions
    n, k = len(frame), min(k, contrib.shape[1])
    top = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    top_c = np.take_along_axis(contrib, top, axis=1)
    raising = top_c > 0
    texts = np.full((n, k), None, dtype=object)
    for j in np.unique(top[raising]):  # only the shown cells, feature by feature
        rows, slots = np.nonzero((top == j) & raising)
        text = np.empty(len(rows), dtype=object)
        text[:] = _json_list(frame[model.features[j]].iloc[rows])
        texts[rows, slots] = text
    return TopDrivers(
        features=tuple(model.features),
        top=top,
        contribution=top_c,
        raising=raising,
        value_json=texts,
        raw=total,
        raw_contrib=raw,
        raw_base=np.broadcast_to(raw_base, total.shape),
    )


def _plain_list(column: pd.Series) -> list[Any]:
    """A column as plain Python values (numbers, text), missing as None: JSON-ready."""
    missing = column.isna().to_numpy()
    if column.dtype.kind in "biuf":
        values = column.to_numpy().tolist()
    else:
        values = [_plain(v) for v in column.astype(object).tolist()]
    if missing.any():
        values = [None if m else v for v, m in zip(values, missing, strict=True)]
    return values


def _json_list(column: pd.Series) -> list[str]:
    """The column's values (:func:`_plain_list`) as JSON text: floats and ints column-wise,
    anything else through ``json.dumps``."""
    kind = column.dtype.kind
    if kind == "f":
        missing = column.isna().to_numpy()
        texts = floats_json(np.where(missing, 0.0, column.to_numpy(dtype=float, na_value=0.0)))
        return ["null" if m else t for t, m in zip(texts, missing.tolist(), strict=True)]
    values = _plain_list(column)
    if kind in "iu":
        return ["null" if v is None else str(v) for v in values]
    return [json.dumps(v, ensure_ascii=False, default=_json_default) for v in values]


def floats_json(values: np.ndarray) -> list[str]:
    """``json.dumps`` of each float: the reprs of the whole list from one ``repr`` call
    (C speed; a Python call per float cost more than the insert), non-finite ones fixed."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return []
    texts = repr(values.tolist())[1:-1].split(", ")
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        texts[i] = _float_json(float(values[i]))
    return texts


def _float_json(value: float) -> str:
    """``json.dumps`` of one float (``repr``; NaN and infinities as Python's json writes them)."""
    if math.isfinite(value):
        return repr(value)
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"drivers: cannot store a {type(value).__name__} as JSON")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def with_words(
    model: ChurnModel, rows: pd.DataFrame, drivers: list[list], cfg: Config
) -> list[list]:
    """``drivers`` of ``rows`` plus text, reason group and action (``serving.language``),
    from :func:`serving.explain.explain_frame`."""
    if not len(rows):
        return drivers
    why = explain_frame(model, rows, TOP_REASONS, reasons=cfg.reasons_in())
    out = []
    for r, items in enumerate(drivers):
        worded = []
        for i, item in enumerate(items, start=1):
            extra = {}
            if why[f"feature_{i}"].iat[r] == item["feature"]:
                extra = {
                    "text": why[f"reason_{i}"].iat[r],
                    "reason_group": why[f"reason_group_{i}"].iat[r],
                    "action": why[f"action_{i}"].iat[r],
                }
            worded.append({**item, **extra})
        out.append(worded)
    return out


def reason_key(drivers: list[dict], cfg: Config) -> str:
    """The call list's ``reason``: the language-independent group key of the strongest
    risk-raising driver (``financial``, ``low_engagement`` ...), as ``churn uplift`` groups by."""
    if not drivers:
        return NO_REASON
    return signal_group(drivers[0]["feature"]) or "other"
