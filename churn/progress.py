"""Progress of the long steps (simulate, tuning, weekly scoring, features over many dates).

On a terminal a bar shows how far a step is; when standard error is not a terminal (CI
logs, cron, tests, a pipe) nothing is drawn, so logs hold only what was said. Library
code wraps its loop in :func:`progress` (or advances a :func:`counter`); it never prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def on_terminal() -> bool:
    """True when standard error is a terminal: the place a bar may be drawn."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def bar_on_screen() -> bool:
    """True while a bar of ours is drawn (another drawing, DuckDB's own bar, would tear it)."""
    return bool(_live)


def progress(items: Iterable[T], *, total: int | None = None, what: str = "") -> Iterator[T]:
    """``items``, with a bar on a terminal (``what`` labels it; quiet elsewhere)."""
    with counter(total, what) as advance:
        for item in items:
            yield item
            advance()


_live: list = []  # the bar on screen, if any: a step inside a step adds a line to it


Advance = Callable[..., None]  # advance(step=None): one step done, ``step`` names it


@contextmanager
def counter(total: int | None, what: str = "") -> Iterator[Advance]:
    """A function that advances a bar of ``total`` steps by one (a no-op off a terminal);
    ``advance("scored")`` also names the step just done beside ``what`` and redraws.

    A counter opened while another is on screen (the months a week's regeneration
    simulates, inside the simulated weeks) is a second line of the same display, removed
    when it ends: one live display at a time."""
    if not on_terminal():
        yield lambda step=None: None
        return
    if _live:
        bar = _live[-1]
        task = bar.add_task(what, total=total)
        try:
            yield _advancer(bar, task, what)
        finally:
            bar.remove_task(task)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(what, total=total)
        _live.append(bar)
        try:
            yield _advancer(bar, task, what)
        finally:
            _live.remove(bar)


def _advancer(bar: Any, task: Any, what: str) -> Advance:
    def advance(step: str | None = None) -> None:
        if step is None:
            bar.advance(task)
            return
        bar.update(task, advance=1, description=f"{what}: {step}")
        bar.refresh()  # a named step is shown even if it ends before the next redraw

    return advance
