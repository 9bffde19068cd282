"""One broken rule of the raw-data contract, as a user reads it.

A violation names the table, the column (empty for a table-level problem such as a
missing file), a short check name a script can match on, a human message, a few example
rows and how many rows broke the rule, so that one ``churn validate`` run lists every
problem in a form a CRM administrator can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_EXAMPLE_CHARS = 200  # keep each listed line readable


@dataclass(frozen=True)
class Violation:
    table: str
    column: str
    check: str
    message: str
    examples: list[Any] = field(default_factory=list)
    count: int = 0  # rows that break the rule; 0 for a structural (file/column) problem

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}" if self.column else self.table

    def line(self) -> str:
        """``table.column: check — N rows …, e.g. …`` on one line."""
        text = f"{self.where}: {self.check} — {self.message}"
        if self.examples:
            shown = "; ".join(_show(e) for e in self.examples)
            if len(shown) > MAX_EXAMPLE_CHARS:
                shown = shown[: MAX_EXAMPLE_CHARS - 1] + "…"
            text += f", e.g. {shown}"
        return text


def _show(example: Any) -> str:
    if isinstance(example, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in example.items()) + "}"
    return str(example)


def rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"
