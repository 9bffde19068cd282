"""``churn retrain``: train + promotion gate + a monitoring summary, for a scheduler.

One command a timer can run every week or month (README: cron line, systemd units):

1. remember the current champion version;
2. ``churn train`` (the whole pipeline: snapshots from ``--raw`` unless ``--features``,
   tuning, held-out evaluation, the refitted served model, registration, and the gate of
   ``training.gate``, which gives the new version the champion alias only when it beats the
   champion beyond noise; otherwise it is registered as ``challenger``);
3. ``churn monitor`` of the stored weeks against the champion that is now in place.

Nothing here writes a week: the served week changes only when ``churn weekly`` runs. A
retrain that fails after the gate moved the alias (e.g. the report could not be written)
puts the champion alias back where it was before re-raising (``training/champion.py``),
so a failed or not promoted retrain leaves ``models:/churn-risk@champion`` and the store
exactly as they were.

Exit codes: 0 a new champion; ``NOT_PROMOTED_EXIT`` (5) trained and registered as
challenger, the champion unchanged; 1/2/3 a failure (1 unexpected or contract violations,
2 bad input, 3 something not found), the champion unchanged. The monitoring summary never
changes the exit code (``churn monitor`` is the command that alerts).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from churn.tracking import setup_mlflow
from cli.base import app, friendly
from cli.base import config as _config


@app.command("retrain")
@friendly
def retrain(
    raw: Path | None = typer.Option(None, help="raw directory (default paths.raw_dir)"),
    features_file: Path | None = typer.Option(
        None, "--features", help="snapshot Parquet file (default: built from --raw)"
    ),
    trials: int | None = typer.Option(None, help="Optuna trials (overrides config)"),
    report: Path | None = typer.Option(None, help="training report JSON"),
    json_out: Path | None = typer.Option(None, "--json", help="write the retrain summary here"),
) -> None:
    """Train + gate + monitoring summary; exit 0 promoted, 5 not promoted, 1-3 failed."""
    cfg = _config()
    if trials is not None:
        cfg = cfg.override(training__n_trials=trials)
    setup_mlflow(cfg)
    from monitoring.run import run_retrain

    summary = run_retrain(cfg, raw=raw, features_file=features_file, report=report)
    typer.echo(
        f"retrain: version {summary['version']} -> {summary['alias']}; champion "
        f"{summary['champion_before'] or 'none'} -> {summary['champion_after'] or 'none'}"
    )
    for line in summary["monitoring"]["lines"]:
        typer.echo(f"  {line}")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    if summary["exit_code"]:
        raise typer.Exit(summary["exit_code"])
