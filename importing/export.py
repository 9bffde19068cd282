"""``churn export-crm``: a raw directory written as the centre's CRM would export it.

The realistic sample the import is tried on (and ``make demo`` runs): Russian headers,
Windows-1251 CSV with ``;`` for the event reports, and the clients report as an ``.xlsx``
workbook laid out like seed 004's table (title rows, then "Клиент" as "11123 - ООО ..."),
numbers as "8 241,22", dates as "17.09.2018". Written from the same mapping file the import
reads, turned around: the first report text of each value, the shortest date format that
keeps the value, the mapping's number format; so import(export(raw)) == raw is a test of
the mapping, not of a second copy of it.
"""

from __future__ import annotations

import codecs
import os
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from churn.errors import InputError
from features.contract import TABLES
from importing.mapping import ColumnMap, Mapping
from importing.read import EXCEL_SUFFIXES

_CHUNK = 1 << 22


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _text_sql(column: str, kind: str, cm: ColumnMap, mapping: Mapping, table: str) -> str:
    """SQL writing one contract column as the report's text (NULL stays empty)."""
    c = _q(column)
    if cm.values is not None:
        first: dict[str, str] = {}
        for text, value in cm.values.items():
            first.setdefault(value, text)
        return (
            f"CASE {c} {' '.join(f'WHEN {_lit(v)} THEN {_lit(t)}' for v, t in first.items())} END"
        )
    if kind == "int":
        return f"CAST({c} AS VARCHAR)"
    if kind == "float":
        fmt = mapping.number_format(cm)
        spec = f"{{:,.{fmt.decimals}f}}"
        s = f"format({_lit(spec)}, {c})"
        s = f"replace(replace(replace({s}, ',', chr(1)), '.', {_lit(fmt.decimal)}), chr(1), {_lit(fmt.thousands[0])})"  # noqa: E501
        return f"CASE WHEN {c} IS NOT NULL THEN {s} END"
    if kind == "ts":
        local = f"timezone({_lit(mapping.timezone)}, {c})"
        formats = sorted(mapping.date_formats(table, cm), key=len)
        cases = " ".join(
            f"WHEN strptime(strftime({local}, {_lit(f)}), {_lit(f)}) = {local} "
            f"THEN strftime({local}, {_lit(f)})"
            for f in formats
        )
        return f"CASE {cases} END"
    return c


def export_table(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, mapping: Mapping, table: str
) -> tuple[str, list[str]]:
    """(SQL selecting the report's text columns, their headers) for one table."""
    path = raw_dir / f"{table}.parquet"
    have = set(pq.read_schema(path).names)
    types = {c.name: c.type for c in TABLES[table].columns}
    select, headers = [], []
    for header, cm in mapping.tables[table].columns.items():
        parts = [c for c in cm.targets if c in have]
        if not parts:
            continue  # an optional column this base does not have (names, centres)
        texts = [_text_sql(c, types[c], cm, mapping, table) for c in parts]
        expr = (
            texts[0]
            if cm.split is None
            else f"concat_ws({_lit(cm.split.join)}, {', '.join(texts)})"
        )  # noqa: E501
        select.append(f"coalesce({expr}, '') AS {_q(header)}")
        headers.append(header)
    sql = f"SELECT {', '.join(select)} FROM read_parquet('{path.as_posix()}')"
    return sql, headers


def _report_name(pattern: str, suffix_default: str) -> str:
    name = pattern.replace("*", "")
    return name if Path(name).suffix else name + suffix_default


def export_crm(
    raw_dir: Path, mapping: Mapping, out_dir: Path, *, title_date: date | None = None
) -> list[Path]:  # noqa: E501
    """Write every mapped table of ``raw_dir`` as the CRM's report files into ``out_dir``."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    missing = [t for t in mapping.tables if not (raw_dir / f"{t}.parquet").is_file()]
    if missing:
        raise InputError(f"{raw_dir}: no {', '.join(missing)} table(s) to export")
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    written = []
    try:
        con.execute("SET TimeZone = 'UTC'")
        for table, tm in mapping.tables.items():
            sql, headers = export_table(con, raw_dir, mapping, table)
            target = out_dir / _report_name(tm.file, ".csv")
            if target.suffix.lower() in EXCEL_SUFFIXES:
                _write_xlsx(con, sql, headers, target, tm.sheet, tm.header_row, title_date)
            else:
                _write_csv(con, sql, target, mapping.csv.delimiter, mapping.csv.encoding)
            written.append(target)
    finally:
        con.close()
    return written


def _write_csv(
    con: duckdb.DuckDBPyConnection, sql: str, target: Path, delimiter: str, encoding: str
) -> None:
    """DuckDB writes UTF-8; a streaming re-encode gives the CRM's code page."""
    tmp = target.with_name(target.name + ".utf8")
    con.execute(
        f"COPY ({sql}) TO '{tmp.as_posix()}' (FORMAT csv, HEADER, DELIMITER {_lit(delimiter)})"
    )
    if encoding.lower().replace("-", "") in ("utf8",):
        os.replace(tmp, target)
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    encoder = codecs.getincrementalencoder(encoding)()
    with tmp.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            dst.write(encoder.encode(decoder.decode(chunk)))
        dst.write(encoder.encode(decoder.decode(b"", final=True), final=True))
    tmp.unlink()


def _write_xlsx(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    headers: list[str],
    target: Path,
    sheet: str | None,
    header_row: int,
    title_date: date | None,
) -> None:
    """The clients report: title rows above the header, as the CRM prints it (seed 004)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet or "Лист1")
    titles = [
        sheet or "Отчет",
        "Обслуживание" + (f" [{title_date:%d.%m.%Y}]" if title_date else ""),
    ]
    for i in range(header_row - 1):
        ws.append([titles[i] if i < len(titles) else ""])
    ws.append(headers)
    cur = con.execute(sql)
    while rows := cur.fetchmany(10_000):
        for row in rows:
            ws.append(list(row))
    book.save(target)
