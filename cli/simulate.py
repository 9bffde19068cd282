"""``churn simulate``: generate a client base and print a short human summary."""

from __future__ import annotations

from pathlib import Path

import typer

from churn.errors import InputError
from cli.base import app, config, friendly, simulate_config
from simulator.config import SimulateConfig


@app.command()
@friendly
def simulate(
    clients: int | None = typer.Option(None, help="number of clients"),
    months: int | None = typer.Option(None, help="months of history"),
    seed: int | None = typer.Option(None, help="random seed"),
    out: Path | None = typer.Option(None, help="output directory for the raw Parquet tables"),
    centres: int | None = typer.Option(
        None, help="a network of K centres: clients.centre_id C01..CK (default: one centre)"
    ),
    names: bool = typer.Option(False, "--names", help="write clients.name (firm/person names)"),
) -> None:
    """Generate a realistic synthetic client base in the raw-data contract."""
    from simulator.generate import simulate as generate

    for name, value in (("clients", clients), ("months", months)):
        if value is not None and value <= 0:
            raise InputError(f"--{name}: must be a positive integer, got {value}")
    if seed is not None and seed < 0:
        raise InputError(f"--seed: must be a non-negative integer, got {seed}")
    if centres is not None and not 0 <= centres <= 99:
        raise InputError(f"--centres: must be between 0 and 99, got {centres}")
    given = {"clients": clients, "months": months, "seed": seed, "centres": centres}
    sim = simulate_config().override(**{k: v for k, v in given.items() if v is not None})
    sim = sim.override(names=sim.names or names)
    target = Path(out) if out is not None else config().paths.raw_dir
    if target.exists() and not target.is_dir():
        raise InputError(f"--out: {target} exists and is not a directory")
    s = generate(sim, target)
    shares = ", ".join(f"{k} {v:.0%}" for k, v in s["category_shares"].items())
    typer.echo(
        f"simulated {s['clients']:,} clients x {s['months']} months (seed {s['seed']})"
        f" -> {target}\n"
        f"  events: {s['events']:,} ({s['rows']['logins']:,} logins); churned: {s['churned']:,}; "
        f"monthly churn rate {s['monthly_churn_rate']:.2%}\n"
        f"  categories: {shares}; large segment {s['large_share']:.0%}; "
        f"remote {s['remote_share']:.0%}; {s['seconds']:.1f} s\n"
        f"  reference: {_reference_line(sim, s['reference_paths'])}"
        + (
            f"\n  centres: {sim.centres} (clients.centre_id C01..C{sim.centres:02d})"
            if sim.centres
            else ""
        )
    )


def _reference_line(sim: SimulateConfig, paths: int) -> str:
    """What the run wrote as the evaluation's reference, or why it did not."""
    ref = sim.reference
    if paths:
        return (
            f"true {ref.horizon_days}-day churn probability per monthly as_of, Monte Carlo "
            f"({paths} paths) -> _truth/horizon_probability.parquet"
        )
    if ref.paths <= 0:
        return "not written (simulate.yaml reference.paths is 0)"
    return (
        f"not written: {sim.clients:,} clients > simulate.yaml reference.max_clients "
        f"{ref.max_clients:,} (cost ~ paths x clients)"
    )
