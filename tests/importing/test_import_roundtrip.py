"""The sample export reads back into exactly the generator's tables; importing twice changes
nothing; a week's export into an existing raw directory adds, updates and skips by key."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from features.contract import TABLES
from features.provenance import raw_digest
from features.schema import validate_dir
from importing.export import export_crm
from importing.mapping import Mapping
from importing.run import import_export

CUT = datetime(2024, 4, 1, tzinfo=UTC)  # the generator's base starts 2024-01 (5 months)


def _tables(raw: Path) -> dict[str, pa.Table]:
    return {t: pq.read_table(raw / f"{t}.parquet") for t in TABLES}


def _bytes(raw: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(raw.glob("*.parquet"))}


def test_export_is_a_crm_export(crm_export: Path) -> None:
    clients = crm_export / "Показатели по клиентам.xlsx"
    assert clients.is_file()
    logins = (crm_export / "Входы.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        logins.decode("utf-8")  # Windows-1251, as the centre's CRM writes it
    head = logins.decode("cp1251").splitlines()[0]
    assert head == "Код клиента;Код пользователя;Дата и время входа"
    invoices = (crm_export / "Счета.csv").read_bytes().decode("cp1251").splitlines()
    assert any(",00;" in line and " " in line.split(";")[5] for line in invoices[1:])


def test_round_trip_equals_the_generator(
    named_raw: Path, crm_export: Path, mapping: Mapping, tmp_path: Path
) -> None:
    out = tmp_path / "raw"
    report = import_export(crm_export, mapping, out)
    assert report.created
    want, got = _tables(named_raw), _tables(out)
    for name in TABLES:
        assert got[name].equals(want[name]), name
    assert got["clients"].column("name").null_count == 0
    assert validate_dir(out) == []


def test_export_without_names_round_trips(
    named_raw: Path, mapping: Mapping, tmp_path: Path
) -> None:
    """A CRM whose client column is the bare id: no ``name`` column, still the same tables."""
    raw = tmp_path / "nameless"
    shutil.copytree(named_raw, raw)
    clients = pq.read_table(raw / "clients.parquet").drop_columns(["name"])
    pq.write_table(clients, raw / "clients.parquet")
    export_crm(raw, mapping, tmp_path / "export")
    out = tmp_path / "raw_back"
    import_export(tmp_path / "export", mapping, out)
    back = pq.read_table(out / "clients.parquet")
    assert "name" not in back.column_names
    assert back.equals(clients)


def test_importing_twice_changes_nothing(
    crm_export: Path, mapping: Mapping, tmp_path: Path
) -> None:
    out = tmp_path / "raw"
    import_export(crm_export, mapping, out)
    before, digest = _bytes(out), raw_digest(out)
    again = import_export(crm_export, mapping, out)
    assert _bytes(out) == before
    assert raw_digest(out) == digest
    assert not again.created
    for name, counts in again.tables.items():
        assert counts.added == 0 and counts.updated == 0, name
    assert (
        again.tables["logins"].skipped == pq.ParquetFile(out / "logins.parquet").metadata.num_rows
    )


def _slice(raw: Path, dst: Path, lo: datetime | None, hi: datetime | None) -> Path:
    """A copy of ``raw`` with event tables cut to ``lo <= ts < hi`` (clients, users, invoices
    keep every row: a CRM reports them whole)."""
    dst.mkdir(parents=True)
    for name, spec in TABLES.items():
        t = pq.read_table(raw / f"{name}.parquet")
        if spec.is_event and not spec.key:
            ts = t.column("ts")
            if lo is not None:
                t = t.filter(pc.greater_equal(ts, pa.scalar(lo, ts.type)))
                ts = t.column("ts")
            if hi is not None:
                t = t.filter(pc.less(ts, pa.scalar(hi, ts.type)))
        pq.write_table(t, dst / f"{name}.parquet")
    return dst


def test_weekly_increments_add_update_and_skip(
    named_raw: Path, mapping: Mapping, tmp_path: Path
) -> None:
    first = _slice(named_raw, tmp_path / "first", None, CUT)
    # the first export knew other fees for ten clients: the second one corrects them
    clients = pq.read_table(first / "clients.parquet")
    fee = clients.column("monthly_fee_rub").to_numpy().copy()
    small = (fee < 14_000).nonzero()[0][:10]  # stays in its segment (fee rule)
    fee[small] += 100.0
    clients = clients.set_column(2, "monthly_fee_rub", pa.array(fee))
    pq.write_table(clients, first / "clients.parquet")
    overlap = datetime(2024, 3, 20, tzinfo=UTC)  # the second export repeats 12 days
    second = _slice(named_raw, tmp_path / "second", overlap, None)
    export_crm(first, mapping, tmp_path / "export1")
    export_crm(second, mapping, tmp_path / "export2")

    out = tmp_path / "raw"
    import_export(tmp_path / "export1", mapping, out)
    report = import_export(tmp_path / "export2", mapping, out)

    assert report.tables["clients"].updated == 10
    assert report.tables["clients"].added == 0
    logins_second = pq.read_table(second / "logins.parquet")
    repeated = pc.sum(pc.less(logins_second.column("ts"), pa.scalar(CUT))).as_py()
    assert repeated > 0
    assert report.tables["logins"].skipped == repeated
    assert report.tables["logins"].added == logins_second.num_rows - repeated
    want, got = _tables(named_raw), _tables(out)
    for name in TABLES:  # no event doubled, none lost; clients as the latest export says
        key = [c for c in want[name].column_names]
        assert (
            got[name]
            .sort_by([(k, "ascending") for k in key if k != "name"])
            .equals(want[name].sort_by([(k, "ascending") for k in key if k != "name"]))
        ), name
    assert validate_dir(out) == []


def test_overlapping_files_of_one_export_keep_each_event_once(
    named_raw: Path, crm_export: Path, mapping: Mapping, tmp_path: Path
) -> None:
    """Two weekly login files that repeat 50 rows (``Входы*.csv``): each event once."""
    export = tmp_path / "export"
    shutil.copytree(crm_export, export)
    lines = (export / "Входы.csv").read_bytes().decode("cp1251").splitlines()
    head, rows = lines[0], lines[1:]
    cut = len(rows) // 2
    (export / "Входы.csv").unlink()
    for name, part in (("Входы_1.csv", rows[:cut]), ("Входы_2.csv", rows[cut - 50 :])):
        (export / name).write_bytes("\n".join([head, *part, ""]).encode("cp1251"))
    out = tmp_path / "raw"
    report = import_export(export, mapping, out)
    assert report.tables["logins"].skipped == 50
    assert report.tables["logins"].added == len(rows)
    assert pq.read_table(out / "logins.parquet").equals(pq.read_table(named_raw / "logins.parquet"))
