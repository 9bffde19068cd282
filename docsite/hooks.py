"""MkDocs hooks: the config facts a page quotes (``docsite.facts``) filled in at build time."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # mkdocs loads this file by path; make the project importable
    sys.path.insert(0, str(ROOT))

from docsite.facts import expand  # noqa: E402


def on_page_markdown(markdown: str, **_: Any) -> str:
    return expand(markdown)
