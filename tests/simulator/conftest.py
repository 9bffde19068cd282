"""Simulator fixtures: a medium base (a few thousand clients) for marginal rates."""

from __future__ import annotations

from pathlib import Path

import pytest
from sim_helpers import small_cfg

from churn.config import Config

MEDIUM_CLIENTS = 3000
MEDIUM_MONTHS = 12


@pytest.fixture(scope="session")
def medium_raw(base_config: Config, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A few thousand clients over a year: enough client-months for stable rates."""
    from simulator.generate import simulate

    out = tmp_path_factory.mktemp("sim_medium")
    cfg = small_cfg(base_config, clients=MEDIUM_CLIENTS, months=MEDIUM_MONTHS, seed=11)
    cfg.reference.paths = 0  # marginal rates only; test_horizon_truth.py has its own base
    return out, simulate(cfg, out)
