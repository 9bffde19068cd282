"""Point-in-time: nothing on or after as_of changes a snapshot as of that date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pit import perturb_after
from tiny_base import AS_OF, write_tiny_base

from churn.config import Config, load_config
from features.dates import data_span
from features.snapshot import build_snapshots


def _assert_unchanged(
    raw: Path, perturbed: Path, dates: list[date], cfg: Config, upto: date | None = None
) -> None:
    """Snapshots as of every date <= ``upto`` (default: all) are identical on both bases.

    Later dates are built in the same run on purpose: last-ever values are computed once
    for all dates (features.compile.history_expr), and must not leak backwards.
    """
    before = build_snapshots(raw, dates, cfg)
    after = build_snapshots(perturbed, dates, cfg)
    if upto is not None:
        cut = pd.Timestamp(upto, tz="UTC")
        before = before[before["as_of"] <= cut].reset_index(drop=True)
        after = after[after["as_of"] <= cut].reset_index(drop=True)
    assert len(before) > 0
    pd.testing.assert_frame_equal(before, after)


def test_future_changes_do_not_leak_on_the_hand_built_base(tmp_path: Path) -> None:
    raw = write_tiny_base(tmp_path / "raw")
    dates = [date(2025, 5, 1), AS_OF, date(2025, 7, 1)]
    for seed in range(3):
        perturbed = perturb_after(raw, tmp_path / f"p{seed}", AS_OF, seed=seed)
        _assert_unchanged(raw, perturbed, dates, load_config(), upto=AS_OF)


def test_the_perturbation_really_changes_later_snapshots(tmp_path: Path) -> None:
    """Guard against a vacuous test: the same edits do change a snapshot a month later."""
    raw = write_tiny_base(tmp_path / "raw")
    perturbed = perturb_after(raw, tmp_path / "p", AS_OF, seed=0)
    later = [date(2025, 7, 1)]
    cfg = load_config()
    with pytest.raises(AssertionError):
        _assert_unchanged(raw, perturbed, later, cfg)


def test_future_changes_do_not_leak_on_the_generated_base(
    small_raw: Path, session_config: Config, tmp_path: Path
) -> None:
    first, newest = data_span(small_raw)
    as_of = date(first.year + (first.month + 9) // 12, (first.month + 9) % 12 + 1, 1)
    assert first < as_of < newest
    perturbed = perturb_after(small_raw, tmp_path / "p", as_of, seed=11)
    later = date(as_of.year + as_of.month // 12, as_of.month % 12 + 1, 1)
    dates = [date(as_of.year - 1, as_of.month, 1), as_of, later]
    _assert_unchanged(small_raw, perturbed, dates, session_config, upto=as_of)
