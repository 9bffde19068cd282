"""``churn uplift``: what the calls achieved, from the logged assignments and the raw churn.

The assignments (one row per week and would-be-called client: ``as_of``, ``client_id``,
``rank``, ``assignment`` call | holdout, optional ``risk_decile`` and ``reason_group``)
come from a CSV or Parquet file, e.g. an export of the store's ``call_list``. Only rows
whose whole horizon has been observed in the raw data are used. On a base written by
``churn simulate-weeks`` the report also gives ``simulated_truth``: the generator's true
average effect and whether the interval covers it. The measuring is
``training.uplift.measure_uplift``; the truth, ``simulator.treatment.simulated_truth``.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.base import app, config, friendly


@app.command("uplift")
@friendly
def uplift(
    assignments: Path = typer.Option(..., help="CSV or Parquet of the logged assignments"),
    raw: Path = typer.Option(..., help="raw-data directory (churn_events.parquet)"),
    report: Path = typer.Option(..., help="where to write the JSON report"),
    capacity: int | None = typer.Option(None, help="calls to read the Qini curve at"),
) -> None:
    """Churn of called vs held-out clients, with a bootstrap interval and the Qini curve."""
    from simulator.treatment import simulated_truth
    from training.uplift import measure_uplift

    cfg = config()
    out = measure_uplift(cfg, assignments, raw, capacity=capacity)
    truth = simulated_truth(raw, out["overall"])
    if truth is not None:
        out["simulated_truth"] = truth
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(out, indent=2), encoding="utf-8")
    o = out["overall"]
    if truth is not None:
        typer.echo(
            f"simulated truth (churn simulate-weeks): {truth['average_effect']:.4f}, "
            f"{'inside' if truth['covered'] else 'outside'} the 95 % interval"
        )
    sent = out["controls"]["controls_sent_to_scheduler"]
    if sent is not None:
        typer.echo(
            f"controls ever sent to the scheduler (within {cfg.training.horizon_days} days of "
            f"their week): {sent} (must be 0)"
        )
    typer.echo(
        f"called {o['n_called']}, held out {o['n_holdout']}: churn {o['churn_called']:.3f} vs "
        f"{o['churn_holdout']:.3f}; retained per 100 calls {o['retained_per_100_calls']}"
        f" -> {report}"
    )
