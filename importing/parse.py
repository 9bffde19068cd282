"""Text columns of one report -> typed contract columns, in one DuckDB query per batch.

Every target column gets an expression that reads its text the way the mapping says
(value map, number format, date formats, a group of a split) and a flag for each row
whose text was there but could not be read. The flags become problems with the file's
row numbers and the values; the typed columns become the contract table. No Python runs
per row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from features.contract import TABLES, Column, arrow_schema
from importing.mapping import ColumnMap, Mapping, NumberFormat
from importing.problems import Problems
from importing.read import ISO_TS, ROW, Report

ISO_FORMATS = (ISO_TS, "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")  # typed workbook dates
_BAD = "__bad__"
_TEXT = "__text__"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Target:
    """One contract column filled from the report: its text expression and how to read it."""

    column: Column
    source: str  # the report header
    text_sql: str  # SQL giving the column's text (NULL when empty)
    cm: ColumnMap


def _number_sql(text: str, fmt: NumberFormat, integer: bool) -> tuple[str, str]:
    """(value, ok): strip the thousands separators, then the text must be a plain number
    with the mapping's decimal separator (a ``.`` in a ``,`` column is a problem, not a guess)."""
    stripped = text
    for sep in fmt.thousands:
        stripped = f"replace({stripped}, {_lit(sep)}, '')"
    dec = re.escape(fmt.decimal)
    pattern = r"^[-+]?\d+$" if integer else rf"^[-+]?(\d+({dec}\d*)?|{dec}\d+)$"
    ok = f"regexp_full_match({stripped}, {_lit(pattern)})"
    if integer:
        value = f"TRY_CAST({stripped} AS BIGINT)"
    else:
        value = f"TRY_CAST(replace({stripped}, {_lit(fmt.decimal)}, '.') AS DOUBLE)"
    return f"CASE WHEN {ok} THEN {value} END", ok


def _typed_sql(t: Target, mapping: Mapping, table: str) -> tuple[str, str]:
    """(value SQL, SQL true where the text could not be read)."""
    text, col, cm = t.text_sql, t.column, t.cm
    present = f"{text} IS NOT NULL"
    if cm.values is not None:
        cases = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in cm.values.items())
        mapped = f"CASE {text} {cases} END"
        if col.type == "str":
            return mapped, f"{present} AND {mapped} IS NULL"
        text = mapped
    if col.type == "str":
        return text, "false"
    if col.type in ("int", "float"):
        value, _ = _number_sql(text, mapping.number_format(cm), col.type == "int")
    else:
        formats = [*mapping.date_formats(table, cm), *ISO_FORMATS]
        parsed = f"try_strptime({text}, [{', '.join(_lit(f) for f in formats)}])"
        value = f"timezone({_lit(mapping.timezone)}, {parsed})"
    return value, f"{present} AND ({value}) IS NULL"


def targets(report: Report, mapping: Mapping, table: str) -> tuple[list[Target], list[str]]:
    """The contract columns this report fills, and the split-pattern checks (SQL, source)."""
    contract = {c.name: c for c in TABLES[table].columns}
    out: list[Target] = []
    for header, cm in mapping.tables[table].columns.items():
        if header not in report.headers:
            continue
        text = f"NULLIF(trim({_q(header)}), '')"
        if cm.split is None:
            out.append(Target(contract[cm.to], header, text, cm))  # type: ignore[index]
            continue
        pat = _lit(cm.split.pattern)
        for i, name in enumerate(cm.split.into, start=1):
            part = f"NULLIF(trim(regexp_extract({text}, {pat}, {i})), '')"
            out.append(Target(contract[name], header, part, cm))
    return out, []


def parse_batch(
    con: duckdb.DuckDBPyConnection,
    batch: pa.Table,
    report: Report,
    mapping: Mapping,
    table: str,
    tgts: list[Target],
    problems: Problems,
) -> pa.Table:
    """The batch's contract columns (plus ``__row``); unreadable values go to ``problems``."""
    contract = TABLES[table]
    tm = mapping.tables[table]
    select, checks = [], []
    for i, t in enumerate(tgts):
        value, bad = _typed_sql(t, mapping, table)
        select.append(f"{value} AS {_q(t.column.name)}")
        select.append(f"{t.text_sql} AS {_q(_TEXT + str(i))}")
        checks.append((i, t, "bad_value", bad))
        if not t.column.nullable:
            checks.append((i, t, "missing", f"{t.text_sql} IS NULL"))
    for header, cm in tm.columns.items():
        if cm.split is not None and header in report.headers:
            text = f"NULLIF(trim({_q(header)}), '')"
            ok = f"regexp_full_match({text}, {_lit(cm.split.pattern)})"
            select.append(f"{text} AS {_q(_TEXT + header)}")
            checks.append((header, None, "bad_split", f"{text} IS NOT NULL AND NOT {ok}"))
    for j, (_, _, _, bad) in enumerate(checks):
        select.append(f"coalesce({bad}, true) AS {_q(_BAD + str(j))}")
    con.register("__batch", batch)
    try:
        out = con.sql(f"SELECT {', '.join(select)}, {ROW} FROM __batch").to_arrow_table()
    finally:
        con.unregister("__batch")
    for j, (i, t, check, _) in enumerate(checks):
        flags = out.column(_BAD + str(j))
        n = pc.sum(flags).as_py() or 0
        if not n:
            continue
        hit = out.filter(flags).slice(0, problems.max_examples)
        if t is None:  # a split that did not match
            texts = hit.column(_TEXT + str(i)).to_pylist()
            where = report.where(str(i), table)
            message = "does not match the split pattern"
        else:
            texts = hit.column(_TEXT + str(i)).to_pylist()
            where = report.where(t.source, table, t.column.name)
            message = _message(check, t, mapping, table)
        rows = hit.column(ROW).to_pylist()
        problems.add(where, check, message, list(zip(rows, texts, strict=True)), count=n)
    columns = {t.column.name: out.column(t.column.name) for t in tgts}
    return _contract_table(contract.name, columns, tm.constants, out.column(ROW), out.num_rows)


def _message(check: str, t: Target, mapping: Mapping, table: str) -> str:
    col = t.column
    if check == "missing":
        return "a value is required"
    if t.cm.values is not None and col.type == "str":
        return f"value not in the mapping's values ({', '.join(t.cm.values)})"
    if col.type in ("int", "float"):
        fmt = mapping.number_format(t.cm)
        kind = "a whole number" if col.type == "int" else f"a number with decimal {fmt.decimal!r}"
        return f"not {kind} (thousands {' / '.join(repr(s) for s in fmt.thousands)})"
    return f"not a date in {' or '.join(mapping.date_formats(table, t.cm))}"


def _contract_table(
    table: str,
    columns: dict[str, pa.ChunkedArray],
    constants: dict[str, object],
    rows: pa.ChunkedArray,
    n: int,
) -> pa.Table:
    """The contract's columns in contract order with contract types; unfilled nullable
    columns are all-missing, unfilled optional ones left out."""
    schema = arrow_schema(TABLES[table], optional=True)
    arrays, fields = [], []
    for f in schema:
        col = next(c for c in TABLES[table].columns if c.name == f.name)
        if f.name in columns:
            arrays.append(columns[f.name].cast(f.type))
        elif f.name in constants:
            arrays.append(pa.nulls(n, f.type).fill_null(pa.scalar(constants[f.name], f.type)))
        elif col.optional:
            continue
        else:
            arrays.append(pa.nulls(n, f.type))
        fields.append(f.with_nullable(True))  # unreadable values are null until reported
    arrays.append(rows)
    fields.append(pa.field(ROW, pa.int64()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
