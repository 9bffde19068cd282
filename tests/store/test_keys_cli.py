"""``churn keys``: add prints a working key once, list hides it, revoke stops it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from store.db import connect
from store.keys import verify_key


def _churn(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHURN_STORE_URL": url}
    return subprocess.run([sys.executable, "-m", "cli.main", "keys", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_keys_add_list_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    added = _churn(url, "add", "--role", "supervisor", "--name", "anna")
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    assert verify_key(connect(url), key).role == "supervisor"
    listed = _churn(url, "list")
    assert "anna\tsupervisor" in listed.stdout and key not in listed.stdout
    assert _churn(url, "revoke", "--name", "anna").returncode == 0
    assert verify_key(connect(url), key) is None
    bad = _churn(url, "add", "--role", "root", "--name", "x")
    assert (
        bad.returncode != 0 and "role" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    )
