"""`churn train --report FILE` leaves the plots and the HTML report beside the JSON."""

from __future__ import annotations

from typing import Any

from churn.config import Config


def test_plots_and_html_are_copied_next_to_the_report(
    trained: dict[str, Any], session_config: Config
) -> None:
    evaluation = session_config.paths.reports_dir / "evaluation"
    html = evaluation / "report.html"
    assert html.exists()
    text = html.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text  # self-contained: images embedded
    assert {p.name for p in evaluation.glob("*.png")} >= {"roc.png", "pr.png", "calibration.png"}
