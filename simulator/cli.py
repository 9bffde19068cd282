"""``churn simulate``: generate a client base and print a short human summary."""

from __future__ import annotations

from pathlib import Path

import typer

from churn.config import Config
from churn.errors import InputError
from simulator.config import SimulateConfig


def run_simulate(
    cfg: Config,
    sim: SimulateConfig,
    *,
    clients: int | None,
    months: int | None,
    seed: int | None,
    out: Path | None,
    centres: int | None = None,
    names: bool = False,
) -> None:
    """Generate into ``out`` (None arguments fall back to ``sim`` / ``cfg.paths``)."""
    from simulator.generate import simulate

    for name, value in (("clients", clients), ("months", months)):
        if value is not None and value <= 0:
            raise InputError(f"--{name}: must be a positive integer, got {value}")
    if seed is not None and seed < 0:
        raise InputError(f"--seed: must be a non-negative integer, got {seed}")
    if centres is not None and not 0 <= centres <= 99:
        raise InputError(f"--centres: must be between 0 and 99, got {centres}")
    given = {"clients": clients, "months": months, "seed": seed, "centres": centres}
    sim = sim.override(**{k: v for k, v in given.items() if v is not None})
    sim = sim.override(names=sim.names or names)
    target = Path(out) if out is not None else cfg.paths.raw_dir
    if target.exists() and not target.is_dir():
        raise InputError(f"--out: {target} exists and is not a directory")
    s = simulate(sim, target)
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
