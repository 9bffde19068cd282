"""Incremental Parquet output in exactly the raw-data contract.

One ``ParquetWriter`` per table, opened up front (so every table exists even when it
stays empty), one row group per simulated month, so memory stays bounded by a month of
events. Columns arrive as NumPy arrays with sentinel nulls, converted here:
``int`` < 0 is null in a nullable int column, ``ts`` equal to NEVER is null, a
``(codes, levels)`` pair is a text column (code < 0 is null). Files carry no pandas
metadata and no write time, so the same seed gives the same bytes. Optional contract
columns (``Column.optional``) are not written here: a base generated without the features
that fill them is byte-identical to one generated before they existed
(``simulator.resumption`` adds ``churn_events.resumed_ts`` when asked to).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import (
    ARROW_TYPES,
    TABLES,
    Column,
    Table,
    arrow_schema,
    written_columns,
)
from simulator.calendar import NEVER, US_PER_DAY
from simulator.truth import TRUTH_DIR, TRUTH_HAZARD_FILE

TRUTH_SCHEMA = pa.schema(
    [("client_id", pa.int64()), ("month", ARROW_TYPES["ts"]), ("hazard", pa.float64())]
)


def to_arrow(col: Column, value: Any) -> pa.Array:
    """Convert one generator column (NumPy + sentinels) to its contract Arrow type."""
    if isinstance(value, pa.Array):
        return value.cast(ARROW_TYPES[col.type])
    if isinstance(value, tuple):
        codes, levels = value
        codes = np.asarray(codes, dtype=np.int32)
        null = codes < 0
        indices = pa.array(np.where(null, 0, codes), mask=null if null.any() else None)
        return pa.DictionaryArray.from_arrays(indices, pa.array(levels, pa.string())).cast(
            pa.string()
        )
    arr = np.asarray(value)
    if col.type == "ts":
        null = arr == NEVER
        return pa.array(
            arr.astype(np.int64), type=ARROW_TYPES["ts"], mask=null if null.any() else None
        )
    if col.type == "int":
        null = arr < 0 if col.nullable else np.zeros(len(arr), bool)
        return pa.array(arr.astype(np.int64), type=pa.int64(), mask=null if null.any() else None)
    return pa.array(arr.astype(np.float64), type=pa.float64())


def day_order(ts: np.ndarray) -> np.ndarray:
    """Row order by calendar day (stable, so client order within a day): a CRM-like export.

    A 16-bit day key lets NumPy use its linear-time radix sort instead of a full argsort.
    """
    if len(ts) == 0:
        return np.zeros(0, dtype=np.int64)
    day = ts // US_PER_DAY
    day = day - day.min()
    key = day.astype(np.uint16) if day.max() < 2**16 else day
    return np.argsort(key, kind="stable")


def _reorder(value: Any, order: np.ndarray) -> Any:
    if isinstance(value, pa.Array):
        return value.take(pa.array(order))
    if isinstance(value, tuple):
        return (np.asarray(value[0])[order], value[1])
    return np.asarray(value)[order]


def writer_options(table: Table, *, optional: bool = False) -> dict[str, Any]:
    """Dictionary-encode text; delta-encode ints and times (fast to write, compact)."""
    columns = written_columns(table, optional=optional)
    text = [c.name for c in columns if c.type == "str"]
    delta = {c.name: "DELTA_BINARY_PACKED" for c in columns if c.type in ("int", "ts")}
    return {"use_dictionary": text or False, "column_encoding": delta}


def written_table(table: Table, optional: frozenset[str] = frozenset()) -> Table:
    """``table`` as this base writes it: the optional columns named in ``optional`` become
    written ones (e.g. ``clients.centre_id`` of a network), the others stay out."""
    keep = tuple(replace(c, optional=False) if c.name in optional else c for c in table.columns)
    return replace(table, columns=keep)


class Sink:
    """All contract tables plus the hidden hazard, written month by month.

    ``optional``: the optional contract columns to write (e.g. ``clients.centre_id`` for a
    network of centres); the others are left out of the files, as a single centre's export
    would.
    """

    def __init__(
        self, out_dir: Path, compression: str = "zstd", optional: frozenset[str] = frozenset()
    ) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / TRUTH_DIR).mkdir(exist_ok=True)
        self.tables = {name: written_table(t, optional) for name, t in TABLES.items()}
        self.writers = {
            name: pq.ParquetWriter(
                out_dir / f"{name}.parquet",
                arrow_schema(t),
                compression=compression,
                **writer_options(t),
            )
            for name, t in self.tables.items()
        }
        self.truth = pq.ParquetWriter(
            out_dir / TRUTH_DIR / TRUTH_HAZARD_FILE, TRUTH_SCHEMA, compression=compression
        )
        self.rows = {name: 0 for name in TABLES}

    def write(self, name: str, columns: dict[str, Any], order: np.ndarray | None = None) -> None:
        """Append one batch to ``name``; ``columns`` must match the contract names exactly."""
        table = self.tables[name]
        if list(columns) != table.required_columns:
            raise ValueError(
                f"{name}: columns {list(columns)} != contract {table.required_columns}"
            )
        if order is not None:
            columns = {k: _reorder(v, order) for k, v in columns.items()}
        arrays = [to_arrow(c, columns[c.name]) for c in written_columns(table)]
        batch = pa.Table.from_arrays(arrays, schema=arrow_schema(table))
        if batch.num_rows:
            self.writers[name].write_table(batch, row_group_size=max(batch.num_rows, 1))
            self.rows[name] += batch.num_rows

    def events(
        self,
        name: str,
        client_id: np.ndarray,
        ts: np.ndarray,
        user_id: np.ndarray | None = None,
        **rest: Any,
    ) -> None:
        """Append event rows to ``name`` in calendar-day order.

        Every event table leads with client_id, [user_id,] ts; ``rest`` are the columns
        after ``ts`` in contract order (``write`` checks the names).
        """
        who = (
            {"client_id": client_id}
            if user_id is None
            else {"client_id": client_id, "user_id": user_id}
        )
        self.write(name, {**who, "ts": ts, **rest}, day_order(ts))

    def write_truth(self, client_id: np.ndarray, month_us: int, hazard: np.ndarray) -> None:
        month = np.full(len(client_id), month_us, dtype=np.int64)
        batch = pa.Table.from_arrays(
            [pa.array(client_id), pa.array(month, type=ARROW_TYPES["ts"]), pa.array(hazard)],
            schema=TRUTH_SCHEMA,
        )
        if batch.num_rows:
            self.truth.write_table(batch)

    def close(self) -> dict[str, int]:
        for w in (*self.writers.values(), self.truth):
            w.close()
        return dict(self.rows)
