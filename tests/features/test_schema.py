"""The raw-data contract: clean data passes, each kind of bad input is named precisely."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_raw import tiny_tables, write_tables, write_tiny_raw
from typer.testing import CliRunner

from churn.config import ValidationConfig
from churn.errors import InputError
from cli.main import app
from features.contract import TABLES
from features.schema import table_schema, validate_dir
from features.violation import Violation

runner = CliRunner()
Tables = dict[str, pd.DataFrame]


def _keys(violations: list[Violation]) -> set[tuple[str, str, str]]:
    return {(v.table, v.column, v.check) for v in violations}


def _broken(tmp_path: Path, edit: Callable[[Tables], None]) -> Path:
    tables = tiny_tables()
    edit(tables)
    return write_tables(tables, tmp_path / "raw")


def _ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


# ---------------------------------------------------------------- clean data


def test_tiny_base_is_clean(tmp_path: Path) -> None:
    assert validate_dir(write_tiny_raw(tmp_path / "raw")) == []


def test_schemas_are_built_from_the_contract() -> None:
    for name, table in TABLES.items():
        schema = table_schema(name)
        assert list(schema.columns) == table.column_names
        for col in table.columns:
            assert schema.columns[col.name].nullable == col.nullable
            assert schema.columns[col.name].unique == col.unique


def test_generated_base_is_clean(small_raw: Path) -> None:
    violations = validate_dir(small_raw)
    assert violations == [], "\n".join(v.line() for v in violations)


def test_any_datetime_unit_and_nullable_int_accepted(tmp_path: Path) -> None:
    def edit(t: Tables) -> None:
        t["logins"]["ts"] = t["logins"]["ts"].astype("datetime64[ns, UTC]")
        t["invoices"]["paid_ts"] = t["invoices"]["paid_ts"].astype("datetime64[ms, UTC]")
        assert t["clients"]["first_advance_months"].dtype == "Int64"  # has a missing value

    assert validate_dir(_broken(tmp_path, edit)) == []


def test_empty_event_table_is_allowed(tmp_path: Path) -> None:
    def edit(t: Tables) -> None:
        t["churn_events"] = t["churn_events"].iloc[0:0]

    assert validate_dir(_broken(tmp_path, edit)) == []


# ---------------------------------------------------------------- one problem at a time


def _set(table: str, row: int, column: str, value: object) -> Callable[[Tables], None]:
    def edit(t: Tables) -> None:
        t[table].loc[row, column] = value

    return edit


def _astype(table: str, column: str, dtype: str) -> Callable[[Tables], None]:
    def edit(t: Tables) -> None:
        t[table][column] = t[table][column].astype(dtype)

    return edit


def _drop_column(table: str, column: str) -> Callable[[Tables], None]:
    def edit(t: Tables) -> None:
        t[table] = t[table].drop(columns=column)

    return edit


def _drop_table(table: str) -> Callable[[Tables], None]:
    def edit(t: Tables) -> None:
        del t[table]

    return edit


def _naive_ts(t: Tables) -> None:
    t["logins"]["ts"] = t["logins"]["ts"].dt.tz_localize(None)


def _duplicate_invoice(t: Tables) -> None:
    t["invoices"].loc[2, "invoice_id"] = 100


CASES: dict[str, tuple[Callable[[Tables], None], tuple[str, str, str]]] = {
    "missing table": (_drop_table("video_clicks"), ("video_clicks", "", "missing_table")),
    "missing column": (
        _drop_column("service_requests", "channel"),
        ("service_requests", "channel", "missing_column"),
    ),
    "int32 id": (_astype("trainings", "user_id", "int32"), ("trainings", "user_id", "dtype")),
    "text amount": (_astype("invoices", "amount_rub", "str"), ("invoices", "amount_rub", "dtype")),
    "naive ts": (_naive_ts, ("logins", "ts", "dtype")),
    "unknown client": (
        _set("service_requests", 1, "client_id", 999),
        ("service_requests", "client_id", "unknown_client_id"),
    ),
    "unknown user": (
        _set("trainings", 1, "user_id", 77),
        ("trainings", "user_id", "unknown_user_id"),
    ),
    "user of another client": (
        _set("webinars", 0, "user_id", 20),
        ("webinars", "user_id", "user_of_other_client"),
    ),
    "duplicate key": (_duplicate_invoice, ("invoices", "invoice_id", "duplicate_key")),
    "negative amount": (
        _set("invoices", 1, "amount_rub", -5.0),
        ("invoices", "amount_rub", "min_value"),
    ),
    "negative fee": (
        _set("clients", 1, "monthly_fee_rub", -1.0),
        ("clients", "monthly_fee_rub", "min_value"),
    ),
    "before contract start": (
        _set("kit_updates", 0, "ts", _ts("2023-12-01")),
        ("kit_updates", "ts", "before_contract_start"),
    ),
    "paid before contract start": (
        _set("invoices", 0, "paid_ts", _ts("2023-11-30")),
        ("invoices", "paid_ts", "before_contract_start"),
    ),
    "in future": (_set("contacts", 0, "ts", _ts("2099-01-01")), ("contacts", "ts", "in_future")),
    "NaN fee": (
        _set("clients", 1, "monthly_fee_rub", np.nan),
        ("clients", "monthly_fee_rub", "not_null"),
    ),
    "missing category": (_set("clients", 0, "category", None), ("clients", "category", "not_null")),
    "category Z": (_set("clients", 2, "category", "Z"), ("clients", "category", "allowed_values")),
    "channel fax": (
        _set("service_requests", 0, "channel", "fax"),
        ("service_requests", "channel", "allowed_values"),
    ),
    "due before issue": (
        _set("invoices", 1, "ts", _ts("2024-02-20")),
        ("invoices", "due_ts", "due_before_issue"),
    ),
    "period reversed": (
        _set("invoices", 0, "period_end", _ts("2023-12-31")),
        ("invoices", "period_end", "period_end_before_start"),
    ),
    "segment vs fee": (
        _set("clients", 1, "segment", "large"),
        ("clients", "segment", "segment_vs_fee"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_bad_input_is_named_exactly(tmp_path: Path, case: str) -> None:
    edit, expected = CASES[case]
    violations = validate_dir(_broken(tmp_path, edit))
    assert _keys(violations) == {expected}, [v.line() for v in violations]
    (v,) = violations
    line = v.line()
    assert line.startswith(f"{v.table}.{v.column}: " if v.column else f"{v.table}: ")
    assert "\n" not in line


def test_row_violation_counts_and_examples(tmp_path: Path) -> None:
    def edit(t: Tables) -> None:
        t["logins"].loc[[1, 3], "client_id"] = [555, 556]
        t["logins"].loc[[1, 3], "user_id"] = [10, 30]  # users' own clients differ: cascade ok
        t["invoices"].loc[1, "amount_rub"] = -7.5

    violations = {(v.table, v.column, v.check): v for v in validate_dir(_broken(tmp_path, edit))}
    unknown = violations[("logins", "client_id", "unknown_client_id")]
    assert unknown.count == 2
    assert {e["client_id"] for e in unknown.examples} == {555, 556}
    negative = violations[("invoices", "amount_rub", "min_value")]
    assert negative.count == 1 and negative.examples == [{"row": 1, "amount_rub": -7.5}]
    assert "1 row below 0" in negative.line() and "-7.5" in negative.line()


def test_contract_start_tolerance_is_configurable(tmp_path: Path) -> None:
    raw = _broken(tmp_path, _set("kit_updates", 0, "ts", _ts("2023-12-01")))  # 31 days early
    assert validate_dir(raw, config=ValidationConfig(contract_start_tolerance_days=30))
    assert validate_dir(raw, config=ValidationConfig(contract_start_tolerance_days=31)) == []


def test_today_parameter_bounds_event_dates(tmp_path: Path) -> None:
    raw = write_tiny_raw(tmp_path / "raw")
    violations = validate_dir(raw, today=datetime(2024, 4, 30, tzinfo=UTC))
    by_key = {(v.table, v.column, v.check): v for v in violations}
    assert by_key[("logins", "ts", "in_future")].count == 1  # the 2024-05-01 login
    assert ("video_clicks", "ts", "in_future") in by_key
    assert ("invoices", "due_ts", "in_future") not in by_key  # a due date is a plan
    assert all(v.check == "in_future" for v in violations)


def test_empty_and_corrupt_files(tmp_path: Path) -> None:
    raw = write_tiny_raw(tmp_path / "raw")
    (raw / "churn_events.parquet").write_bytes(b"")
    (raw / "competitor_checks.parquet").write_bytes(b"not parquet at all " * 10)
    good = (raw / "contacts.parquet").read_bytes()
    (raw / "contacts.parquet").write_bytes(good[: len(good) // 2])  # truncated
    keys = _keys(validate_dir(raw))
    assert keys == {
        ("churn_events", "", "empty_file"),
        ("competitor_checks", "", "corrupt_file"),
        ("contacts", "", "corrupt_file"),
    }


def test_clients_without_rows_is_an_error(tmp_path: Path) -> None:
    def edit(t: Tables) -> None:
        t["clients"] = t["clients"].iloc[0:0]

    keys = _keys(validate_dir(_broken(tmp_path, edit)))
    assert ("clients", "", "no_rows") in keys
    assert ("logins", "client_id", "unknown_client_id") in keys


def test_missing_directory_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        validate_dir(tmp_path / "nope")


def test_big_tables_are_checked_in_batches(tmp_path: Path) -> None:
    """With 2-row batches the counts, row numbers and duplicate keys span batches."""

    def edit(t: Tables) -> None:
        t["invoices"].loc[2, "invoice_id"] = 100  # duplicate of row 0, another batch
        t["service_requests"].loc[[0, 2], "channel"] = ["fax", "telex"]

    raw = _broken(tmp_path, edit)
    by_key = {
        (v.table, v.column, v.check): v
        for v in validate_dir(raw, config=ValidationConfig(batch_rows=2))
    }
    assert set(by_key) == {
        ("invoices", "invoice_id", "duplicate_key"),
        ("service_requests", "channel", "allowed_values"),
    }
    assert by_key[("invoices", "invoice_id", "duplicate_key")].count == 2
    bad = by_key[("service_requests", "channel", "allowed_values")]
    assert bad.count == 2 and [e["row"] for e in bad.examples] == [0, 2]


# ---------------------------------------------------------------- many at once, and the CLI

MANY = (
    "missing table",
    "missing column",
    "int32 id",
    "unknown client",
    "duplicate key",
    "negative amount",
    "before contract start",
    "in future",
    "NaN fee",
    "category Z",
)


def _many(t: Tables) -> None:
    for case in MANY:
        CASES[case][0](t)


def test_all_violations_are_reported_at_once(tmp_path: Path) -> None:
    raw = _broken(tmp_path, _many)
    (raw / "churn_events.parquet").write_bytes(b"")
    keys = _keys(validate_dir(raw))
    expected = {CASES[c][1] for c in MANY} | {("churn_events", "", "empty_file")}
    assert keys == expected


def test_cli_exit_codes(tmp_path: Path) -> None:
    clean = write_tiny_raw(tmp_path / "clean")
    ok = runner.invoke(app, ["validate", str(clean)])
    assert ok.exit_code == 0, ok.output
    assert "clients" in ok.output and "3 rows" in ok.output

    bad = _broken(tmp_path, _many)
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    listed = [line for line in res.output.splitlines() if line.startswith("  - ")]
    assert len(listed) == len(MANY)
    for case in MANY:
        table, column, check = CASES[case][1]
        where = f"{table}.{column}" if column else table
        assert any(line.startswith(f"  - {where}: {check}") for line in listed), where

    missing = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert missing.exit_code not in (0, 1)
    assert len(missing.output.strip().splitlines()) == 1
    assert "nope" in missing.output and "Traceback" not in missing.output


def test_file_that_breaks_after_the_structural_pass_is_one_violation(tmp_path: Path) -> None:
    """E.g. a writer still replacing the file: DuckDB cannot read what pyarrow could."""
    from features.cross_table import cross_table_violations
    from features.schema import inspect_dir

    raw = write_tiny_raw(tmp_path / "raw")
    states, _ = inspect_dir(raw)
    (raw / "logins.parquet").write_bytes(b"x")
    found = cross_table_violations(states, today=datetime.now(UTC), config=ValidationConfig())
    assert _keys(found) == {("logins", "", "unreadable")}
