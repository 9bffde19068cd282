"""Helpers for the simulator tests (imported by name: the test dirs are not packages)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churn.config import Config, SimulateConfig
from features.contract import TABLES


def read_tables(raw: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(raw / f"{name}.parquet") for name in TABLES}


def small_cfg(base: Config, **changes: object) -> SimulateConfig:
    cfg = base.simulate.model_copy(deep=True)
    for k, v in changes.items():
        setattr(cfg, k, v)
    return cfg
