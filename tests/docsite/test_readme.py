"""The README stays a short entry point: at most 150 lines, no dated lab notes, every
relative link pointing at a file that exists, and the two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_is_short() -> None:
    assert len(README.splitlines()) <= 150


def test_readme_has_the_two_setup_commands_and_no_dated_notes() -> None:
    assert "make demo" in README and "make test" in README
    dated = re.findall(r"\b20\d\d-\d\d-\d\d\b", README)
    assert dated == [], f"dated notes belong in docs/results.md or CHANGELOG.md: {dated}"


def test_readme_links_resolve() -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", README):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        assert (REPO / target.split("#")[0]).exists(), target
