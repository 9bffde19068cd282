"""Text columns of one report -> typed contract columns, in one DuckDB query per batch.

Every target column gets an expression that reads its text the way the mapping says
(value map, number format, date formats, a group of a split) and a flag for each row
whose text was there but could not be read. The flags become problems with the file's
row numbers and the values; the typed columns become the contract table. No Python runs
per row.

Dates: DuckDB's ``strptime`` with a list of formats costs ~25 s per million values on this
box; a zero-padded format (``%d.%m.%Y %H:%M:%S.%f``) is instead rearranged into ISO text by
position and cast (about 20x faster), and only the values that do not fit that layout go
through ``strptime``: the result is the same, a bad date is still a bad date.
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
_WIDTH = {"d": 2, "m": 2, "Y": 4, "H": 2, "M": 2, "S": 2}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Target:
    """One contract column filled from the report: which header, which split group."""

    column: Column
    source: str  # the report header
    cm: ColumnMap
    group: int = 0  # the split's regex group (0: the whole text)


def _number_sql(text: str, fmt: NumberFormat, integer: bool) -> str:
    """Strip the thousands separators, then the text must be a plain number with the
    mapping's decimal separator (a ``.`` in a ``,`` column is a problem, not a guess)."""
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
    return f"CASE WHEN {ok} THEN {value} END"


def fast_date_sql(text: str, fmt: str) -> str | None:
    """SQL reading ``text`` in the zero-padded layout ``fmt`` by position (None when the
    format is not one: it then goes to ``strptime`` only)."""
    pos, like, at = 1, [], {}
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            d = fmt[i + 1]
            if d == "f" and i + 2 == len(fmt):
                at["f"] = pos
                like.append("%")
            elif d in _WIDTH and d not in at:
                at[d] = pos
                like.append("_" * _WIDTH[d])
                pos += _WIDTH[d]
            else:
                return None
            i += 2
            continue
        if ch in "_%'\\":
            return None
        like.append(ch)
        pos += 1
        i += 1
    if (
        not {"Y", "m", "d"} <= set(at)
        or ("S" in at and "M" not in at)
        or ("M" in at and "H" not in at)
    ):  # noqa: E501
        return None

    def part(d: str) -> str:
        return f"substr({text}, {at[d]}, {_WIDTH[d]})"

    iso = f"{part('Y')} || '-' || {part('m')} || '-' || {part('d')}"
    if "H" in at:
        iso += f" || ' ' || {part('H')} || ':' || {part('M')}"
        iso += f" || ':' || {part('S')}" if "S" in at else ""
        iso += f" || '.' || substr({text}, {at['f']})" if "f" in at else ""
    return f"CASE WHEN {text} LIKE {_lit(''.join(like))} THEN TRY_CAST({iso} AS TIMESTAMP) END"


def _typed_sql(text: str, t: Target, mapping: Mapping, table: str) -> str:
    """The contract value of ``text`` (NULL where it cannot be read)."""
    col, cm = t.column, t.cm
    if cm.values is not None:
        cases = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in cm.values.items())
        text = f"CASE {text} {cases} END"
    if col.type == "str":
        return text
    if col.type in ("int", "float"):
        return _number_sql(text, mapping.number_format(cm), col.type == "int")
    formats = [*mapping.date_formats(table, cm), *ISO_FORMATS]
    fast = [s for s in (fast_date_sql(text, f) for f in formats) if s is not None]
    slow = f"try_strptime({text}, [{', '.join(_lit(f) for f in formats)}])"
    local = f"coalesce({', '.join([*fast, slow])})"
    if mapping.timezone == "UTC":
        return local  # a naive time read as UTC by the cast to the contract type: no work
    return f"timezone({_lit(mapping.timezone)}, {local})"


def targets(report: Report, mapping: Mapping, table: str) -> list[Target]:
    """The contract columns this report fills."""
    contract = {c.name: c for c in TABLES[table].columns}
    out: list[Target] = []
    for header, cm in mapping.tables[table].columns.items():
        if header not in report.headers:
            continue
        if cm.split is None:
            out.append(Target(contract[cm.to], header, cm))  # type: ignore[index]
        else:
            for i, name in enumerate(cm.split.into, start=1):
                out.append(Target(contract[name], header, cm, i))
    return out


def parse_batch(
    con: duckdb.DuckDBPyConnection,
    batch: pa.Table,
    report: Report,
    mapping: Mapping,
    table: str,
    tgts: list[Target],
    problems: Problems,
) -> pa.Table:
    """The batch's contract columns (plus ``__row``); unreadable values go to ``problems``.

    Three nested selects so that each value is computed once: the trimmed texts, then each
    target's text (a split's group) and value, then the flags."""
    tm = mapping.tables[table]
    headers = sorted({t.source for t in tgts})
    src = {h: f"s{i}" for i, h in enumerate(headers)}
    level0 = ", ".join(f"NULLIF(trim({_q(h)}), '') AS {src[h]}" for h in headers)
    texts, values = [], []
    for i, t in enumerate(tgts):
        s = src[t.source]
        if t.group:
            pat = _lit(t.cm.split.pattern)  # type: ignore[union-attr]
            texts.append(f"NULLIF(trim(regexp_extract({s}, {pat}, {t.group})), '') AS t{i}")
        else:
            texts.append(f"{s} AS t{i}")
        values.append(f"{_typed_sql(f't{i}', t, mapping, table)} AS v{i}")
    level1 = ", ".join([*(f"{s}" for s in src.values()), *texts, ROW])
    level2 = ", ".join([*(f"{s}" for s in src.values()), *(f"t{i}" for i in range(len(tgts))),
                        *values, ROW])  # fmt: skip
    checks: list[tuple[str, Target | None, str, str]] = []
    for i, t in enumerate(tgts):
        checks.append((t.source, t, "bad_value", f"t{i} IS NOT NULL AND v{i} IS NULL"))
        if not t.column.nullable:
            checks.append((t.source, t, "missing", f"t{i} IS NULL"))
    for header, cm in tm.columns.items():
        if cm.split is not None and header in src:
            ok = f"regexp_full_match({src[header]}, {_lit(cm.split.pattern)})"
            checks.append((header, None, "bad_split", f"{src[header]} IS NOT NULL AND NOT {ok}"))
    flags = [f"coalesce({sql}, true) AS {_BAD}{j}" for j, (_, _, _, sql) in enumerate(checks)]
    outer = ", ".join([*(f"v{i}" for i in range(len(tgts))), *flags, ROW])
    sql = (
        f"SELECT {outer} FROM (SELECT {level2} FROM (SELECT {level1} FROM "
        f"(SELECT {level0}, {ROW} FROM __batch)))"
    )
    con.register("__batch", batch)
    try:
        out = con.sql(sql).to_arrow_table()
    finally:
        con.unregister("__batch")
    for j, (source, t, check, _) in enumerate(checks):
        flag = out.column(f"{_BAD}{j}")
        n = pc.sum(flag).as_py() or 0
        if not n:
            continue
        hit = batch.filter(flag).slice(0, problems.max_examples)
        where = report.where(source, table, t.column.name if t is not None else "")
        message = (
            "does not match the split pattern" if t is None else _message(check, t, mapping, table)
        )  # noqa: E501
        found = list(zip(hit.column(ROW).to_pylist(), hit.column(source).to_pylist(), strict=True))
        problems.add(where, check, message, found, count=n)
    columns = {t.column.name: out.column(f"v{i}") for i, t in enumerate(tgts)}
    return _contract_table(table, columns, tm.constants, out.column(ROW), out.num_rows)


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
