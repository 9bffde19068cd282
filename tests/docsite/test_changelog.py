"""CHANGELOG.md keeps the Keep a Changelog shape and names the version pyproject.toml has."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", re.M)
SECTIONS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_changelog_shape_and_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert "\n## [Unreleased]\n" in text
    releases = RELEASE.findall(text)
    assert len(releases) >= 3
    versions = [tuple(int(p) for p in v.split(".")) for v, _ in releases]
    days = [date.fromisoformat(d) for _, d in releases]
    assert versions == sorted(versions, reverse=True), "newest release first"
    assert days == sorted(days, reverse=True)
    for heading in re.findall(r"^### (.+)$", text, re.M):
        assert heading in SECTIONS, heading
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == releases[0][0], "bump pyproject.toml with the newest release"
