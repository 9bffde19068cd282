"""``churn monitor``: drift of the stored weeks against the champion's training reference,
realised performance of the weeks whose horizon has passed, named alerts.

Exit codes (for a scheduler): 0 no alert; ``ALERT_EXIT`` (4) when an alert fires, with the
alert names on stdout one per line after the summary; the usual 2 / 3 for bad input or a
missing model / reference. The JSON report and the HTML page are written in every case.
"""

from __future__ import annotations

from pathlib import Path

import typer

from churn.tracking import setup_mlflow
from cli.base import app, friendly, parse_date
from cli.base import config as _config

ALERT_EXIT = 4


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
    from monitoring.report import summary_lines
    from monitoring.run import run_monitor

    run = run_monitor(cfg, as_of=day, report=report, html=html, raw=raw)
    for line in summary_lines(run.report):
        typer.echo(line)
    typer.echo(f"report -> {run.path}; page -> {run.page}")
    if run.report["alert_names"]:
        for name in run.report["alert_names"]:
            typer.echo(name)
        raise typer.Exit(ALERT_EXIT)
