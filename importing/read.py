"""Read one report (a CSV file or a workbook sheet) as text columns with their row numbers.

Everything stays text here: how text becomes numbers and dates is the mapping's business
(``importing/parse.py``). CSV files are read by pyarrow in record batches (bounded memory
for tens of millions of login rows). The encoding is found as a centre's files come: a
byte-order mark, else strict UTF-8 over the whole file, else Windows-1251; the delimiter is
sniffed among ``;``, ``,`` and tab on the header line. Workbooks (``.xlsx``, ``.xls``) are
read by pandas with the calamine engine; a typed cell (a number or a date the workbook
stores as such) becomes text the mapping's formats read.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from importing.problems import Problems, Where

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
DELIMITERS = (";", ",", "\t")
ROW = "__row"  # the row number in the file or sheet (1-based, as a spreadsheet shows it)
ISO_TS = "%Y-%m-%d %H:%M:%S.%f"  # how a typed date cell is turned into text
_CHUNK = 1 << 24


@dataclass(frozen=True)
class Report:
    """One opened report: its headers and a way to read its rows in batches."""

    path: Path
    sheet: str | None
    headers: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    frame: pd.DataFrame | None = None  # workbooks are read whole (they are small)
    header_row: int = 1

    def where(self, source: str = "", table: str = "", column: str = "") -> Where:
        return Where(self.path.name, self.sheet, source, table, column)

    def batches(self, problems: Problems, batch_rows: int = 1 << 20) -> Iterator[pa.Table]:
        """Text columns named by header plus ``__row``, in file order."""
        if self.frame is not None:
            yield pa.Table.from_pandas(self.frame, preserve_index=False)
            return
        yield from _csv_batches(self, problems, batch_rows)


def detect_encoding(path: Path) -> str:
    """``utf-8`` for a BOM or valid UTF-8 throughout, else ``cp1251``."""
    with path.open("rb") as fh:
        head = fh.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8"  # pyarrow skips the mark itself
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        try:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1251"
    return "utf-8"


def _header_line(path: Path, encoding: str, header_row: int) -> str:
    with path.open(encoding=encoding, newline="") as fh:
        for i, line in enumerate(fh, start=1):
            if i == header_row:
                return line.lstrip("\ufeff").rstrip("\r\n")
    return ""


def sniff_delimiter(line: str) -> str:
    """The candidate that splits the header line most (outside quotes); ``;`` on a tie."""
    counts = {d: len(next(csv.reader([line], delimiter=d))) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: counts[d])


def open_report(
    path: Path, sheet: str | None, header_row: int, problems: Problems, decimal: str = ","
) -> Report | None:
    """Open a report, or add the reason it cannot be read to ``problems`` and return None.

    ``decimal``: the mapping's decimal separator, which a workbook's typed (non-text) numbers
    are written with, so that a typed 8241.22 reads as the text "8 241,22" does."""
    where = Where(path.name, sheet)
    if path.stat().st_size == 0:
        problems.add(where, "empty_file", "the file is empty (0 bytes)", count=0)
        return None
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return _open_workbook(path, sheet, header_row, problems, decimal)
    encoding = detect_encoding(path)
    line = _header_line(path, encoding, header_row)
    if not line.strip():
        problems.add(where, "no_header", f"no header on row {header_row}", count=0)
        return None
    delimiter = sniff_delimiter(line)
    headers = [h.strip() for h in next(csv.reader([line], delimiter=delimiter))]
    return _checked(
        Report(path, None, headers, encoding, delimiter, header_row=header_row), problems
    )


def _checked(report: Report, problems: Problems) -> Report | None:
    seen = [h for i, h in enumerate(report.headers) if h in report.headers[:i]]
    if seen:
        problems.add(report.where(), "duplicate_header", f"headers repeated: {seen}", count=0)
        return None
    return report


def _csv_batches(report: Report, problems: Problems, batch_rows: int) -> Iterator[pa.Table]:
    bad: list[tuple[int | None, str]] = []

    def skip(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text))
        return "skip"

    names = report.headers
    reader = pacsv.open_csv(
        report.path,
        read_options=pacsv.ReadOptions(
            encoding=report.encoding or "utf-8",
            skip_rows=report.header_row,
            column_names=names,
            block_size=1 << 24,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=report.delimiter or ";", invalid_row_handler=skip
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    first = report.header_row + 1
    start = first
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in reader:
        pending.append(batch)
        held += batch.num_rows
        if held >= batch_rows:
            table = pa.Table.from_batches(pending)
            yield _numbered(table, start)
            start += table.num_rows
            pending, held = [], 0
    if pending or start == first:
        table = pa.Table.from_batches(pending, schema=reader.schema)
        yield _numbered(table, start)
    if bad:
        # a skipped row shifts the numbers of the rows after it: say so rather than guess
        problems.add(
            report.where(),
            "bad_row",
            f"wrong number of fields (expected {len(names)}); later row numbers may be off",
            [(n + report.header_row if n is not None else None, t) for n, t in bad],
        )


def _numbered(table: pa.Table, start: int) -> pa.Table:
    import numpy as np

    rows = pa.array(np.arange(start, start + table.num_rows, dtype=np.int64))
    return table.append_column(ROW, rows)


def _open_workbook(
    path: Path, sheet: str | None, header_row: int, problems: Problems, decimal: str
) -> Report | None:
    where = Where(path.name, sheet)
    try:
        book = pd.ExcelFile(path, engine="calamine")
    except Exception as exc:  # noqa: BLE001 - calamine raises its own types for bad files
        problems.add(where, "unreadable", f"not a workbook ({exc})", count=0)
        return None
    with book:
        names = book.sheet_names
        if sheet is not None and sheet not in names:
            problems.add(where, "missing_sheet", f"no sheet {sheet!r}; sheets: {names}", count=0)
            return None
        name = sheet if sheet is not None else names[0]
        raw = book.parse(name, header=None, dtype=object)
    if len(raw) < header_row:
        problems.add(Where(path.name, name), "no_header", f"no header on row {header_row}", count=0)
        return None
    headers = [_text(v).strip() for v in raw.iloc[header_row - 1]]
    keep = [i for i, h in enumerate(headers) if h]  # trailing blank columns of a sheet
    body = raw.iloc[header_row:, keep]
    body.columns = [headers[i] for i in keep]
    body = body.map(lambda v: _text(v, decimal)).astype("str")
    body = body[(body != "").any(axis=1)]  # blank rows a report leaves at its end
    body[ROW] = (body.index + 1).astype("int64")
    return _checked(
        Report(
            path,
            name,
            [headers[i] for i in keep],
            frame=body.reset_index(drop=True),
            header_row=header_row,
        ),
        problems,
    )


def _text(value: object, decimal: str = ".") -> str:
    """A workbook cell as text: typed dates in ISO form, whole numbers without ``.0``,
    other typed numbers with ``decimal``."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, datetime):
        return value.strftime(ISO_TS)
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return repr(value).replace(".", decimal)
    return str(value)
