"""``churn import``: read the export, check every value, validate the result, then keep it.

Nothing half-written: every table is parsed into a working directory beside the raw
directory; any value that cannot be read, any header the mapping does not know, a duplicate
client or an event of an unknown client stops the import with all of them named; the merged
tables are then validated with the contract checks of ``churn validate``
(``features/schema.py::inspect_dir``) and only a clean result is moved into place. On any
failure the raw directory is left exactly as it was and the working directory is removed.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from churn.config import ValidationConfig
from churn.errors import InputError
from features.contract import TABLES, arrow_schema
from importing.mapping import Mapping
from importing.merge import Counts, merge, output_schema, write_stream
from importing.parse import parse_batch, targets
from importing.problems import ImportFailed, Problems, Where
from importing.read import ROW, Report, open_report

SRC = "__file"  # index of the source file a parsed row came from


@dataclass
class ImportReport:
    """What an import did, per table (in contract order)."""

    out: Path
    created: bool
    tables: dict[str, Counts] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)  # table -> files read

    def lines(self) -> list[str]:
        out = []
        for name, c in self.tables.items():
            read = ", ".join(self.files.get(name, [])) or "not in this export"
            out.append(
                f"{name:<18} +{c.added:,} added, {c.updated:,} updated, {c.skipped:,} skipped"
                f" -> {c.rows:,} rows  ({read})"
            )
        return out


def _sources(source: Path, pattern: str) -> list[Path]:
    if source.is_file():
        return [source] if fnmatch.fnmatch(source.name, pattern) else []
    return sorted(p for p in source.glob(pattern) if p.is_file())


def _key_source(mapping: Mapping, table: str, column: str) -> str:
    for header, cm in mapping.tables[table].columns.items():
        if column in cm.targets:
            return header
    return ""


class _Parsed:
    """One table's rows from every file of the export, in one Parquet file."""

    def __init__(self, path: Path, reports: list[Report]) -> None:
        self.path = path
        self.reports = reports


def _check_headers(report: Report, mapping: Mapping, table: str, problems: Problems) -> bool:
    tm = mapping.tables[table]
    unknown = [
        h
        for h in report.headers
        if h not in tm.columns and not any(fnmatch.fnmatchcase(h, g) for g in tm.ignore)
    ]
    ok = True
    for h in unknown:
        problems.add(
            report.where(h, table),
            "unknown_header",
            "the mapping neither maps nor ignores this header",
            count=0,
        )
        ok = False
    contract = {c.name: c for c in TABLES[table].columns}
    for header, cm in tm.columns.items():
        if header in report.headers:
            continue
        needed = [c for c in cm.targets if not contract[c].optional]
        if needed:
            problems.add(
                report.where(header, table, needed[0]),
                "missing_column",
                f"the report has no such header (headers: {report.headers})",
                count=0,
            )
            ok = False
    return ok


def _parse_table(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    mapping: Mapping,
    table: str,
    out: Path,
    problems: Problems,
    batch_rows: int,
) -> _Parsed | None:
    tm = mapping.tables[table]
    files = _sources(source, tm.file)
    if not files:
        return None
    reports = []
    writer = None
    try:
        for path in files:
            report = open_report(path, tm.sheet, tm.header_row, problems, mapping.number.decimal)
            if report is None or not _check_headers(report, mapping, table, problems):
                continue
            index = len(reports)
            reports.append(report)
            tgts = targets(report, mapping, table)
            for batch in report.batches(problems, batch_rows):
                parsed = parse_batch(con, batch, report, mapping, table, tgts, problems)
                parsed = parsed.append_column(SRC, _const(index, parsed))
                if writer is None:
                    writer = pq.ParquetWriter(out, parsed.schema, compression="lz4")
                elif parsed.schema != writer.schema:
                    parsed = _conform(parsed, writer.schema)
                writer.write_table(parsed)
    finally:
        if writer is not None:
            writer.close()
    return _Parsed(out, reports) if writer is not None else None


def _const(value: int, table: pa.Table) -> pa.Array:
    return pa.nulls(table.num_rows, pa.int32()).fill_null(pa.scalar(value, pa.int32()))


