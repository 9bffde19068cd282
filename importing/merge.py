"""A week's export into an existing raw directory: new events added, changed rows updated.

A table with a key (``clients.client_id``, ``users.user_id``, ``invoices.invoice_id``, or the
mapping's ``key``) is updated by key: a row whose key is new is added, a row whose key exists
replaces the old one in place when any value differs (updated) and is skipped when none does.
A table without a key is a log of events: an event is its whole row, and a row already in
the table is skipped, so an export that overlaps the last one does not double events.
Existing rows keep their order and new ones follow in export order, so importing the same
export twice leaves every file byte for byte as it was (``features/provenance.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import TABLES, arrow_schema


@dataclass(frozen=True)
class Counts:
    """What one table's import did."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    rows: int = 0  # rows in the table afterwards

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read(path: Path) -> str:
    return f"read_parquet('{path.as_posix()}', file_row_number=true)"


def output_schema(table: str, *files: Path) -> pa.Schema:
    """The contract schema with the optional columns any of ``files`` has values in (an
    export whose client column carries no names gives a table without ``name``)."""
    have: set[str] = set()
    for f in files:
        have |= _with_values(f)
    full = arrow_schema(TABLES[table], optional=True)
    return pa.schema([f for f in full if f.name in have or not _optional(table, f.name)])


def _with_values(path: Path) -> set[str]:
    """Columns of a Parquet file with at least one value, from the footer's null counts
    (a file without rows keeps all its columns: an empty table says nothing)."""
    meta = pq.ParquetFile(path).metadata
    names = set(meta.schema.to_arrow_schema().names)
    if meta.num_rows == 0:
        return names
    nulls: dict[str, int] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for j in range(group.num_columns):
            col = group.column(j)
            stats = col.statistics
            if stats is None or not stats.has_null_count:
                nulls[col.path_in_schema] = -1  # unknown: keep the column
            elif nulls.get(col.path_in_schema, 0) >= 0:
                nulls[col.path_in_schema] = nulls.get(col.path_in_schema, 0) + stats.null_count
    return {n for n in names if nulls.get(n, 0) != meta.num_rows}


def _optional(table: str, column: str) -> bool:
    return next(c for c in TABLES[table].columns if c.name == column).optional


def merge(
    con: duckdb.DuckDBPyConnection,
    table: str,
    old: Path,
    new: Path,
    key: list[str],
    out: Path,
    *,
    files: int = 1,
) -> Counts:
    """Write ``old`` with ``new`` merged in to ``out`` (only when something changed).

    ``files``: how many export files ``new`` was read from; events repeated between them
    (overlapping weekly files in one import) are kept once."""
    schema = output_schema(table, old, new)
    if pq.ParquetFile(old).metadata.num_rows == 0 and (key or files == 1):
        return _first(table, new, schema, out)  # nothing to merge with: a plain rewrite
    new_cols = set(pq.read_schema(new).names)
    old_cols = set(pq.read_schema(old).names)
    cols = [f.name for f in schema]

    def pick(c: str, side: str) -> str:
        have = new_cols if side == "n" else old_cols
        return f"{side}.{_q(c)}" if c in have else f"NULL::{_duck(schema.field(c).type)}"

    o, n = _read(old), _read(new)
    if key:
        on = " AND ".join(f"o.{_q(k)} = n.{_q(k)}" for k in key)
        shared = [c for c in cols if c in new_cols]
        same = " AND ".join(f"o.{_q(c)} IS NOT DISTINCT FROM n.{_q(c)}" for c in shared)
        # later rows of the new export win over earlier ones with the same key
        n = f"(SELECT * FROM {n} QUALIFY row_number() OVER (PARTITION BY {', '.join(_q(k) for k in key)} ORDER BY file_row_number DESC) = 1)"  # noqa: E501
        kept = ", ".join(
            f"CASE WHEN n.file_row_number IS NULL THEN {pick(c, 'o')} "
            f"ELSE {pick(c, 'n') if c in new_cols else pick(c, 'o')} END AS {_q(c)}"
            for c in cols
        )
        added_cols = ", ".join(f"{pick(c, 'n')} AS {_q(c)}" for c in cols)
        stats = con.execute(
            f"SELECT count(*) FILTER (WHERE o.file_row_number IS NULL), "
            f"count(*) FILTER (WHERE o.file_row_number IS NOT NULL AND NOT ({same})), "
            f"count(*) FILTER (WHERE o.file_row_number IS NOT NULL AND ({same})) "
            f"FROM {n} n LEFT JOIN {o} o ON {on}"
        ).fetchall()[0]
        added, updated, skipped = (int(x) for x in stats)
        ordered = (
            f"SELECT {', '.join(_q(c) for c in cols)} FROM ("
            f"SELECT {kept}, 0 AS __part, o.file_row_number AS __pos FROM {o} o "
            f"LEFT JOIN {n} n ON {on} "
            f"UNION ALL SELECT {added_cols}, 1, n.file_row_number FROM {n} n "
            f"WHERE NOT EXISTS (SELECT 1 FROM {o} o WHERE {on})) ORDER BY __part, __pos"
        )
    else:
        shared = [c for c in cols if c in new_cols and c in old_cols]
        same = " AND ".join(f"o.{_q(c)} IS NOT DISTINCT FROM n.{_q(c)}" for c in shared)
        fresh = f"SELECT * FROM {n} n WHERE NOT EXISTS (SELECT 1 FROM {o} o WHERE {same})"
        if files > 1:
            every = ", ".join(_q(c) for c in cols if c in new_cols)
            fresh += (
                f" QUALIFY row_number() OVER (PARTITION BY {every} ORDER BY file_row_number) = 1"
            )
        added = int(con.execute(f"SELECT count(*) FROM ({fresh})").fetchall()[0][0])
        total_new = pq.ParquetFile(new).metadata.num_rows
        updated, skipped = 0, total_new - added
        old_part = ", ".join(f"{pick(c, 'o')} AS {_q(c)}" for c in cols)
        new_part = ", ".join(f"{pick(c, 'n')} AS {_q(c)}" for c in cols)
        ordered = (
            f"SELECT {', '.join(_q(c) for c in cols)} FROM ("
            f"SELECT {old_part}, 0 AS __part, o.file_row_number AS __pos FROM {o} o "
            f"UNION ALL SELECT {new_part}, 1, n.file_row_number FROM ({fresh}) n"
            f") ORDER BY __part, __pos"
        )
    old_rows = pq.ParquetFile(old).metadata.num_rows
    counts = Counts(added, updated, skipped, old_rows + added)
    if counts.changed:
        write_stream(con.sql(ordered).to_arrow_reader(), schema, out)
    return counts


def _first(table: str, new: Path, schema: pa.Schema, out: Path) -> Counts:
    """A table the raw directory does not have yet: the parsed rows, in contract form."""
    pf = pq.ParquetFile(new)
    have = set(pf.schema_arrow.names)
    n = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in pf.iter_batches(
            batch_size=1 << 20, columns=[c for c in schema.names if c in have]
        ):
            t = pa.Table.from_batches([batch])
            cols = [
                t.column(f.name).cast(f.type) if f.name in have else pa.nulls(len(t), f.type)
                for f in schema
            ]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema))
            n += len(t)
    return Counts(added=n, rows=n)


def write_stream(reader: pa.RecordBatchReader, schema: pa.Schema, out: Path) -> int:
    """Write batches cast to ``schema`` (one writer; same input, same bytes)."""
    n = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in reader:
            t = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
            writer.write_table(t)
            n += t.num_rows
    return n


def _duck(t: pa.DataType) -> str:
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    return "VARCHAR"
