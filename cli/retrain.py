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
puts the champion alias back where it was before re-raising, so a failed or not promoted
retrain leaves ``models:/churn-risk@champion`` and the store exactly as they were.

Exit codes: 0 a new champion; ``NOT_PROMOTED_EXIT`` (5) trained and registered as
challenger, the champion unchanged; 1/2/3 a failure (1 unexpected or contract violations,
2 bad input, 3 something not found), the champion unchanged. The monitoring summary never
changes the exit code (``churn monitor`` is the command that alerts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from churn.config import Config
from churn.errors import ChurnError
from churn.tracking import setup_mlflow
from cli.base import app, friendly
from cli.base import config as _config

NOT_PROMOTED_EXIT = 5
CHAMPION = "champion"


def champion_version(cfg: Config) -> str | None:
    """The version the champion alias points at, or None (no model or no alias yet)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        mv = MlflowClient().get_model_version_by_alias(cfg.registry.model_name, CHAMPION)
    except MlflowException:
        return None
    return str(mv.version)


def restore_champion(cfg: Config, version: str | None) -> None:
    """Point the champion alias back at ``version`` (remove it when there was none)."""
    from mlflow.tracking import MlflowClient

    client, name = MlflowClient(), cfg.registry.model_name
    if version is None:
        client.delete_registered_model_alias(name, CHAMPION)
    else:
        client.set_registered_model_alias(name, CHAMPION, version)


def _monitoring_summary(cfg: Config, raw: Path) -> dict[str, Any]:
    """The monitoring report's alerts and lines, or why it could not be made."""
    from monitoring.report import build_report, summary_lines
    from store.db import open_store

    try:
        engine = open_store(cfg)
        try:
            report = build_report(cfg, engine, raw_dir=raw)
        finally:
            engine.dispose()
    except ChurnError as exc:
        return {"error": str(exc), "alert_names": [], "lines": [f"monitoring skipped: {exc}"]}
    path = cfg.monitoring.report_file(cfg.paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return {
        "report": str(path),
        "alert_names": report["alert_names"],
        "lines": summary_lines(report),
    }


def run_retrain(
    cfg: Config, *, raw: Path | None, features_file: Path | None, report: Path | None
) -> dict[str, Any]:
    """Train and gate; on any failure the champion alias is restored; returns the summary."""
    from training.pipeline import run_train

    raw_dir = Path(raw) if raw is not None else Path(cfg.paths.raw_dir)
    before = champion_version(cfg)
    try:
        out = run_train(cfg, raw=raw_dir, features_file=features_file, report=report)
    except BaseException:
        if champion_version(cfg) != before:
            restore_champion(cfg, before)
            typer.echo(f"[retrain] failed: champion alias restored to {before or 'none'}", err=True)
        raise
    after = champion_version(cfg)
    summary = {
        "promoted": bool(out.promoted),
        "version": out.model_version,
        "alias": out.alias,
        "champion_before": before,
        "champion_after": after,
        "gate": out.gate.reason if out.gate is not None else None,
        "run_id": out.run_id,
        "monitoring": _monitoring_summary(cfg, raw_dir),
    }
    summary["exit_code"] = 0 if summary["promoted"] else NOT_PROMOTED_EXIT
    return summary


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
