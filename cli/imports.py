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
    mapping: Path | None = typer.Option(
        None, "--mapping", help=f"CRM mapping YAML (default {DEFAULT_MAPPING.name})"
    ),
    spec: Path | None = typer.Option(
        None,
        "--source",
        help="subscription + activity source spec (configs/sources/*.yaml; default the "
        "config's features.source): read the export through it instead of a CRM mapping",
    ),
    out: Path = typer.Option(..., "--out", help="raw directory to create or update"),
) -> None:
    """Read a CRM export (or, with --source, a subscription + activity export) into the
    raw tables; validated before anything is kept."""
    from churn.errors import InputError

    cfg = config()
    if spec is not None and mapping is not None:
        raise InputError("churn import: give --mapping (a CRM export) or --source, not both")
    spec = spec or (cfg.features.source if mapping is None else None)
    if spec is not None:
        from features.generic.load import import_source, import_summary
        from features.generic.spec import load_spec

        source_spec = load_spec(spec)
        rows = import_source(source_spec, source, out)
        for line in import_summary(rows, out, source_spec):
            typer.echo(line)
        return
    from importing.mapping import load_mapping
    from importing.run import import_export

    mapping = mapping or DEFAULT_MAPPING
    report = import_export(source, load_mapping(mapping), out, config=cfg.validation)
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
