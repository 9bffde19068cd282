"""``churn simulate-generic``: the subscription + activity generator's files
(``simulator/generic.py``), in its own column names, for ``churn import --source``."""

from __future__ import annotations

from pathlib import Path

import typer

from churn.errors import InputError
from cli.base import app, config, friendly


@app.command("simulate-generic")
@friendly
def simulate_generic(
    out: Path = typer.Option(..., help="output directory for the generator's Parquet files"),
    customers: int | None = typer.Option(None, help="number of customers"),
    months: int | None = typer.Option(None, help="months of history"),
    seed: int | None = typer.Option(None, help="random seed"),
    csv: bool = typer.Option(False, "--csv", help="write CSV files instead of Parquet"),
    reference_paths: int | None = typer.Option(
        None,
        help="forward paths per as_of of the reference _truth/horizon_probability.parquet "
        "(0: not written; default 200)",
    ),
) -> None:
    """Generate a subscription + activity log with a known churn mechanism (issue 21), and
    the true probability that each customer's active period ends within the config's
    ``training.horizon_days`` (``_truth/horizon_probability.parquet``, for ``churn train
    --reference``)."""
    from simulator.generic import GenericSimConfig, write
    from simulator.truth import TRUTH_DIR, TRUTH_HORIZON_FILE

    for name, value in (("customers", customers), ("months", months)):
        if value is not None and value <= 0:
            raise InputError(f"--{name}: must be a positive integer, got {value}")
    if seed is not None and seed < 0:
        raise InputError(f"--seed: must be a non-negative integer, got {seed}")
    if reference_paths is not None and reference_paths < 0:
        raise InputError(f"--reference-paths: must be 0 or more, got {reference_paths}")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a directory")
    given = {
        "customers": customers,
        "months": months,
        "seed": seed,
        "reference_paths": reference_paths,
    }
    cfg = GenericSimConfig(horizon_days=config().training.horizon_days).with_(
        **{k: v for k, v in given.items() if v is not None}
    )
    rows = write(cfg, out, fmt="csv" if csv else "parquet")
    counts = ", ".join(f"{k} {v:,}" for k, v in rows.items() if not k.startswith("_truth"))
    reference = (
        f"true {cfg.horizon_days}-day probability that the active period ends, per monthly "
        f"as_of, Monte Carlo ({cfg.reference_paths} paths) -> "
        f"{out / TRUTH_DIR / TRUTH_HORIZON_FILE} (churn train --reference)"
        if cfg.reference_paths
        else "not written (--reference-paths 0)"
    )
    typer.echo(
        f"simulated {cfg.customers:,} customers x {cfg.months} months (seed {cfg.seed}) "
        f"-> {out}: {counts}\n  reference: {reference}"
    )
