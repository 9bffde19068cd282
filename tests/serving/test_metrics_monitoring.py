"""``/metrics`` of the real server carries the last ``churn monitor`` report's gauges (read
from ``monitoring.report_path`` on every scrape) and none while there is no report."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from churn.config import Config
from monitoring.alerts import alert_names, drift_alerts


def _report(cfg: Config) -> dict:
    drift = {
        "score": {"psi": 0.31},
        "features": [
            {"feature": "logins_30d", "psi": 0.9},
            {"feature": "tenure_days", "psi": 0.02},
        ],
    }
    alerts = [a.as_dict() for a in drift_alerts("2025-07-07", drift, cfg.monitoring)]
    return {
        "generated_at": "2025-07-08T06:00:00+00:00",
        "alerts": alerts,
        "alert_names": alert_names(alerts),
        "weeks": [{"as_of": "2025-07-07", "model_version": "1", "drift": drift,
                   "performance": {"status": "waiting", "matures_on": "2025-10-05"}}],
    }  # fmt: skip


def test_metrics_append_the_monitoring_gauges(
    service_url: str, admin_headers: dict[str, str], session_config: Config
) -> None:
    if os.environ.get("CHURN_TEST_SERVICE_URL"):
        pytest.skip("an external server reads its own report path")
    path = session_config.monitoring.report_file(session_config.paths)
    path.unlink(missing_ok=True)
    with httpx.Client(base_url=service_url, timeout=60, headers=admin_headers) as client:
        before = client.get("/metrics")
        assert before.status_code == 200 and "churn_monitoring_" not in before.text
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_report(session_config)), encoding="utf-8")
        try:
            text = client.get("/metrics").text
        finally:
            path.unlink()
    lines = text.splitlines()
    assert 'churn_monitoring_feature_psi{feature="logins_30d"} 0.9' in lines
    assert 'churn_monitoring_alert{name="drift:feature:logins_30d"} 1.0' in lines
    assert 'churn_monitoring_alert{name="drift:score"} 1.0' in lines
    assert "churn_monitoring_alerts 2.0" in lines
    assert "bentoml_service_request" in text  # BentoML's own metrics are still there
