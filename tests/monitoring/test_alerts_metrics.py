"""Alerts fire on significant drift and low trustworthy AUC only; the gauges and the
Prometheus text carry the newest week's figures and one series per alert."""

from __future__ import annotations

from churn.config import MonitoringConfig
from monitoring.alerts import alert_names, drift_alerts, performance_alerts
from monitoring.metrics import gauges, prometheus_text

CFG = MonitoringConfig(min_auc=0.7, min_labelled_rows=100)


def _drift(score_psi: float, features: dict[str, float]) -> dict:
    return {
        "score": {"psi": score_psi},
        "features": [{"feature": k, "psi": v} for k, v in features.items()],
    }


def test_only_significant_drift_alerts() -> None:
    alerts = drift_alerts("2025-07-07", _drift(0.3, {"logins_30d": 0.9, "tenure_days": 0.2}), CFG)
    assert [a.name for a in alerts] == ["drift:score", "drift:feature:logins_30d"]
    assert drift_alerts("2025-07-07", _drift(0.25, {"logins_30d": 0.24}), CFG) == []
    missing = drift_alerts("2025-07-07", {"score": None, "snapshot_error": "gone"}, CFG)
    assert [a.name for a in missing] == ["data:snapshot_missing"]


def test_auc_alert_needs_enough_rows() -> None:
    low = {"roc_auc": 0.6, "rows": 500}
    assert [a.name for a in performance_alerts("w", low, CFG)] == ["performance:auc_below_min"]
    assert performance_alerts("w", {"roc_auc": 0.6, "rows": 50}, CFG) == []  # noise
    assert performance_alerts("w", {"roc_auc": 0.7, "rows": 500}, CFG) == []
    assert performance_alerts("w", {"roc_auc": None, "rows": 500}, CFG) == []


def _report() -> dict:
    alerts = [
        a.as_dict() for a in drift_alerts("2025-07-07", _drift(0.3, {"logins_30d": 0.9}), CFG)
    ]
    return {
        "generated_at": "2025-07-08T06:00:00+00:00",
        "alerts": alerts,
        "alert_names": alert_names(alerts),
        "weeks": [
            {"as_of": "2025-05-26", "model_version": "1", "drift": None,
             "performance": {"status": "matured", "roc_auc": 0.81, "brier": 0.05}},
            {"as_of": "2025-06-30", "model_version": "1", "performance": None,
             "drift": _drift(0.01, {"logins_30d": 0.02})},
            {"as_of": "2025-07-07", "model_version": "2", "performance": {"status": "waiting"},
             "drift": _drift(0.3, {"logins_30d": 0.9})},
        ],
    }  # fmt: skip


def test_gauges_carry_the_newest_week_and_the_alerts() -> None:
    by = {(name, tuple(sorted(labels.items()))): value for name, labels, value in gauges(_report())}
    assert by[("churn_monitoring_alerts", ())] == 2
    assert by[("churn_monitoring_alert", (("name", "drift:score"),))] == 1
    score = ("churn_monitoring_score_psi", (("as_of", "2025-07-07"), ("model_version", "2")))
    assert by[score] == 0.3
    assert by[("churn_monitoring_feature_psi", (("feature", "logins_30d"),))] == 0.9
    assert by[("churn_monitoring_realised_roc_auc", (("as_of", "2025-05-26"),))] == 0.81
    assert by[("churn_monitoring_report_timestamp_seconds", ())] == 1751954400.0


def test_prometheus_text_is_one_type_line_per_name() -> None:
    text = prometheus_text(_report())
    lines = text.splitlines()
    assert lines.count("# TYPE churn_monitoring_alert gauge") == 1
    assert 'churn_monitoring_alert{name="drift:feature:logins_30d"} 1.0' in lines
    assert "churn_monitoring_alerts 2.0" in lines
    assert text.endswith("\n")
