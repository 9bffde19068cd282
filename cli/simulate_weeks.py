"""``churn simulate-weeks``: the weekly loop closed over a generated base (``loop.closed_loop``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.base import app, config, friendly, simulate_config


@app.command("simulate-weeks")
@friendly
def simulate_weeks(
    weeks: int = typer.Option(26, help="simulated weeks"),
    clients: int = typer.Option(3000, help="clients in the generated base"),
    seed: int = typer.Option(42, help="generator seed"),
    out: Path = typer.Option(..., help="workspace: raw/, store.db, models/, assignments"),
    capacity: int | None = typer.Option(
        None, help="calls a week (default simulate.yaml loop.calls_per_1000_clients)"
    ),
    ranking: str | None = typer.Option(
        None, help="expected_loss | probability | expected_profit (default serving.ranking)"
    ),
    json_out: Path | None = typer.Option(None, "--json", help="also write the summary here"),
    registry: str | None = typer.Option(
        None, help="MLflow URI of a registry to take the model from instead of training one"
    ),
    alias: str | None = typer.Option(None, help="with --registry: the alias (default champion)"),
) -> None:
    """Generate a base, train a model, run the weeks (score, list, hold out, call, regenerate)."""
    from churn.errors import InputError
    from loop.closed_loop import registered_model, run_loop

    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a directory")
    if alias is not None and registry is None:
        raise InputError("--alias: needs --registry URI (without it a model is trained)")
    cfg = config()
    model = registered_model(cfg, registry, alias) if registry is not None else None
    result = run_loop(
        cfg,
        out=out,
        weeks=weeks,
        clients=clients,
        seed=seed,
        capacity=capacity,
        ranking=ranking,
        model=model,
        sim=simulate_config(),
    )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.as_dict(), indent=2), encoding="utf-8")
    truth = result.truth
    typer.echo(
        f"{len(result.weeks)} weeks {result.weeks[0]}..{result.weeks[-1]}: {result.listed} "
        f"listed ({result.called} called, {result.held_out} held out), capacity "
        f"{result.capacity}, ranking {result.ranking}, model version {result.model_version}\n"
        f"true average effect of a listing assigned to a call: {truth['average_effect']:.4f} "
        f"({truth['retained_per_100_calls']:.1f} retained per 100 calls; "
        f"{result.raw_dir}/_truth/treatment.parquet)\n"
        f"next: churn uplift --assignments {result.assignments} --raw {result.raw_dir} "
        f"--capacity {result.capacity} --report {Path(result.out) / 'uplift.json'}"
    )


@app.command("simulate-rankings")
@friendly
def simulate_rankings(
    weeks: int = typer.Option(26, help="simulated weeks per run"),
    clients: int = typer.Option(3000, help="clients in each generated base"),
    seed: int = typer.Option(42, help="seed of the learning run (evaluation: seed + 1)"),
    out: Path = typer.Option(..., help="workspace: one loop per ranking + rankings.json"),
    capacity: int | None = typer.Option(None, help="calls a week (same for every ranking)"),
) -> None:
    """Risk vs expected loss vs expected profit vs uplift ranking: retained per 100 calls."""
    from churn.errors import InputError
    from loop.rankings import REPORT_FILE, compare_rankings

    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a directory")
    report = compare_rankings(
        config(),
        out=out,
        weeks=weeks,
        clients=clients,
        seed=seed,
        capacity=capacity,
        sim=simulate_config(),
    )
    for name, r in report.rankings.items():
        m = r.measured_ci or [float("nan")] * 2
        typer.echo(
            f"{name:>16}: true {r.true_retained_per_100_calls:5.2f} retained per 100 calls "
            f"({r.true_ci[0]:.2f}..{r.true_ci[1]:.2f}); measured by the holdout "
            f"{r.measured_retained_per_100_calls:6.2f} ({m[0]:.2f}..{m[1]:.2f})"
        )
    v = report.verdict
    typer.echo(
        f"best by the truth: {v.best_by_truth}; its interval is above "
        f"{', '.join(v.best_interval_above) or 'none'}, overlaps "
        f"{', '.join(v.overlapping) or 'none'} -> {out / REPORT_FILE}"
    )
