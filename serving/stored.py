"""Stored weeks as the API answers them: the week's call list, a client's explanation and
history.

The weekly run decided who is called this week (capacity, clients reached recently left
out, inactive clients gone, the randomised holdout drawn); the service serves that
decision as stored rather than ranking the snapshot again, so the scheduler, the page and
the store agree. Only the reason sentences are made here, from the week's snapshot rows in
the language asked for. Pure apart from the model's SHAP call: frames in, records out.

A client's explanation (:func:`explain_answer`) words the SHAP values the week stored
(``serving.stored_shap``): a lookup, no pass over the trees per request; only a week
stored without them is explained by computing them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from churn.config import Config, ReasonsConfig
from churn.errors import NotFound
from serving import stored_shap
from serving.calllist import LEADING_COLUMNS, RANK_KEYS, TOP_REASONS, call_list_records
from serving.centres import client_names
from serving.changes import what_changed
from serving.current import CurrentWeek
from serving.evidence import evidence_flags
from serving.explain import explain_client, explain_frame, explain_stored
from serving.holdout import CALL, HOLDOUT
from serving.sentences import json_value
from store.weeks import client_week
from training.model import ChurnModel

# score columns the call list rows carry, taken from the week's stored scores
_FROM_SCORES = (
    "probability",
    "risk_band",
    "contact_index",
    "rule_band",
    "monthly_fee_rub",
    "expected_loss_rub",
    "segment",
    "service_mode",
    "evidence",
)


def stored_ranking(calls: pd.DataFrame, default: str) -> str:
    """The ranking the stored list was built with (its ``ranking`` column), else ``default``."""
    if "ranking" in calls.columns:
        values = calls["ranking"].dropna()
        if len(values):
            return str(values.iloc[0])
    return default


def served_rows(
    calls: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    include_holdout: bool,
    segment: str | None = None,
    service_mode: str | None = None,
    ranking: str | None = None,
    stored: str,
    capacity: int,
) -> pd.DataFrame:
    """The stored list's rows to answer, in order, with their score columns joined.

    Without ``include_holdout``: the clients sent to the scheduler (``selected``), ranked
    1..n in stored order. With it: every stored row (held-out ones too), keeping the
    stored rank. A ``ranking`` other than the stored one reorders the same clients.
    """
    rows = calls.sort_values("rank", kind="mergesort")
    if not include_holdout:
        rows = rows[rows["selected"].astype(bool)]
    joined = rows.drop(columns=[c for c in _FROM_SCORES if c in rows.columns]).join(
        scores.reindex(columns=list(_FROM_SCORES)), on="client_id"
    )
    if segment is not None:
        joined = joined[joined["segment"] == segment]
    if service_mode is not None:
        joined = joined[joined["service_mode"] == service_mode]
    if ranking is not None and ranking != stored:
        keys = RANK_KEYS[ranking]
        joined = joined.sort_values(
            [*keys, "client_id"], ascending=[False] * len(keys) + [True], kind="mergesort"
        )
    joined = joined.head(capacity).reset_index(drop=True)
    if not include_holdout:
        joined["rank"] = np.arange(1, len(joined) + 1)
    return joined


def call_list_answer(
    rows: pd.DataFrame,
    snapshot: pd.DataFrame,
    model: ChurnModel,
    *,
    reasons: ReasonsConfig,
) -> list[dict[str, Any]]:
    """API records for ``served_rows``: reasons and actions from the week's snapshot rows
    (clients missing from it get none), plus evidence, assignment and propensity."""
    present = rows["client_id"].isin(snapshot.index).to_numpy()
    ids = rows.loc[present, "client_id"].astype("int64").tolist()
    frame = rows.copy()
    frame["name"] = frame["client_id"].map(client_names(snapshot)).astype(object)
    if ids:
        why = explain_frame(model, snapshot.loc[ids], TOP_REASONS, reasons=reasons)
        why = why.set_index("client_id")
        for col in why.columns:
            frame[col] = frame["client_id"].map(why[col]).astype(object)
    else:
        for i in range(1, TOP_REASONS + 1):
            for col in (f"reason_{i}", f"feature_{i}", f"reason_group_{i}", f"action_{i}"):
                frame[col] = None
        frame["action"] = None
    for col in LEADING_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    frame["action"] = frame["action"].where(frame["action"].notna(), None)
    records = call_list_records(frame)
    extra = {
        "evidence": frame["evidence"].astype(object).tolist(),
        "assignment": frame.get("assignment", pd.Series([None] * len(frame))).tolist(),
        "propensity": frame.get("propensity", pd.Series([None] * len(frame))).tolist(),
    }
    for i, record in enumerate(records):
        for key, values in extra.items():
            record[key] = json_value(values[i])
        if record["assignment"] not in (CALL, HOLDOUT):
            record["assignment"] = None
    return records


def _day(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return pd.Timestamp(value).date().isoformat()


def history_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``store.weeks.history`` rows as JSON (dates as YYYY-MM-DD), oldest first."""
    return [
        {
            "as_of": _day(r["as_of"]),
            "probability": float(r["probability"]),
            "risk_band": str(r["risk_band"]),
            "contact_index": json_value(r.get("contact_index")),
            "rule_band": json_value(r.get("rule_band")),
            "model_version": str(r["model_version"]),
            "rank": json_value(r.get("rank")),
            "evidence": json_value(r.get("evidence")),
        }
        for r in rows
    ]


