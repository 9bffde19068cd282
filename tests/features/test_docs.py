"""features/README.md is generated from the catalog and must be up to date."""

from __future__ import annotations

from features.catalog import CATALOG
from features.docs import README, render


def test_readme_is_generated_from_the_catalog() -> None:
    assert README.read_text(encoding="utf-8") == render(), "run: python -m features.docs"


def test_every_signal_has_a_row_with_its_definition() -> None:
    text = render()
    for f in CATALOG:
        assert f"| `{f.name}` |" in text
        assert f.definition.replace("|", "\\|") in text
