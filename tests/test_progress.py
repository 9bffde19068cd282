"""Long steps show a bar on a terminal and nothing elsewhere (logs, CI, pipes)."""

from __future__ import annotations

import io
import sys

import pytest

from churn.progress import counter, on_terminal, progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert not on_terminal()
    assert list(progress(range(5), total=5, what="simulating months")) == [0, 1, 2, 3, 4]
    with counter(3, "tuning") as advance:
        advance()
    assert err.getvalue() == ""


def test_a_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert on_terminal()
    assert list(progress(range(3), total=3, what="simulating months")) == [0, 1, 2]
    assert "simulating months" in err.getvalue()
