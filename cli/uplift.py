"""``churn uplift``: what the calls achieved, from the logged assignments and the raw churn.

The assignments (one row per week and would-be-called client: ``as_of``, ``client_id``,
``rank``, ``assignment`` call | holdout, optional ``risk_decile`` and ``reason_group``)
come from a CSV or Parquet file, e.g. an export of the store's ``call_list``. Only rows
whose whole horizon has been observed in the raw data are used. On a base written by
``churn simulate-weeks`` the report also gives ``simulated_truth``: the generator's true
average effect and whether the interval covers it.
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
    import pandas as pd

    from churn.errors import InputError
    from training.labels import LABEL, data_end_of, label_snapshots, read_churn_events
    from training.uplift import controls_sent, uplift_report

    cfg = config()
    if not assignments.exists():
        raise InputError(f"--assignments: file not found: {assignments}")
    frame = (
        pd.read_parquet(assignments)
        if assignments.suffix == ".parquet"
        else pd.read_csv(assignments)
    )
    labelled = label_snapshots(
        frame,
        read_churn_events(raw),
        cfg.training.horizon_days,
        data_end_of(raw),
        churn_types=cfg.training.churn_types,
    )
    if labelled.empty:
        raise InputError(
            f"--assignments: no row has its {cfg.training.horizon_days}-day horizon observed yet"
        )
    out = uplift_report(
        labelled.rename(columns={LABEL: "churned"}),
        capacity=capacity,
        rounds=cfg.training.bootstrap_rounds,
        seed=cfg.retention.holdout_seed,
    )
    out["rows_used"], out["rows_waiting_for_horizon"] = len(labelled), len(frame) - len(labelled)
    out["controls"] = controls_sent(frame, cfg.training.horizon_days)
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


def simulated_truth(raw: Path, overall: dict) -> dict | None:
    """On a ``churn simulate-weeks`` base: the generator's true average effect and whether
    the interval covers it (``raw/_truth/treatment.json``); None on real data."""
    path = Path(raw) / "_truth" / "treatment.json"
    if not path.exists() or overall.get("ci_low") is None:
        return None
    truth = json.loads(path.read_text(encoding="utf-8"))
    effect = truth.get("average_effect")
    if effect is None:
        return None
    return {
        "average_effect": effect,
        "retained_per_100_calls": truth.get("retained_per_100_calls"),
        "covered": bool(overall["ci_low"] <= effect <= overall["ci_high"]),
        "source": str(path),
    }
