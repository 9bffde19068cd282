"""The mapping from a CRM's report layout to the raw-data contract, validated by pydantic.

One entry per contract table: which file (a glob under the export directory) and, for a
workbook, which sheet; the 1-based row holding the headers; per source header the contract
column it fills and how its text is read (value map, date formats, number format, or a split
of "11123 - ООО ..." into id and name); constants for columns the report does not carry; and
headers the report has that the contract does not need (``ignore``). Any other header is an
error: a report whose layout changed must not be half-read.

The contract gives each column its type; the mapping only says how the text looks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from churn.errors import InputError
from features.contract import TABLES

NBSP = "\u00a0"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumberFormat(_Strict):
    """How a number is written: decimal separator and the thousands separators allowed."""

    # the decimal separator of the report's numbers
    decimal: str = Field(",", min_length=1, max_length=1)
    # characters that group thousands (space, no-break space)
    thousands: list[str] = [" ", NBSP]
    decimals: int = Field(2, ge=0, le=6)  # digits the export writes after the separator

    @model_validator(mode="after")
    def _distinct(self) -> NumberFormat:
        if self.decimal in self.thousands:
            raise ValueError(f"decimal {self.decimal!r} is also a thousands separator")
        return self


class Split(_Strict):
    """One source column holding several contract columns, e.g. "11123 - ООО "Строй Дом"".

    ``pattern`` is a regular expression whose groups, in order, fill ``into``; an optional
    group that does not match gives a missing value ("11123" alone: no name)."""

    # regular expression whose groups are the parts, e.g. id and name
    pattern: str
    # the contract columns the groups fill, in order
    into: list[str] = Field(min_length=1)
    join: str = " - "  # how the export writes the parts back

    @model_validator(mode="after")
    def _groups(self) -> Split:
        try:
            groups = re.compile(self.pattern).groups
        except re.error as exc:
            raise ValueError(f"split pattern {self.pattern!r}: {exc}") from None
        if groups != len(self.into):
            raise ValueError(f"split pattern has {groups} groups for {len(self.into)} columns")
        return self


class ColumnMap(_Strict):
    """What one source header becomes."""

    to: str | None = None  # the contract column (or use ``split``)
    split: Split | None = None
    values: dict[str, str] | None = None  # source text -> contract value
    date: list[str] | None = None  # strptime formats, tried in order (default: the table's)
    number: NumberFormat | None = None  # default: the mapping's

    @field_validator("date", mode="before")
    @classmethod
    def _one_format(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _one_target(self) -> ColumnMap:
        if (self.to is None) == (self.split is None):
            raise ValueError("give exactly one of 'to' and 'split'")
        return self

    @property
    def targets(self) -> list[str]:
        return list(self.split.into) if self.split else [self.to]  # type: ignore[list-item]


class TableMap(_Strict):
    """Where one contract table comes from."""

    file: str  # glob under the export directory; several matching files are concatenated
    sheet: str | None = None  # workbook sheet (default: the first)
    # 1-based row of the headers (rows above it are the report's title)
    header_row: int = Field(1, ge=1)
    # report header -> contract column and how its text is read
    columns: dict[str, ColumnMap]
    # contract columns the report lacks, with their one value
    constants: dict[str, Any] = {}
    # report headers the contract does not need (glob patterns)
    ignore: list[str] = []
    key: list[str] | None = None  # rows with the same key are one row (default: contract key)
    date: list[str] | None = None  # the table's default date formats

    @field_validator("date", mode="before")
    @classmethod
    def _one_format(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class ExportFormat(_Strict):
    """How ``churn export-crm`` writes CSV files (reading sniffs both)."""

    # encoding of the CSV reports (read and written)
    encoding: str = "cp1251"
    # field separator of the CSV reports
    delimiter: str = ";"


class Mapping(_Strict):
    """A whole report layout: every table it provides."""

    # what report layout this mapping reads
    description: str = ""
    timezone: str = "UTC"  # the time zone the report's dates are written in
    # strptime formats of the report's dates, tried in order
    date: list[str] = ["%d.%m.%Y %H:%M:%S", "%d.%m.%Y"]
    number: NumberFormat = NumberFormat()
    csv: ExportFormat = ExportFormat()
    # per contract table: where it comes from and how its text is read
    tables: dict[str, TableMap]

    @model_validator(mode="after")
    def _against_contract(self) -> Mapping:
        problems = []
        for name, tm in self.tables.items():
            if name not in TABLES:
                problems.append(f"tables.{name}: not a contract table ({', '.join(TABLES)})")
                continue
            contract = {c.name: c for c in TABLES[name].columns}
            filled: list[str] = []
            for header, cm in tm.columns.items():
                for col in cm.targets:
                    if col not in contract:
                        problems.append(f"tables.{name}.columns[{header!r}]: no column {col!r}")
                filled += cm.targets
            for col in tm.constants:
                if col not in contract:
                    problems.append(f"tables.{name}.constants.{col}: not a contract column")
            filled += list(tm.constants)
            twice = sorted({c for c in filled if filled.count(c) > 1})
            if twice:
                problems.append(f"tables.{name}: filled more than once: {', '.join(twice)}")
            lacking = [c.name for c in contract.values() if not c.nullable and c.name not in filled]
            if lacking:
                problems.append(f"tables.{name}: nothing fills {', '.join(lacking)}")
            for col in tm.key or []:
                if col not in contract:
                    problems.append(f"tables.{name}.key: no column {col!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def date_formats(self, table: str, cm: ColumnMap) -> list[str]:
        return cm.date or self.tables[table].date or self.date

    def number_format(self, cm: ColumnMap) -> NumberFormat:
        return cm.number or self.number

    def key(self, table: str) -> list[str]:
        tm = self.tables[table]
        return list(tm.key) if tm.key is not None else list(TABLES[table].key)


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; every problem in it is named in one InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--mapping: file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"--mapping {path}: not YAML ({exc})") from None
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        lines = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise InputError(f"--mapping {path}: {lines}") from None
