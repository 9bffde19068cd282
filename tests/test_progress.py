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


def test_a_step_inside_a_step_is_a_line_of_the_same_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    from churn import progress as module

    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    with counter(2, "simulating weeks") as outer:
        bar = module._live[-1]
        with counter(3, "simulating months") as inner:
            assert module._live == [bar]  # no second live display
            assert [t.description for t in bar.tasks] == ["simulating weeks", "simulating months"]
            inner()
        assert [t.description for t in bar.tasks] == ["simulating weeks"]
        outer()
    assert module._live == []
