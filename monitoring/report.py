"""The monitoring report: drift of the newest stored weeks, realised performance of the
matured ones, alerts; what ``churn monitor`` writes and ``/metrics`` reads.

Inputs, all read here (the computations are the pure functions of :mod:`monitoring.psi`,
:mod:`monitoring.performance` and :mod:`monitoring.alerts`):

* the champion's reference (:mod:`monitoring.reference`), for every model feature; a week's
  *score* is compared with the reference of the version that scored it (a week served by
  an older champion is judged against what that model was fitted on), falling back to the
  champion's when that version has none;
* the store's weeks (``store.weeks``): scores from ``weekly_scores``, features from the
  week's snapshot Parquet (``weeks.snapshot_path``, written by ``churn weekly``);
* the raw directory's churn events, for the labels of matured weeks.

``as_of`` makes the report point in time: only weeks scored on or before it, and only
labels observed before it (the data end is capped at ``as_of``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from churn.config import Config
from churn.errors import NotFound
from features import rules
from features.catalog import CATEGORICAL_FEATURES
from monitoring.alerts import (
    Alert,
    alert_names,
    calibration_alerts,
    drift_alerts,
    performance_alerts,
)
from monitoring.performance import PROBABILITY, label_week, matured, realised_performance
from monitoring.psi import band, drift_table, psi
from monitoring.reference import Reference, load_reference
from store.weeks import WeekInfo, list_weeks, read_scores
from training.reference import SCORE

REPORT_VERSION = 1


def read_week_snapshot(week: WeekInfo) -> tuple[pd.DataFrame | None, str | None]:
    """(the week's snapshot rows, None) or (None, why it cannot be read)."""
    if not week.snapshot_path:
        return None, f"week {week.as_of}: no snapshot file recorded"
    path = Path(week.snapshot_path)
    if not path.exists():
        return None, f"week {week.as_of}: snapshot file not found: {path}"
    try:
        frame = pd.read_parquet(path)
    except Exception:  # pyarrow raises several types for a broken file
        return None, f"week {week.as_of}: snapshot file is not readable Parquet: {path}"
    if "as_of" in frame.columns and frame["as_of"].nunique() > 1:
        dates = pd.to_datetime(frame["as_of"]).dt.date
        frame = frame[(dates == week.as_of).to_numpy()]
    return frame.reset_index(drop=True), None


def week_drift(
    reference: Reference,
    score_reference: Reference,
    scores: pd.DataFrame,
    snapshot: pd.DataFrame | None,
    cfg: Config,
) -> dict[str, Any]:
    """PSI of the score and of every model feature in one week, with bands."""
    m = cfg.monitoring
    value = psi(score_reference.frame[SCORE], scores[PROBABILITY], m.psi_bins, categorical=False)
    out: dict[str, Any] = {
        "score": {
            "psi": value,
            "band": band(value, m.moderate_psi, m.significant_psi),
            "reference_version": score_reference.version,
            "current_mean": float(scores[PROBABILITY].mean()),
            "reference_mean": float(score_reference.frame[SCORE].mean()),
        },
        "features": None,
    }
    if snapshot is not None:
        features = reference.features
        lacking = [f for f in features if f not in snapshot.columns]
        if lacking:
            out["snapshot_error"] = f"snapshot lacks model feature column(s) {', '.join(lacking)}"
            return out
        table = drift_table(
            reference.frame,
            snapshot,
            features,
            bins=m.psi_bins,
            moderate=m.moderate_psi,
            significant=m.significant_psi,
            categorical=[f for f in features if f in CATEGORICAL_FEATURES],
        )
        out["features"] = table.to_dict(orient="records")
        out["bands"] = {
            b: int((table["band"] == b).sum()) for b in ("stable", "moderate", "significant")
        }
    return out


def _labels_source(
    cfg: Config, raw_dir: Path | None, as_of: date | None
) -> tuple[tuple[pd.DataFrame, pd.Timestamp] | None, str | None]:
    """((churn events, data end), None) from the raw directory, or (None, why not)."""
    from training.labels import churn_events_of

    if raw_dir is None or not Path(raw_dir).is_dir():
        return None, f"raw directory not found: {raw_dir}; realised performance needs churn_events"
    events, end = churn_events_of(cfg, Path(raw_dir))
    if as_of is not None:
        end = min(end, pd.Timestamp(as_of, tz="UTC"))
    return (events, end), None


def week_performance(
    week: WeekInfo,
    scores: pd.DataFrame,
    snapshot: pd.DataFrame | None,
    labels: tuple[pd.DataFrame, pd.Timestamp],
    cfg: Config,
) -> dict[str, Any]:
    """Realised performance of one week, or its status while the horizon is open."""
    events, end = labels
    horizon = cfg.training.horizon_days
    if not matured(week.as_of, horizon, end):
        due = (pd.Timestamp(week.as_of) + pd.Timedelta(days=horizon)).date().isoformat()
        return {"status": "waiting", "matures_on": due}
    rows = scores.copy()
    if snapshot is not None and "category" in snapshot.columns and "category" not in rows:
        rows = rows.merge(snapshot[["client_id", "category"]], on="client_id", how="left")
    labelled = label_week(rows, events, horizon, end, cfg.training.churn_types)
    perf = realised_performance(labelled, bins=cfg.monitoring.calibration_bins)
    return {"status": "matured", **perf}


def _reference_for(
    version: str, cache: dict[str, Reference | None], cfg: Config
) -> Reference | None:
    if version not in cache:
        try:
            cache[version] = load_reference(cfg.registry.model_name, version=version)
        except NotFound:
            cache[version] = None
    return cache[version]


def build_report(
    cfg: Config,
    engine: Engine,
    *,
    raw_dir: Path | None,
    as_of: date | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """The whole report (a JSON-ready dict). NotFound when the champion has no reference."""
    m = cfg.monitoring
    champion = load_reference(cfg.registry.model_name, alias=alias or cfg.serving.alias)
    weeks = [w for w in list_weeks(engine) if as_of is None or w.as_of <= as_of]
    drift_weeks = {w.as_of for w in weeks[-m.weeks :]}
    perf_weeks = {w.as_of for w in weeks[-m.performance_weeks :]}
    labels, labels_note = _labels_source(cfg, raw_dir, as_of)
    cache: dict[str, Reference | None] = {champion.version: champion}
    alerts: list[Alert] = []
    notes: list[str] = [] if labels_note is None else [labels_note]
    out_weeks = []
    for week in weeks:
        if week.as_of not in drift_weeks and week.as_of not in perf_weeks:
            continue
        day = week.as_of.isoformat()
        scores = read_scores(engine, week.as_of, week.model_version)
        snapshot, snapshot_error = read_week_snapshot(week)
        entry: dict[str, Any] = {
            "as_of": day,
            "model_version": week.model_version,
            "n_clients": week.n_clients,
            "snapshot_path": week.snapshot_path,
            "drift": None,
            "performance": None,
        }
        if week.as_of in drift_weeks:
            score_ref = _reference_for(week.model_version, cache, cfg) or champion
            drift = week_drift(champion, score_ref, scores, snapshot, cfg)
            if snapshot_error:
                drift["snapshot_error"] = snapshot_error
            entry["drift"] = drift
            alerts += drift_alerts(day, drift, m)
        if week.as_of in perf_weeks and labels is not None:
            perf = week_performance(week, scores, snapshot, labels, cfg)
            entry["performance"] = perf
            if perf["status"] == "matured":
                alerts += performance_alerts(day, perf, m)
                alerts += calibration_alerts(day, perf, m)
        out_weeks.append(entry)
    if not weeks:
        notes.append("the store has no scored week yet: run `churn weekly`")
    rule = rules.status(cfg)
    if not rule.available:  # nothing about the rule to watch: said, not left empty
        notes.append(f"rule indicator not available ({rule.note('en')}): no rule metrics")
    alert_rows = [a.as_dict() for a in alerts]
    return {
        "report_version": REPORT_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "as_of": as_of.isoformat() if as_of else None,
        "champion": {
            "model_name": cfg.registry.model_name,
            "version": champion.version,
            "run_id": champion.run_id,
            "reference_rows": len(champion.frame),
            "reference_as_of": champion.as_of,
        },
        "thresholds": {
            "psi_bins": m.psi_bins,
            "moderate_psi": m.moderate_psi,
            "significant_psi": m.significant_psi,
            "min_auc": m.min_auc,
            "min_labelled_rows": m.min_labelled_rows,
            "calibration_band": list(m.calibration_band),
            "horizon_days": cfg.training.horizon_days,
        },
        "weeks": out_weeks,
        "alerts": alert_rows,
        "alert_names": alert_names(alert_rows),
        "notes": notes,
        "rule_indicator": rule.to_dict(),
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few lines for the terminal: per week the score PSI, the worst feature, realised AUC."""
    champ = report["champion"]
    lines = [
        f"champion v{champ['version']}: reference {champ['reference_rows']} rows "
        f"({', '.join(champ['reference_as_of'])})"
    ]
    for week in report["weeks"]:
        parts = [f"week {week['as_of']} (v{week['model_version']}, {week['n_clients']} clients)"]
        drift = week.get("drift")
        if drift:
            parts.append(f"score PSI {drift['score']['psi']:.3f} {drift['score']['band']}")
            if drift.get("features"):
                worst = drift["features"][0]
                parts.append(
                    f"worst feature {worst['feature']} PSI {worst['psi']:.3f} {worst['band']}"
                )
        perf = week.get("performance")
        if perf and perf.get("status") == "matured":
            auc = perf.get("roc_auc")
            parts.append(f"realised AUC {'n/a' if auc is None else f'{auc:.3f}'} on {perf['rows']}")
            citl = perf.get("calibration_in_the_large")
            parts.append(
                "mean predicted / observed "
                + ("n/a" if citl is None else f"{citl:.3f}")
                + f" ({perf['mean_probability']:.4f} / {perf['churn_rate']:.4f})"
            )
        elif perf:
            parts.append(f"labels complete on {perf['matures_on']}")
        lines.append("; ".join(parts))
    lines += [f"note: {n}" for n in report["notes"]]
    names = report["alert_names"]
    lines.append(f"alerts: {', '.join(names)}" if names else "alerts: none")
    return lines