def outcome_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``store.outcomes.outcomes_for`` rows as JSON, oldest call first."""
    return [
        {
            "outcome_id": str(r["outcome_id"]),
            "called_on": _day(r["called_on"]),
            "reached": bool(r["reached"]),
            "result": str(r["result"]),
            "note": r.get("note"),
        }
        for r in rows
    ]


def history_answer(
    engine: Engine,
    client_id: int,
    weeks: int,
    known: Callable[[int], bool],
    name_of: Callable[[int], str | None] | None = None,
) -> dict[str, Any]:
    """``POST /history``'s answer: the client's last ``weeks`` stored scores, oldest first,
    and its recorded outcomes; NotFound for a client never scored and not ``known`` (in
    the served snapshot). ``name``: the client's name as last stored, else ``name_of`` (the
    served snapshot's). What the endpoint runs and ``benchmarks/history.py`` times."""
    from store.outcomes import outcomes_for
    from store.weeks import history

    rows = history(engine, client_id, weeks)
    if not rows and not known(client_id):
        raise NotFound(f"client_id: unknown client {client_id} (never scored)")
    stored = [r.get("name") for r in rows if isinstance(r.get("name"), str)]
    return {
        "client_id": client_id,
        "name": stored[-1] if stored else (name_of(client_id) if name_of else None),
        "history": history_records(rows),
        "outcomes": outcome_records(outcomes_for(engine, client_id)),
    }


def explain_answer(
    weeks: CurrentWeek,
    model_of: Callable[[str], ChurnModel],
    cfg: Config,
    *,
    client_id: int,
    top_k: int,
    as_of: date | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """``POST /explain``'s answer for ``client_id`` in the served week (or the stored week
    ``as_of``): SHAP contributions, drivers and protective signals in ``lang``, the rule,
    evidence and what changed since the client's previous stored week, worded with the
    model that scored the week (``model_of(version)``), so they add up to its probability.

    The SHAP values are the ones the week stored (:func:`serving.explain.explain_stored`);
    computed (:func:`serving.explain.explain_client`) only for a week stored without them.
    NotFound for a client the week does not hold."""
    reasons = cfg.reasons_in(lang)
    served = weeks.get()
    snapshot, day, version = weeks.snapshot_of(as_of)
    if client_id not in snapshot.index:
        raise NotFound(f"client_id: unknown client {client_id} in the week of {day.date()}")
    row = snapshot.loc[[client_id]]
    model = model_of(version)  # the week's model: its drivers add up to its score
    n_features = len(model.features)
    flags, shap, name = None, None, None
    if day == served.as_of:  # the served week: by position, nothing recomputed
        where = served.position(client_id)
        if where is not None:
            shap = served.shap_of(client_id, n_features)
            name = served.score_columns["name"][where]
            flags = served.flags.loc[client_id] if served.flags is not None else None
            evidence = served.score_columns["evidence"][where]
        else:  # in the snapshot but not scored (not expected): as before
            name = json_value(client_names(row).iloc[0])
            evidence = None
    else:  # an earlier week: its row as stored (evidence from the tenure without one)
        stored = client_week(weeks.engine, day.date(), version, client_id) or {}
        shap = stored_shap.decode(stored.get("shap_raw"), n_features)
        evidence = stored.get("evidence") or str(evidence_flags(row).iloc[0])
        name = json_value(client_names(row).iloc[0])
    kw: dict[str, Any] = {"top_k": top_k, "reasons": reasons, "rules": cfg.rules}
    out = (
        explain_stored(model, row, *shap, flags=flags, **kw)
        if shap is not None
        else explain_client(model, row, **kw)
    )
    out["model_version"] = version
    out["name"] = name
    out["lang"] = lang or cfg.serving.language
    out["evidence"] = evidence
    out["changes"] = changes_answer(weeks, model, version, row, day, reasons, cfg, shap)
    return out


def changes_answer(
    weeks: CurrentWeek,
    model: ChurnModel,
    version: str,
    row: pd.DataFrame,
    day: pd.Timestamp,
    reasons: ReasonsConfig,
    cfg: Config,
    shap: tuple[np.ndarray, float] | None,
) -> dict[str, Any] | None:
    """What moved since the client's previous stored week (None without one). Both rows'
    SHAP values as stored when both weeks were scored by ``model`` (``version``) and stored
    them (``shap``: this week's), else computed with ``model``."""
    client_id = int(row.index[0])
    previous = weeks.previous(client_id, day.date())
    if previous is None:
        return None
    prev_score, prev_row = previous
    raw = None
    if shap is not None and str(prev_score.get("model_version")) == version:
        before = stored_shap.decode(prev_score.get("shap_raw"), len(model.features))
        if before is not None:
            raw = (np.vstack([before[0], shap[0]]), np.array([before[1], shap[1]]))
    return what_changed(
        model,
        row,
        prev_row,
        reasons=reasons,
        rules=cfg.rules,
        previous_score=prev_score,
        raw=raw,
    )
