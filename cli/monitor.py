"""``churn monitor``: drift of the stored weeks against the champion's training reference,
realised performance of the weeks whose horizon has passed, named alerts.

Exit codes (for a scheduler): 0 no alert; ``ALERT_EXIT`` (4) when an alert fires, with the
alert names on stdout one per line after the summary; the usual 2 / 3 for bad input or a
missing model / reference. The JSON report and the HTML page are written in every case.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import typer

from churn.config import Config
from churn.tracking import setup_mlflow
from cli.base import app, friendly, parse_date
from cli.base import config as _config

ALERT_EXIT = 4


def run_monitor(
    cfg: Config,
    *,
    as_of: date | None,
    report: Path | None,
    html: Path | None,
    raw: Path | None,
    alias: str | None = None,
) -> dict[str, Any]:
    """Build the report, write JSON + HTML, print the summary; returns the report."""
    from monitoring.html import write_html
    from monitoring.report import build_report, summary_lines
    from store.db import open_store

    engine = open_store(cfg)
    try:
        out = build_report(cfg, engine, raw_dir=raw or cfg.paths.raw_dir, as_of=as_of, alias=alias)
    finally:
        engine.dispose()
    path = Path(report) if report is not None else cfg.monitoring.report_file(cfg.paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    page = write_html(
        out, Path(html) if html is not None else cfg.monitoring.html_folder(cfg.paths)
    )
    for line in summary_lines(out):
        typer.echo(line)
    typer.echo(f"report -> {path}; page -> {page}")
    return out


@app.command("monitor")
@friendly
def monitor(
    report: Path | None = typer.Option(
        None, help="JSON report (default monitoring.report_path: reports/monitoring/monitor.json)"
    ),
    html: Path | None = typer.Option(
        None, help="folder of the HTML page (default reports/monitoring/)"
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="YYYY-MM-DD: weeks and labels up to it"),
    raw: Path | None = typer.Option(
        None, help="raw directory for the labels (default paths.raw_dir)"
    ),
) -> None:
    """Drift (PSI) per feature and score, realised performance, alerts; exit 4 on an alert."""
    cfg = _config()
    setup_mlflow(cfg)
    day = parse_date(as_of, "--as-of") if as_of else None
    out = run_monitor(cfg, as_of=day, report=report, html=html, raw=raw)
    if out["alert_names"]:
        for name in out["alert_names"]:
            typer.echo(name)
        raise typer.Exit(ALERT_EXIT)
