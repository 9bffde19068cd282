"""Every value an import could not read, named the way the person holding the report finds it:
file, sheet, row number, source column, contract column and the value itself.

Problems are tallied per (file, sheet, source column, contract column, check): the first
``max_examples`` rows with their values and the count of all of them, so a report with a
million bad dates prints a few lines, not a million.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from churn.errors import ValidationFailed


@dataclass(frozen=True)
class Where:
    """A place in the export: the file, the sheet (workbooks) and the column."""

    file: str
    sheet: str | None = None
    source: str = ""  # the report's header ("" for a whole-file problem)
    table: str = ""
    column: str = ""  # the contract column ("" when the header maps to none)

    def text(self) -> str:
        place = self.file + (f" [{self.sheet}]" if self.sheet else "")
        if self.source:
            place += f' column "{self.source}"'
        if self.column:
            place += f" -> {self.table}.{self.column}"
        elif self.table:
            place += f" ({self.table})"
        return place


@dataclass
class Tally:
    count: int = 0
    examples: list[tuple[int | None, str]] = field(default_factory=list)


class Problems:
    """Collects problems; ``lines()`` is what the CLI prints."""

    def __init__(self, max_examples: int = 5) -> None:
        self.max_examples = max_examples
        self._tallies: dict[tuple[Where, str, str], Tally] = {}

    def add(
        self,
        where: Where,
        check: str,
        message: str,
        examples: list[tuple[int | None, str]] = (),  # type: ignore[assignment]
        count: int | None = None,
    ) -> None:
        tally = self._tallies.setdefault((where, check, message), Tally())
        tally.count += len(examples) if count is None else count
        room = self.max_examples - len(tally.examples)
        tally.examples += list(examples)[: max(room, 0)]

    def __bool__(self) -> bool:
        return bool(self._tallies)

    def __len__(self) -> int:
        return len(self._tallies)

    def lines(self) -> list[str]:
        out = []
        for (where, check, message), tally in self._tallies.items():
            text = f"{where.text()}: {check}: {message}"
            if tally.count:
                text += f" ({tally.count} row{'s' if tally.count != 1 else ''})"
            if tally.examples:
                shown = "; ".join(
                    (f"row {row} " if row is not None else "") + repr(value)
                    for row, value in tally.examples
                )
                text += f", e.g. {shown}"
            out.append(text)
        return out

    def checks(self) -> set[str]:
        return {check for _, check, _ in self._tallies}

    def raise_if_any(self, what: str) -> None:
        if self:
            raise ImportFailed(f"{what}: {len(self)} problem(s); nothing was written", self.lines())


class ImportFailed(ValidationFailed):
    """The export could not be imported; ``violations`` names every problem (exit 1)."""
