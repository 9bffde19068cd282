"""The installed project: the CLI exists, and the config loads and rejects bad values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from churn.config import load_config
from churn.errors import InputError


def test_cli_help_lists_every_step() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for step in (
        "simulate",
        "validate",
        "features",
        "rules",
        "train",
        "score",
        "call-list",
        "serve",
    ):
        assert step in out


def test_default_config_loads_with_rules_from_rules_yaml() -> None:
    cfg = load_config()
    assert cfg.rules.contact_index.renewal_period_arrived == pytest.approx(0.30)
    assert cfg.rules.bands.high == pytest.approx(0.34)


def test_bad_config_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "default.yaml").write_text("training:\n  horizon_days: -5\n")
    with pytest.raises(InputError, match="horizon_days"):
        load_config(tmp_path / "default.yaml")


def test_test_module_basenames_are_unique() -> None:
    """pytest's default import mode needs unique basenames across test folders."""
    tests_dir = Path(__file__).parent
    names = [
        p.name for p in tests_dir.rglob("*.py") if p.name not in {"conftest.py", "__init__.py"}
    ]
    dupes = sorted({n for n in names if names.count(n) > 1})
    assert not dupes, f"duplicate test module names: {dupes}"
