"""``churn import`` and ``churn export-crm``: the CRM's reports in and out (``importing/``)."""

from __future__ import annotations

from pathlib import Path

import typer

from churn.config import REPO_ROOT
from cli.base import app, config, friendly

DEFAULT_MAPPING = REPO_ROOT / "configs" / "mappings" / "crm_report.yaml"  # seed 004's layout


@app.command("import")
@friendly
def import_(
    source: Path = typer.Argument(..., help="export directory (or one report file)"),
    mapping: Path = typer.Option(DEFAULT_MAPPING, "--mapping", help="mapping YAML"),
    out: Path = typer.Option(..., "--out", help="raw directory to create or update"),
) -> None:
    """Read a CRM export into the raw-data contract; validated before anything is kept."""
    from importing.mapping import load_mapping
    from importing.run import import_export

    report = import_export(source, load_mapping(mapping), out, config=config().validation)
    for line in report.lines():
        typer.echo(line)
    verb = "created" if report.created else "updated"
    typer.echo(f"{out}: {verb}; all tables satisfy the contract")


@app.command("export-crm")
@friendly
def export_crm(
    raw_dir: Path = typer.Argument(..., help="raw directory (e.g. from churn simulate)"),
    out: Path = typer.Option(..., "--out", help="directory for the report files"),
    mapping: Path = typer.Option(DEFAULT_MAPPING, "--mapping", help="mapping YAML"),
) -> None:
    """Write a raw directory as the centre's CRM would export it (Russian reports)."""
    from importing.export import export_crm as write
    from importing.mapping import load_mapping

    for path in write(raw_dir, load_mapping(mapping), out):
        typer.echo(f"wrote {path}")
