"""Simulator fixtures: a medium base (a few thousand clients) for marginal rates."""

from __future__ import annotations

from pathlib import Path

import pytest
from sim_helpers import small_cfg

from simulator.config import SimulateConfig

MEDIUM_CLIENTS = 3000
MEDIUM_MONTHS = 12


@pytest.fixture(scope="session")
def medium_raw(
    base_sim: SimulateConfig, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict]:
    """A few thousand clients over a year: enough client-months for stable rates."""
    from simulator.generate import simulate

    out = tmp_path_factory.mktemp("sim_medium")
    cfg = small_cfg(base_sim, clients=MEDIUM_CLIENTS, months=MEDIUM_MONTHS, seed=11)
    # marginal rates only; test_horizon_truth.py has its own base
    cfg = cfg.override(reference__paths=0)
    return out, simulate(cfg, out)
