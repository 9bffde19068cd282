"""Which raw export a snapshot file was built from: a digest of the raw directory.

``churn train --features F`` takes its labels from a raw directory; if F was built from a
different export (an older extract, another simulation seed), the labels silently belong
to other clients' histories. Snapshot files therefore carry the digest of the raw
directory they were built from in their Parquet key-value metadata
(``churn.raw_digest``), and training refuses a file whose digest differs from the raw
directory it labels from.

Why the digest is made of file names, sizes and Parquet footers and not of the content:
a content hash of 65 M events means reading every byte (about a gigabyte, seconds to
minutes) on every ``churn train``; the footer is a few kilobytes per file and already
summarises the content: row count, per-row-group column-chunk sizes, offsets and min/max
statistics. Any re-export, appended month or changed row changes the row count, a
compressed page size or a statistic; only an edit that keeps every compressed size and
every min/max identical would go unseen, which a different export does not do. Computing
it costs one small read per table (measured in ``tests/features/test_provenance.py``).
Modification times are left out, so a copied directory keeps its digest.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pyarrow.parquet as pq

from churn.errors import InputError

RAW_DIGEST_KEY = "churn.raw_digest"
RAW_DIR_KEY = "churn.raw_dir"
_MAGIC = b"PAR1"


def _footer(path: Path) -> bytes:
    """The serialized Parquet footer (FileMetaData) of one file, read from its tail."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size < 12:
            raise InputError(f"{path}: not a Parquet file (too short)")
        fh.seek(size - 8)
        length_bytes, magic = fh.read(4), fh.read(4)
        if magic != _MAGIC:
            raise InputError(f"{path}: not a Parquet file (no PAR1 footer)")
        (length,) = struct.unpack("<I", length_bytes)
        if length > size - 12:
            raise InputError(f"{path}: corrupt Parquet footer")
        fh.seek(size - 8 - length)
        return fh.read(length)


def raw_digest(raw_dir: Path) -> str:
    """``sha256:<hex>`` of the raw directory's top-level ``*.parquet`` tables.

    Hashes, per file in name order: the file name, its size in bytes and its Parquet
    footer. ``_truth/`` (the generator's hidden state, not part of an export) is not
    included.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise InputError(f"raw data directory not found: {raw_dir}")
    h = hashlib.sha256()
    files = sorted(p for p in raw_dir.glob("*.parquet") if p.is_file())
    if not files:
        raise InputError(f"{raw_dir}: no Parquet tables to take a digest of")
    for path in files:
        h.update(path.name.encode("utf-8") + b"\0")
        h.update(str(path.stat().st_size).encode("ascii") + b"\0")
        h.update(_footer(path))
    return f"sha256:{h.hexdigest()}"


def kv_metadata(raw_dir: Path) -> dict[str, str]:
    """The key-value metadata a snapshot file built from ``raw_dir`` carries."""
    return {RAW_DIGEST_KEY: raw_digest(raw_dir), RAW_DIR_KEY: str(Path(raw_dir).resolve())}


def recorded(snapshot: Path) -> dict[str, str]:
    """The provenance keys recorded in a snapshot file (empty when it has none)."""
    meta = pq.ParquetFile(snapshot).metadata.metadata or {}
    wanted = {RAW_DIGEST_KEY, RAW_DIR_KEY}
    return {k.decode(): v.decode() for k, v in meta.items() if k.decode() in wanted}


def stamp(snapshot: Path, raw_dir: Path) -> None:
    """Record ``raw_dir``'s digest in an existing snapshot file written without it."""
    table = pq.read_table(snapshot)
    meta = dict(table.schema.metadata or {})
    meta.update({k.encode(): v.encode() for k, v in kv_metadata(raw_dir).items()})
    pq.write_table(table.replace_schema_metadata(meta), snapshot)


def check(snapshot: Path, raw_dir: Path, flag: str = "--features") -> str:
    """Raise InputError when ``snapshot`` was built from other raw data than ``raw_dir``.

    Returns ``"matches"`` or ``"not recorded"`` (a file written by hand or by an older
    version: nothing to compare, the caller says so).
    """
    rec = recorded(snapshot)
    if RAW_DIGEST_KEY not in rec:
        return "not recorded"
    here = raw_digest(raw_dir)
    if rec[RAW_DIGEST_KEY] != here:
        built_from = rec.get(RAW_DIR_KEY, "an unknown directory")
        raise InputError(
            f"{flag}: {snapshot} was built from other raw data than {raw_dir}: it records "
            f"{rec[RAW_DIGEST_KEY][:19]}… (built from {built_from}), {raw_dir} is "
            f"{here[:19]}…; labels would come from another export. Rebuild the snapshots "
            f"(churn features --raw {raw_dir} --out {snapshot} --every month) or pass the "
            "raw directory they were built from (--raw DIR)"
        )
    return "matches"
