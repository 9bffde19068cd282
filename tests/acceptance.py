"""Where the acceptance tables are.

The source of truth is ``../shared/acceptance/`` beside the repository (as CI lays it
out). A clone made anywhere else (``git clone . "$(mktemp -d)"``) has no ``shared/``, so
``tests/data/`` keeps a byte-identical copy; a test checks the copy against the source
whenever the source is there.
"""

from __future__ import annotations

from pathlib import Path

SHARED_ACCEPTANCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "acceptance"
VENDORED_DIR = Path(__file__).resolve().parent / "data"


def acceptance_file(name: str) -> Path:
    """``shared/acceptance/<name>`` when present, else the vendored copy."""
    shared = SHARED_ACCEPTANCE_DIR / name
    return shared if shared.exists() else VENDORED_DIR / name
