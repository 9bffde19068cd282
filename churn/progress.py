"""Progress of the long steps (simulate, tuning, weekly scoring, features over many dates).

On a terminal a bar shows how far a step is; when standard error is not a terminal (CI
logs, cron, tests, a pipe) nothing is drawn, so logs hold only what was said. Library
code wraps its loop in :func:`progress` (or advances a :func:`counter`); it never prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def on_terminal() -> bool:
    """True when standard error is a terminal: the place a bar may be drawn."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress(items: Iterable[T], *, total: int | None = None, what: str = "") -> Iterator[T]:
    """``items``, with a bar on a terminal (``what`` labels it; quiet elsewhere)."""
    with counter(total, what) as advance:
        for item in items:
            yield item
            advance()


@contextmanager
def counter(total: int | None, what: str = "") -> Iterator[Callable[[], None]]:
    """A function that advances a bar of ``total`` steps by one (a no-op off a terminal)."""
    if not on_terminal():
        yield lambda: None
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
        yield lambda: bar.advance(task)
