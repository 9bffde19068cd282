"""The one snapshot loader: a snapshot Parquet file, or snapshots built from raw data.

Training and serving both read snapshots through :func:`load_snapshots`, so a missing or
unreadable file is named the same way everywhere: training asks for the monthly history
(built into ``paths.features_path`` when only ``raw`` is given), batch scoring for the
snapshot as of the newest event (built in memory). What each does with the frame (label
it, index it by ``as_of``) is its own business.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from churn.config import Config
from churn.errors import InputError, NotFound


@dataclass(frozen=True)
class LoadedSnapshots:
    """The snapshot rows and where they came from (a file, or the raw folder)."""

    frame: pd.DataFrame
    source: Path
    built: bool  # built from raw data by this call, not read from an existing file


def read_snapshot_file(path: Path) -> pd.DataFrame:
    """A snapshot Parquet file; NotFound / InputError name the file."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"--features: snapshot file not found: {path} (run `churn features`)")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise InputError(f"--features: {path} is not a readable Parquet file: {exc}") from exc


def load_snapshots(
    cfg: Config,
    *,
    features_file: Path | None = None,
    raw: Path | None = None,
    build: Literal["monthly", "latest"] = "latest",
) -> LoadedSnapshots:
    """``features_file`` if given; else, with ``raw``, snapshots built from it (``monthly``:
    every month start into ``paths.features_path``; ``latest``: as of the day after the
    newest event, in memory); else the configured ``paths.features_path``."""
    if features_file is None and raw is not None:
        raw = Path(raw)
        if build == "monthly":
            from features.build import run_features

            out = Path(cfg.paths.features_path)
            run_features(cfg, raw=raw, out=out, as_of=None, to=None, every="month")
            return LoadedSnapshots(read_snapshot_file(out), out, True)
        if cfg.features.source is not None:  # a subscription + activity source
            from datetime import timedelta

            from features.generic.build import build_snapshots as build_source
            from features.source import data_span, source_spec

            day = data_span(cfg, raw)[1] + timedelta(days=1)
            frame = build_source(source_spec(cfg), raw, [day]).frame
            return LoadedSnapshots(frame, raw, True)
        from features.dates import latest_as_of
        from features.snapshot import build_snapshots

        frame = build_snapshots(raw, [latest_as_of(raw)], cfg)
        return LoadedSnapshots(frame, raw, True)
    path = Path(features_file or cfg.paths.features_path)
    return LoadedSnapshots(read_snapshot_file(path), path, False)
