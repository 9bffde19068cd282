"""Prometheus gauges of the last monitoring report (what the service's ``/metrics`` adds).

Only the newest checked week's drift is exported per feature (one series per model
feature, not per feature and week: the label set stays small and stable), the score PSI
and realised AUC / Brier of the newest matured week, and one series per firing alert so an
alert rule can match on ``name``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

Gauge = tuple[str, dict[str, str], float]
PREFIX = "churn_monitoring_"


def gauges(report: dict[str, Any]) -> list[Gauge]:
    """(name, labels, value) for every gauge of ``report``."""
    out: list[Gauge] = []
    generated = datetime.fromisoformat(report["generated_at"]).timestamp()
    out.append((f"{PREFIX}report_timestamp_seconds", {}, generated))
    out.append((f"{PREFIX}alerts", {}, float(len(report["alert_names"]))))
    for name in report["alert_names"]:
        out.append((f"{PREFIX}alert", {"name": name}, 1.0))
    drifted = [w for w in report["weeks"] if w.get("drift")]
    if drifted:
        week = drifted[-1]
        labels = {"as_of": week["as_of"], "model_version": str(week["model_version"])}
        out.append((f"{PREFIX}score_psi", labels, float(week["drift"]["score"]["psi"])))
        for row in week["drift"].get("features") or []:
            out.append((f"{PREFIX}feature_psi", {"feature": row["feature"]}, float(row["psi"])))
    matured = [
        w
        for w in report["weeks"]
        if (w.get("performance") or {}).get("status") == "matured"
        and w["performance"].get("roc_auc") is not None
    ]
    if matured:
        week = matured[-1]
        labels = {"as_of": week["as_of"]}
        out.append((f"{PREFIX}realised_roc_auc", labels, float(week["performance"]["roc_auc"])))
        if week["performance"].get("brier") is not None:
            out.append((f"{PREFIX}realised_brier", labels, float(week["performance"]["brier"])))
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prometheus_text(report: dict[str, Any]) -> str:
    """The gauges in the Prometheus text exposition format (one TYPE line per name)."""
    lines: list[str] = []
    typed: set[str] = set()
    for name, labels, value in gauges(report):
        if name not in typed:
            lines.append(f"# TYPE {name} gauge")
            typed.add(name)
        label = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        number = repr(value) if math.isfinite(value) else ("NaN" if math.isnan(value) else "+Inf")
        lines.append(f"{name}{{{label}}} {number}" if label else f"{name} {number}")
    return "\n".join(lines) + "\n" if lines else ""


def read_report(path: Path) -> dict[str, Any] | None:
    """The report at ``path``, or None when there is none (yet) or it is not a report."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and "alert_names" in report else None


def report_text(path: Path) -> str:
    """The Prometheus lines of the report at ``path`` ("" when there is no report yet):
    what the service appends to ``/metrics``."""
    report = read_report(path)
    if report is None:
        return ""
    try:
        return prometheus_text(report)
    except (KeyError, TypeError, ValueError):  # a report of another shape: export nothing
        return ""
