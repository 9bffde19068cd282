"""Helpers for the simulator tests (imported by name: the test dirs are not packages)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.contract import TABLES
from simulator.config import SimulateConfig


def read_tables(raw: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(raw / f"{name}.parquet") for name in TABLES}


def small_cfg(base: SimulateConfig, **changes: object) -> SimulateConfig:
    return base.override(**changes)
