"""Which code ran: the git commit recorded on every training run and served by ``/readyz``."""

from __future__ import annotations

import subprocess

from churn.config import REPO_ROOT
from churn.environment import environment


def git_commit() -> str | None:
    """``CHURN_GIT_COMMIT`` (a built bento has no checkout), else the repository's HEAD,
    else None (no git, or not a checkout)."""
    if commit := environment().git_commit:
        return commit
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
