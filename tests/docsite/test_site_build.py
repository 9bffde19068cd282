"""The docs site builds with ``mkdocs build --strict``: a broken link, a missing page, an
unknown anchor or a generator that fails stops ``make test``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_site_builds_strict(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    site = tmp_path / "site"
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for page in (
        "index.html",
        "tutorial/first-week.html",
        "how-to/connect-crm-export.html",
        "reference/cli.html",
        "reference/config.html",
        "reference/http-api.html",
        "reference/openapi.json",
        "reference/contract.html",
        "reference/signals.html",
        "explanation/architecture.html",
        "results.html",
        "ru/supervisor.html",
        "ru/operator.html",
        "changelog.html",
    ):
        assert (site / page).is_file(), page
    # the architecture diagram is a mermaid block the theme renders
    assert 'class="mermaid"' in (site / "explanation/architecture.html").read_text(encoding="utf-8")
    # generated pages carry what the code says, e.g. an option of churn weekly
    assert "--weeks-back" in (site / "reference/cli.html").read_text(encoding="utf-8")
