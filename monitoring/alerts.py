"""Named alerts: what in a monitoring report needs a person, as stable machine names.

A scheduler or Prometheus rule matches on the name, so names are fixed patterns:

* ``drift:feature:<name>``: a model feature's PSI in a checked week is above
  ``monitoring.significant_psi`` (moderate drift is reported, never alerted);
* ``drift:score``: the same for the served probability;
* ``performance:auc_below_min``: a matured week's realised ROC-AUC is below
  ``monitoring.min_auc`` (weeks with fewer than ``min_labelled_rows`` labelled clients, or
  one class only, are reported but never alert: their AUC is noise);
* ``data:snapshot_missing``: a checked week's snapshot file cannot be read, so its features
  cannot be checked (a silent skip would read as "no drift").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from churn.config import MonitoringConfig


@dataclass(frozen=True)
class Alert:
    name: str
    week: str  # the week's as_of
    value: float | None
    threshold: float | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def drift_alerts(week: str, drift: dict[str, Any], cfg: MonitoringConfig) -> list[Alert]:
    """Alerts of one week's drift section (``score`` and ``features`` entries)."""
    out: list[Alert] = []
    score = drift.get("score")
    if score and score.get("psi") is not None and score["psi"] > cfg.significant_psi:
        out.append(
            Alert(
                "drift:score",
                week,
                score["psi"],
                cfg.significant_psi,
                f"score PSI {score['psi']:.3f} > {cfg.significant_psi:g} in week {week}",
            )
        )
    for row in drift.get("features") or []:
        if row["psi"] > cfg.significant_psi:
            out.append(
                Alert(
                    f"drift:feature:{row['feature']}",
                    week,
                    row["psi"],
                    cfg.significant_psi,
                    f"{row['feature']} PSI {row['psi']:.3f} > {cfg.significant_psi:g} "
                    f"in week {week}",
                )
            )
    if drift.get("snapshot_error"):
        out.append(Alert("data:snapshot_missing", week, None, None, drift["snapshot_error"]))
    return out


def performance_alerts(week: str, perf: dict[str, Any], cfg: MonitoringConfig) -> list[Alert]:
    """``performance:auc_below_min`` when a matured week's AUC is trustworthy and too low."""
    auc, rows = perf.get("roc_auc"), perf.get("rows") or 0
    if auc is None or rows < cfg.min_labelled_rows or auc >= cfg.min_auc:
        return []
    return [
        Alert(
            "performance:auc_below_min",
            week,
            auc,
            cfg.min_auc,
            f"realised ROC-AUC {auc:.3f} < {cfg.min_auc:g} in week {week} ({rows} clients)",
        )
    ]


def alert_names(alerts: list[dict[str, Any]]) -> list[str]:
    """The distinct alert names, sorted (what ``churn monitor`` prints)."""
    return sorted({a["name"] for a in alerts})
