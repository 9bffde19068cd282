"""Point-in-time: nothing on or after as_of changes a snapshot as of that date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pit import perturb_after
from tiny_base import AS_OF, write_tiny_base

from churn.config import Config, load_config
from features.cli import data_span
from features.snapshot import build_snapshots


def _assert_unchanged(raw: Path, perturbed: Path, dates: list[date], cfg: Config) -> None:
    before = build_snapshots(raw, dates, cfg)
    after = build_snapshots(perturbed, dates, cfg)
    assert len(before) > 0
    pd.testing.assert_frame_equal(before, after)


def test_future_changes_do_not_leak_on_the_hand_built_base(tmp_path: Path) -> None:
    raw = write_tiny_base(tmp_path / "raw")
    for seed in range(3):
        perturbed = perturb_after(raw, tmp_path / f"p{seed}", AS_OF, seed=seed)
        _assert_unchanged(raw, perturbed, [AS_OF], load_config())


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
    _assert_unchanged(small_raw, perturbed, [as_of], session_config)