def _conform(t: pa.Table, schema: pa.Schema) -> pa.Table:
    """A later file lacking an optional column (e.g. names): all-missing, same schema."""
    cols = [
        t.column(f.name) if f.name in t.column_names else pa.nulls(t.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(cols, schema=schema)


def _example_rows(
    con: duckdb.DuckDBPyConnection, sql: str, parsed: _Parsed, problems: Problems, **where: str
) -> None:
    """Add one problem per source file from ``sql`` rows (__file, __row, value)."""
    rows = con.execute(sql).fetchall()
    by_file: dict[int, list[tuple[int, str]]] = {}
    for f, r, v in rows:
        by_file.setdefault(int(f), []).append((int(r), str(v)))
    for f, found in by_file.items():
        report = parsed.reports[f]
        problems.add(
            report.where(where["source"], where["table"], where["column"]),
            where["check"],
            where["message"],
            found,
        )


def _cross_checks(
    con: duckdb.DuckDBPyConnection,
    parsed: dict[str, _Parsed],
    mapping: Mapping,
    old_clients: Path | None,
    problems: Problems,
) -> None:
    """Duplicate keys within the export; events of clients in neither the export nor the
    raw directory. Named by file and row, which the contract checks cannot do."""
    for table, p in parsed.items():
        key = mapping.key(table)
        if key and TABLES[table].key:
            cols = ", ".join(f'"{k}"' for k in key)
            sql = (
                f"SELECT {SRC}, {ROW}, concat_ws(' / ', {cols}) FROM read_parquet('{p.path}') "
                f"QUALIFY count(*) OVER (PARTITION BY {cols}) > 1 ORDER BY {SRC}, {ROW}"
            )
            _example_rows(
                con, sql, p, problems, source=_key_source(mapping, table, key[0]), table=table,
                column=key[0], check="duplicate_key",
                message=f"{'/'.join(key)} appears on more than one row of the export",
            )  # fmt: skip
    known = []
    if "clients" in parsed:
        known.append(f"SELECT client_id FROM read_parquet('{parsed['clients'].path}')")
    if old_clients is not None:
        known.append(f"SELECT client_id FROM read_parquet('{old_clients}')")
    ids = " UNION ".join(known) or "SELECT NULL::BIGINT AS client_id WHERE false"
    for table, p in parsed.items():
        if table == "clients" or "client_id" not in TABLES[table].column_names:
            continue
        sql = (
            f"SELECT {SRC}, {ROW}, client_id FROM read_parquet('{p.path}') "
            f"WHERE client_id IS NOT NULL AND client_id NOT IN "
            f"(SELECT client_id FROM ({ids}) WHERE client_id IS NOT NULL) ORDER BY {SRC}, {ROW}"
        )
        _example_rows(
            con, sql, p, problems, source=_key_source(mapping, table, "client_id"), table=table,
            column="client_id", check="unknown_client",
            message="no such client in the export's clients nor in the raw directory",
        )  # fmt: skip


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def import_export(
    source: Path,
    mapping: Mapping,
    out: Path,
    *,
    today: datetime | None = None,
    config: ValidationConfig | None = None,
    max_examples: int = 5,
    batch_rows: int = 1 << 20,
) -> ImportReport:
    """Import ``source`` (a directory of reports, or one file) into the raw directory ``out``.

    Raises :class:`ImportFailed` naming every problem; ``out`` is then untouched."""
    from features.schema import inspect_dir

    source, out = Path(source), Path(out)
    if not source.exists():
        raise InputError(f"SOURCE: not found: {source}")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=out.parent))
    problems = Problems(max_examples)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        (work / "parsed").mkdir()
        tables_dir = work / "tables"
        tables_dir.mkdir()
        parsed: dict[str, _Parsed] = {}
        for table in TABLES:
            if table not in mapping.tables:
                continue
            p = _parse_table(
                con, source, mapping, table, work / "parsed" / f"{table}.parquet", problems,
                batch_rows,
            )  # fmt: skip
            if p is not None:
                parsed[table] = p
        old = {t: out / f"{t}.parquet" for t in TABLES if (out / f"{t}.parquet").is_file()}
        for table in TABLES:
            if table in parsed or table in old:
                continue
            if table in mapping.tables:
                pattern = mapping.tables[table].file
                problems.add(
                    Where(pattern, None, "", table), "missing_file",
                    f"no file matching {pattern!r} in {source}", count=0,
                )  # fmt: skip
        problems.raise_if_any(f"import of {source}")
        _cross_checks(con, parsed, mapping, old.get("clients"), problems)
        problems.raise_if_any(f"import of {source}")
        report = ImportReport(out, created=not old)
        changed: list[str] = []
        for table in TABLES:
            dst = tables_dir / f"{table}.parquet"
            if table not in parsed:
                if table in old:
                    _link(old[table], dst)
                    rows = pq.ParquetFile(old[table]).metadata.num_rows
                    report.tables[table] = Counts(rows=rows)
                else:  # not in the mapping: an empty event table, as the contract allows
                    pq.write_table(arrow_schema(TABLES[table]).empty_table(), dst)
                    report.tables[table] = Counts()
                    changed.append(table)
                continue
            report.files[table] = [r.path.name + (f" [{r.sheet}]" if r.sheet else "")
                                   for r in parsed[table].reports]  # fmt: skip
            base = old.get(table)
            if base is None:
                base = work / "parsed" / f"{table}.empty.parquet"
                pq.write_table(output_schema(table, parsed[table].path).empty_table(), base)
            counts = merge(
                con, table, base, parsed[table].path, mapping.key(table), dst,
                files=len(parsed[table].reports),
            )  # fmt: skip
            report.tables[table] = counts
            if counts.changed or table not in old:
                if not dst.exists():  # nothing new for a table the directory lacked
                    write_stream(
                        con.sql(f"SELECT * FROM read_parquet('{base}')").to_arrow_reader(),
                        output_schema(table, base),
                        dst,
                    )
                changed.append(table)
            else:
                _link(old[table], dst)
        _, violations = inspect_dir(tables_dir, today=today, config=config)
        if violations:
            raise ImportFailed(
                f"import of {source}: the result breaks the contract in "
                f"{len({v.table for v in violations})} table(s); nothing was written",
                [v.line() for v in violations],
            )
        if not old:
            if out.exists():
                out.rmdir() if not any(out.iterdir()) else None
            if out.exists():
                for table in TABLES:
                    os.replace(tables_dir / f"{table}.parquet", out / f"{table}.parquet")
            else:
                os.rename(tables_dir, out)
        else:
            for table in changed:
                os.replace(tables_dir / f"{table}.parquet", out / f"{table}.parquet")
        return report
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
