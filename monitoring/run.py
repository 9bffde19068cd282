"""``churn monitor`` and ``churn retrain``: the monitoring report over the configured store,
its JSON (what the service's ``/metrics`` reads) and HTML page; a retrain (training with
the champion kept on failure, ``training/champion.py``) followed by that report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from churn.config import Config
from churn.errors import ChurnError

NOT_PROMOTED_EXIT = 5  # churn retrain: trained and registered as challenger, champion kept


@dataclass(frozen=True)
class MonitorRun:
    """The report and where its JSON and HTML page were written."""

    report: dict[str, Any]
    path: Path
    page: Path


def _build(cfg: Config, raw: Path, as_of: date | None, alias: str | None) -> dict[str, Any]:
    from monitoring.report import build_report
    from store.db import open_store

    engine = open_store(cfg)
    try:
        return build_report(cfg, engine, raw_dir=raw, as_of=as_of, alias=alias)
    finally:
        engine.dispose()


def _write_json(report: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return path


def run_monitor(
    cfg: Config,
    *,
    as_of: date | None,
    report: Path | None,
    html: Path | None,
    raw: Path | None,
    alias: str | None = None,
) -> MonitorRun:
    """Build the report, write JSON + HTML (defaults from ``monitoring``); returns both."""
    from monitoring.html import write_html

    out = _build(cfg, Path(raw or cfg.paths.raw_dir), as_of, alias)
    path = _write_json(out, Path(report) if report else cfg.monitoring.report_file(cfg.paths))
    page = write_html(out, Path(html) if html else cfg.monitoring.html_folder(cfg.paths))
    return MonitorRun(out, path, Path(page))


def monitoring_summary(cfg: Config, raw: Path) -> dict[str, Any]:
    """The monitoring report's alerts and lines after a retrain, or why it could not be
    made (a retrain's exit code never depends on it: ``churn monitor`` alerts)."""
    from monitoring.report import summary_lines

    try:
        report = _build(cfg, Path(raw), None, None)
    except ChurnError as exc:
        return {"error": str(exc), "alert_names": [], "lines": [f"monitoring skipped: {exc}"]}
    path = _write_json(report, cfg.monitoring.report_file(cfg.paths))
    return {
        "report": str(path),
        "alert_names": report["alert_names"],
        "lines": summary_lines(report),
    }


def run_retrain(
    cfg: Config, *, raw: Path | None, features_file: Path | None, report: Path | None
) -> dict[str, Any]:
    """Train and gate (the champion restored on failure), then the monitoring summary."""
    from monitoring.run import monitoring_summary
    from training.champion import train_keeping_champion

    raw_dir = Path(raw) if raw is not None else Path(cfg.paths.raw_dir)
    done = train_keeping_champion(cfg, raw=raw_dir, features_file=features_file, report=report)
    out = done.out
    summary = {
        "promoted": bool(out.promoted),
        "version": out.model_version,
        "alias": out.alias,
        "champion_before": done.before,
        "champion_after": done.after,
        "gate": out.gate.reason if out.gate is not None else None,
        "run_id": out.run_id,
        "monitoring": monitoring_summary(cfg, raw_dir),
    }
    summary["exit_code"] = 0 if summary["promoted"] else NOT_PROMOTED_EXIT
    return summary
