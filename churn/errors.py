"""Errors that cross the boundary to a user.

Anything raised as a :class:`ChurnError` is a problem with the user's input or
environment, not a bug: the CLI prints its message on one line and exits non-zero,
the service maps it to a 4xx. Everything else is a bug and may show a traceback.
"""

from __future__ import annotations


class ChurnError(Exception):
    """A user-facing error with a precise, one-line message."""

    exit_code: int = 2


class InputError(ChurnError):
    """The input (file, table, column, value) is wrong; the message names it."""

    exit_code = 2


class ValidationFailed(ChurnError):
    """A data table broke its contract; ``violations`` lists every problem found."""

    exit_code = 1

    def __init__(self, message: str, violations: list[str] | None = None) -> None:
        super().__init__(message)
        self.violations = violations or []


class NotFound(ChurnError):
    """Something the user named (a client id, a model alias, a file) does not exist."""

    exit_code = 3


class Conflict(ChurnError):
    """The input contradicts what is already recorded (an id reused for other content);
    the service answers 409."""

    exit_code = 2


SHOWN_CHARS = 40  # an offending value is quoted by at most this many characters


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters: an error names the value without echoing
    a 10 MB input back (``shown("x" * 10**7)`` is ``'xxx…' (10000002 characters)``)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"
