"""``churn simulate-generic``: the subscription + activity generator's files
(``simulator/generic.py``), in its own column names, for ``churn import --source``."""

from __future__ import annotations

from pathlib import Path

import typer

from churn.errors import InputError
from cli.base import app, friendly


@app.command("simulate-generic")
@friendly
def simulate_generic(
    out: Path = typer.Option(..., help="output directory for the generator's Parquet files"),
    customers: int | None = typer.Option(None, help="number of customers"),
    months: int | None = typer.Option(None, help="months of history"),
    seed: int | None = typer.Option(None, help="random seed"),
    csv: bool = typer.Option(False, "--csv", help="write CSV files instead of Parquet"),
) -> None:
    """Generate a subscription + activity log with a known churn mechanism (issue 21)."""
    from simulator.generic import GenericSimConfig, write

    for name, value in (("customers", customers), ("months", months)):
        if value is not None and value <= 0:
            raise InputError(f"--{name}: must be a positive integer, got {value}")
    if seed is not None and seed < 0:
        raise InputError(f"--seed: must be a non-negative integer, got {seed}")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a directory")
    given = {"customers": customers, "months": months, "seed": seed}
    cfg = GenericSimConfig().with_(**{k: v for k, v in given.items() if v is not None})
    rows = write(cfg, out, fmt="csv" if csv else "parquet")
    counts = ", ".join(f"{k} {v:,}" for k, v in rows.items())
    typer.echo(
        f"simulated {cfg.customers:,} customers x {cfg.months} months (seed {cfg.seed}) "
        f"-> {out}: {counts}"
    )
