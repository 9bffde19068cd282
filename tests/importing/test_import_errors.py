"""Every problem named (file, sheet, row, source column, contract column, value), nothing
half-written: a bad export leaves the existing raw directory byte for byte as it was."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from importing.mapping import Mapping
from importing.problems import ImportFailed
from importing.run import import_export

CLIENTS = "Показатели по клиентам.xlsx"


@pytest.fixture(scope="module")
def good_raw(crm_export: Path, mapping: Mapping, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("good") / "raw"
    import_export(crm_export, mapping, out)
    return out


def _edit_csv(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    lines = (
        path.read_bytes().decode("cp1251").split("\r\n" if b"\r\n" in path.read_bytes() else "\n")
    )
    path.write_bytes("\n".join(edit(lines)).encode("cp1251"))


def _set_field(lines: list[str], row: int, col: int, value: str) -> list[str]:
    """Set field ``col`` of file row ``row`` (1-based, the header is row 1)."""
    fields = lines[row - 1].split(";")
    fields[col] = value
    lines[row - 1] = ";".join(fields)
    return lines


def _fail(crm_export: Path, good_raw: Path, mapping: Mapping, tmp_path: Path, mutate) -> str:
    """Import a mutated copy of the export into a copy of a good raw directory: it must fail,
    name the problem, and leave the directory untouched."""
    export = tmp_path / "export"
    shutil.copytree(crm_export, export)
    mutate(export)
    raw = tmp_path / "raw"
    shutil.copytree(good_raw, raw)
    before = {p.name: p.read_bytes() for p in raw.iterdir()}
    with pytest.raises(ImportFailed) as err:
        import_export(export, mapping, raw)
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "raw"]  # no leftovers
    return "\n".join(err.value.violations)


def test_unknown_header(crm_export, good_raw, mapping, tmp_path) -> None:
    def add_column(export: Path) -> None:
        _edit_csv(
            export / "Вебинары.csv",
            lambda ls: [ls[0] + ";Ответственный"] + [x + ";Литвинов Б.А." for x in ls[1:] if x],
        )

    text = _fail(crm_export, good_raw, mapping, tmp_path, add_column)
    assert 'Вебинары.csv column "Ответственный" (webinars): unknown_header' in text


def test_missing_required_column(crm_export, good_raw, mapping, tmp_path) -> None:
    def drop_ts(export: Path) -> None:
        _edit_csv(export / "Входы.csv", lambda ls: [";".join(x.split(";")[:2]) for x in ls])

    text = _fail(crm_export, good_raw, mapping, tmp_path, drop_ts)
    assert 'Входы.csv column "Дата и время входа" -> logins.ts: missing_column' in text


def test_bad_date(crm_export, good_raw, mapping, tmp_path) -> None:
    def bad(export: Path) -> None:
        _edit_csv(export / "Входы.csv", lambda ls: _set_field(ls, 5, 2, "31.02.2024 10:00:00"))

    text = _fail(crm_export, good_raw, mapping, tmp_path, bad)
    line = next(x for x in text.splitlines() if "logins.ts" in x)
    assert 'Входы.csv column "Дата и время входа" -> logins.ts: bad_value' in line
    assert "(1 row)" in line and "row 5 '31.02.2024 10:00:00'" in line


def test_bad_number(crm_export, good_raw, mapping, tmp_path) -> None:
    text = _fail(
        crm_export, good_raw, mapping, tmp_path,
        lambda e: _edit_csv(e / "Счета.csv", lambda ls: _set_field(ls, 3, 5, "12 3x0,00")),
    )  # fmt: skip
    assert 'Счета.csv column "Сумма, руб." -> invoices.amount_rub: bad_value' in text
    assert "row 3 '12 3x0,00'" in text


def test_mixed_decimal_styles_in_one_column(crm_export, good_raw, mapping, tmp_path) -> None:
    def dot_decimals(lines: list[str]) -> list[str]:
        for row in (4, 7):  # two rows written as 8241.22 among 8 241,22
            fields = lines[row - 1].split(";")
            fields[5] = fields[5].replace(" ", "").replace(",", ".")
            lines[row - 1] = ";".join(fields)
        return lines

    text = _fail(
        crm_export, good_raw, mapping, tmp_path, lambda e: _edit_csv(e / "Счета.csv", dot_decimals)
    )
    line = next(x for x in text.splitlines() if "invoices.amount_rub" in x)
    assert "decimal ','" in line and "(2 rows)" in line and "row 4 '" in line


def test_unmapped_flag_value(crm_export, good_raw, mapping, tmp_path) -> None:
    text = _fail(
        crm_export, good_raw, mapping, tmp_path,
        lambda e: _edit_csv(e / "Диагностика.csv", lambda ls: _set_field(ls, 2, 2, "Может быть")),
    )  # fmt: skip
    assert "competitor_checks.competitor_present: bad_value" in text
    assert "row 2 'Может быть'" in text and "Да, Нет, Неизвестно" in text


def test_duplicate_client(crm_export, good_raw, mapping, tmp_path) -> None:
    def duplicate(export: Path) -> None:
        book = load_workbook(export / CLIENTS)
        ws = book.active
        ws.append([c.value for c in ws[4]])  # the first client again, at the end
        book.save(export / CLIENTS)

    text = _fail(crm_export, good_raw, mapping, tmp_path, duplicate)
    line = next(x for x in text.splitlines() if "duplicate_key" in x)
    assert f'{CLIENTS} [Показатели по клиентам] column "Клиент" -> clients.client_id' in line
    assert "row 4 " in line and "(2 rows)" in line


def test_event_for_unknown_client(crm_export, good_raw, mapping, tmp_path) -> None:
    text = _fail(
        crm_export, good_raw, mapping, tmp_path,
        lambda e: _edit_csv(e / "Контакты.csv", lambda ls: _set_field(ls, 6, 0, "999999")),
    )  # fmt: skip
    assert 'Контакты.csv column "Код клиента" -> contacts.client_id: unknown_client' in text
    assert "row 6 '999999'" in text


def test_empty_file(crm_export, good_raw, mapping, tmp_path) -> None:
    text = _fail(
        crm_export, good_raw, mapping, tmp_path, lambda e: (e / "Вебинары.csv").write_bytes(b"")
    )
    assert "Вебинары.csv: empty_file" in text


def test_wrong_sheet_name(crm_export, good_raw, mapping, tmp_path) -> None:
    def rename(export: Path) -> None:
        book = load_workbook(export / CLIENTS)
        book.active.title = "Клиенты"
        book.save(export / CLIENTS)

    text = _fail(crm_export, good_raw, mapping, tmp_path, rename)
    assert f"{CLIENTS} [Показатели по клиентам]: missing_sheet" in text and "Клиенты" in text


def test_cli_exits_non_zero_and_names_the_value(crm_export, good_raw, tmp_path) -> None:
    from cli.main import app

    export = tmp_path / "export"
    shutil.copytree(crm_export, export)
    _edit_csv(export / "Входы.csv", lambda ls: _set_field(ls, 9, 2, "вчера"))
    raw = tmp_path / "raw"
    shutil.copytree(good_raw, raw)
    result = CliRunner().invoke(app, ["import", str(export), "--out", str(raw)])
    assert result.exit_code == 1
    assert "row 9 'вчера'" in result.output and "nothing was written" in result.output


def test_encodings_and_delimiters(crm_export, good_raw, mapping, tmp_path) -> None:
    """UTF-8 with a BOM and ``,``, plain UTF-8 and tab: the tables Windows-1251 and ``;`` give."""
    import pyarrow.parquet as pq

    export = tmp_path / "export"
    shutil.copytree(crm_export, export)
    for name, enc, sep in (("Входы.csv", "utf-8-sig", ","), ("Контакты.csv", "utf-8", "\t")):
        text = (export / name).read_bytes().decode("cp1251")
        (export / name).write_bytes(text.replace(";", sep).encode(enc))
    out = tmp_path / "raw"
    import_export(export, mapping, out)
    for table in ("logins", "contacts"):
        assert pq.read_table(out / f"{table}.parquet").equals(
            pq.read_table(good_raw / f"{table}.parquet")
        )


def test_typed_workbook_cells(crm_export, good_raw, mapping, tmp_path) -> None:
    """A workbook whose fee and contract start are typed cells (a number, a date), as Excel
    keeps them, reads as the report's text does."""
    from datetime import datetime

    import pyarrow.parquet as pq

    export = tmp_path / "export"
    shutil.copytree(crm_export, export)
    book = load_workbook(export / CLIENTS)
    ws = book.active
    headers = [c.value for c in ws[3]]
    fee, start = (
        headers.index("Абонентская плата, руб./мес.") + 1,
        headers.index("Дата начала договора") + 1,
    )
    for row in range(4, ws.max_row + 1):
        text = ws.cell(row, fee).value
        ws.cell(row, fee).value = float(text.replace(" ", "").replace(",", "."))
        ws.cell(row, start).value = datetime.strptime(ws.cell(row, start).value, "%d.%m.%Y")
    book.save(export / CLIENTS)
    out = tmp_path / "raw"
    import_export(export, mapping, out)
    assert pq.read_table(out / "clients.parquet").equals(
        pq.read_table(good_raw / "clients.parquet")
    )
