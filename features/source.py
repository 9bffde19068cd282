"""Which source the loop runs on, and the few things every stage asks of it.

Why: the loop after the raw tables (training labels, the weekly run, monitoring) is the
same for the centre's CRM contract and for a subscription + activity source
(:mod:`features.generic`); only these questions have a different answer per source, so
they are asked here and nowhere else. The config says which (``features.source`` names a
source spec; unset: the centre's contract and ``features.signals``).

- :func:`data_span`: first activity and newest event (the weekly run's default date);
- :func:`write_snapshots`: point-in-time snapshots on dates into one Parquet file;
- churn events and the data end labels use: :func:`training.labels.churn_events_of`
  (the training layer reads the centre's raw churn events);
- :func:`violations`: the contract checks of a raw directory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from churn.config import Config
from features.generic.spec import SourceSpec
from features.violation import Violation


def source_spec(cfg: Config) -> SourceSpec | None:
    """The subscription + activity source spec the config names (None: the centre's)."""
    if cfg.features.source is None:
        return None
    from features.generic.spec import load_spec

    return load_spec(cfg.features.source)


def data_span(cfg: Config, raw_dir: Path) -> tuple[date, date]:
    """(date of the first activity, date of the newest event) of ``raw_dir``."""
    spec = source_spec(cfg)
    if spec is None:
        from features.dates import data_span as centre_span

        return centre_span(raw_dir)
    from features.generic.build import data_span as generic_span

    return generic_span(raw_dir)


def write_snapshots(cfg: Config, raw_dir: Path, dates: Sequence[date], out: Path) -> int:
    """Snapshots of ``raw_dir`` on ``dates`` into ``out`` (with the raw digest); rows."""
    spec = source_spec(cfg)
    if spec is None:
        from features.snapshot import write_snapshots as centre_write

        return centre_write(Path(raw_dir), dates, cfg, Path(out))
    from features.generic.build import write_snapshots as generic_write

    return generic_write(spec, Path(raw_dir), dates, Path(out))


def violations(cfg: Config, raw_dir: Path) -> list[Violation]:
    """Every contract violation of ``raw_dir`` (empty: clean)."""
    spec = source_spec(cfg)
    if spec is None:
        from features.schema import inspect_dir

        return inspect_dir(raw_dir, config=cfg.validation)[1]
    from features.generic.build import raw_violations

    return raw_violations(Path(raw_dir))


def run_validate_source(cfg: Config, raw_dir: Path, say: Callable[[str], None]) -> None:
    """``churn validate DIR`` on a subscription + activity source: every violation
    (ValidationFailed: exit 1) or the line that says there is none."""
    from churn.errors import InputError, ValidationFailed

    if not Path(raw_dir).is_dir():
        raise InputError(f"raw data directory not found: {raw_dir}")
    found = violations(cfg, raw_dir)
    if found:
        tables = sorted({v.table for v in found})
        raise ValidationFailed(
            f"{raw_dir}: {len(found)} contract violation(s) in {', '.join(tables)}",
            violations=[v.line() for v in found],
        )
    say(f"{raw_dir}: every table satisfies the contract (source {cfg.features.source})")
