"""``churn weekly``: the one weekly command (validate, snapshot, score, store, call list)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from churn.tracking import setup_mlflow
from cli.base import app, friendly, parse_date
from cli.base import config as _config


@app.command("weekly")
@friendly
def weekly(
    raw: Path = typer.Option(..., help="raw-data directory (this week's export)"),
    as_of: str | None = typer.Option(
        None, "--as-of", help="YYYY-MM-DD (default: the day after the newest event)"
    ),
    weeks_back: int = typer.Option(
        0, "--weeks-back", min=0, help="score the week this many weeks before --as-of / default"
    ),
    capacity: int | None = typer.Option(
        None, help="calls the specialists can make (default serving.default_capacity)"
    ),
    alias: str | None = typer.Option(None, help="registry alias (default champion)"),
    engine: str = typer.Option("duckdb", help="snapshot engine: duckdb or spark"),
    json_out: Path | None = typer.Option(None, "--json", help="also write the summary here"),
    revalidate: bool = typer.Option(
        False, "--revalidate", help="run the full checks even on an export validated before"
    ),
) -> None:
    """Score this week's export into the score store and build the call list (with holdout)."""
    from serving.weekly import run_weekly

    cfg = _config()
    setup_mlflow(cfg)
    summary = run_weekly(
        cfg,
        raw,
        as_of=parse_date(as_of, "--as-of") if as_of else None,
        alias=alias,
        engine=engine,
        capacity=capacity,
        revalidate=revalidate,
        weeks_back=weeks_back,
    )
    for line in summary.lines(cfg.serving.language):
        typer.echo(line)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(summary.as_dict(), indent=2), encoding="utf-8")
