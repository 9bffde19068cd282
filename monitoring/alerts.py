"""Named alerts: what in a monitoring report needs a person, as stable machine names.

A scheduler or Prometheus rule matches on the name, so names are fixed patterns:

* ``drift:feature:<name>``: a model feature's PSI in a checked week is above
  ``monitoring.significant_psi`` (moderate drift is reported, never alerted);
* ``drift:score``: the same for the served probability;
* ``performance:auc_below_min``: a matured week's realised ROC-AUC is below
  ``monitoring.min_auc`` (weeks with fewer than ``min_labelled_rows`` labelled clients, or
  one class only, are reported but never alert: their AUC is noise);
* ``performance:calibration``: a matured week's realised calibration-in-the-large (mean
  probability over observed churn rate) is outside ``monitoring.calibration_band``, and
  so is its whole 95 % interval (binomial noise of the observed rate; same
  ``min_labelled_rows`` rule): the shown probabilities no longer mean what they say;
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


def calibration_alerts(week: str, perf: dict[str, Any], cfg: MonitoringConfig) -> list[Alert]:
    """``performance:calibration`` when a matured week's mean probability over its observed
    churn rate leaves ``calibration_band`` (weeks too small to judge never alert)."""
    ratio, rows = perf.get("calibration_in_the_large"), perf.get("rows") or 0
    low, high = cfg.calibration_band
    ci_low, ci_high = perf.get("calibration_in_the_large_ci") or [None, None]
    if ratio is None or rows < cfg.min_labelled_rows or low <= ratio <= high:
        return []
    # beyond noise only: the week's whole interval is outside the band
    if (ratio > high and ci_low is not None and ci_low <= high) or (
        ratio < low and (ci_high is None or ci_high >= low)
    ):
        return []
    return [
        Alert(
            "performance:calibration",
            week,
            ratio,
            high if ratio > high else low,
            f"realised mean probability / churn rate {ratio:.3f} outside [{low:g}, {high:g}] "
            f"in week {week} ({rows} clients: predicted {perf.get('mean_probability'):.4f}, "
            f"observed {perf.get('churn_rate'):.4f})",
        )
    ]


def alert_names(alerts: list[dict[str, Any]]) -> list[str]:
    """The distinct alert names, sorted (what ``churn monitor`` prints)."""
    return sorted({a["name"] for a in alerts})
