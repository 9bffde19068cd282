"""Fast validation (a DuckDB proof per table, ``features/proof.py``) reports exactly what the
row-level passes (pandera, the cross-table joins) report, on a generated export broken in
every way the contract names.

Each variant breaks each table at most once per kind of rule (a per-table value rule, a
cross-table rule), so that a proof that missed the break could not be rescued by another
break of the same table: ``inspect_dir(fast=True)`` would then lose a violation that
``inspect_dir(fast=False)`` lists, and the comparison fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn.config import ValidationConfig
from features.contract import TABLES, Column, Table
from features.cross_table import Rule
from features.proof import _Unprovable, clean_tables, proof_query
from features.schema import inspect_dir
from features.violation import Violation

TODAY = datetime(2099, 1, 1, tzinfo=UTC)  # every generated event is before it
FUTURE = pd.Timestamp("2099-06-01", tz="UTC")
Tables = dict[str, pd.DataFrame]
Edit = Callable[[Tables], None]
_INT = {pa.int64(): pd.Int64Dtype()}.get  # keep ids ints when a test blanks one


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small export from the project's generator (clean under the contract)."""
    from simulator.config import load_simulate_config
    from simulator.generate import simulate

    sim = load_simulate_config().override(clients=80, months=12, seed=11, reference__paths=0)
    out = tmp_path_factory.mktemp("proof") / "raw"
    simulate(sim, out)
    return out


@pytest.fixture(scope="module")
def tables(base: Path) -> Tables:
    return {
        name: pq.read_table(base / f"{name}.parquet").to_pandas(types_mapper=_INT)
        for name in TABLES
    }


def _rows(violations: list[Violation]) -> list[tuple]:
    """Everything a violation says (examples by repr: a NaN example equals itself)."""
    return [(v.table, v.column, v.check, v.message, v.count, repr(v.examples)) for v in violations]


def _write(df: pd.DataFrame, path: Path, nan: tuple[str, ...] = ()) -> None:
    """``df`` as Parquet; the ``nan`` columns keep NaN as a value (pandas would write null)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    for col in nan:
        i = table.schema.get_field_index(col)
        values = pa.array(df[col].to_numpy(dtype="float64"), pa.float64(), from_pandas=False)
        table = table.set_column(i, col, values)
    pq.write_table(table, path)


def _variant(
    tmp_path: Path, base: Path, tables: Tables, edit: Edit, nan: tuple[str, ...] = ()
) -> Path:
    """A copy of the export with ``edit`` applied to copies of the tables it touches."""
    raw = tmp_path / "raw"
    shutil.copytree(base, raw, ignore=shutil.ignore_patterns("_truth"))
    copies = {name: df.copy() for name, df in tables.items()}
    before = {name: df.copy() for name, df in copies.items()}
    edit(copies)
    for name in set(tables) - set(copies):
        (raw / f"{name}.parquet").unlink()
    for name, df in copies.items():
        if not df.equals(before[name]) or list(df.columns) != list(before[name].columns):
            cols = tuple(c.split(".", 1)[1] for c in nan if c.startswith(name + "."))
            _write(df, raw / f"{name}.parquet", cols)
    return raw


def _compare(raw: Path, config: ValidationConfig | None = None) -> list[Violation]:
    slow_states, slow = inspect_dir(raw, today=TODAY, config=config, fast=False)
    fast_states, fast = inspect_dir(raw, today=TODAY, config=config, fast=True)
    assert _rows(fast) == _rows(slow)
    assert {n: (s.rows, s.good_columns) for n, s in fast_states.items()} == {
        n: (s.rows, s.good_columns) for n, s in slow_states.items()
    }
    return slow


def _mid(df: pd.DataFrame) -> int:
    return len(df) // 2


# ---------------------------------------------------------------- the variants


def _nulls(k: int) -> Edit:
    """A missing value in the k-th non-nullable column of every table (one per table)."""

    def edit(t: Tables) -> None:
        for name, table in TABLES.items():
            cols = [c.name for c in table.columns if not c.nullable and c.name in t[name]]
            if k < len(cols) and len(t[name]):
                t[name].loc[_mid(t[name]), cols[k]] = None

    return edit


def _disallowed(k: int) -> Edit:
    """A value outside the allowed ones in the k-th such column of every table."""

    def edit(t: Tables) -> None:
        for name, table in TABLES.items():
            cols = [c.name for c in table.columns if c.allowed and c.name in t[name]]
            if k < len(cols) and len(t[name]):
                t[name].loc[_mid(t[name]), cols[k]] = "fax"

    return edit


def _set(*cells: tuple[str, int | None, str, object]) -> Edit:
    """Set (table, row or None = middle, column) to a value."""

    def edit(t: Tables) -> None:
        for name, row, col, value in cells:
            t[name].loc[_mid(t[name]) if row is None else row, col] = value

    return edit


def _events_with(column: str) -> list[str]:
    return [
        n for n, t in TABLES.items() if n not in ("clients", "users") and column in t.column_names
    ]


def _unknown_client(t: Tables) -> None:
    """An unknown client in every event table (its user blanked: the only cross break)."""
    for name in _events_with("client_id"):
        r = _mid(t[name])
        t[name].loc[r, "client_id"] = 10**9
        if "user_id" in t[name]:
            t[name]["user_id"] = t[name]["user_id"].astype("Int64")
            t[name].loc[r, "user_id"] = None


def _unknown_user(t: Tables) -> None:
    for name in _events_with("user_id"):
        t[name].loc[_mid(t[name]), "user_id"] = 10**9


def _user_of_other_client(t: Tables) -> None:
    users = t["users"]
    for name in _events_with("user_id"):
        df = t[name]
        r = int(df.index[df["user_id"].notna()][len(df) // 3])
        other = users.loc[users["client_id"] != df.loc[r, "client_id"], "user_id"].iloc[0]
        df.loc[r, "user_id"] = other


def _early(days: float, tables: tuple[str, ...] | None = None, column: str = "ts") -> Edit:
    """An event ``days`` before its client's contract start in every event table."""

    def edit(t: Tables) -> None:
        start = t["clients"].set_index("client_id")["contract_start"]
        for name in tables or _events_with(column):
            df = t[name]
            r = int(df.index[df[column].notna()][len(df) // 3])
            df.loc[r, column] = start[df.loc[r, "client_id"]] - timedelta(days=days)

    return edit


def _in_future(t: Tables) -> None:
    for name in _events_with("ts"):
        t[name].loc[_mid(t[name]), "ts"] = FUTURE


def _planned_and_paid_late(t: Tables) -> None:
    """A due date after today is a plan (no violation); a payment after today is one."""
    inv = t["invoices"]
    inv.loc[0, "due_ts"] = FUTURE
    inv.loc[1, "paid_ts"] = FUTURE


def _duplicate(name: str, col: str) -> Edit:
    def edit(t: Tables) -> None:
        t[name].loc[1, col] = t[name].loc[0, col]

    return edit


def _due_before_issue(t: Tables) -> None:
    inv = t["invoices"]
    r = len(inv) - 2
    inv.loc[r, "due_ts"] = inv.loc[r, "ts"] - timedelta(seconds=1)
    t["clients"].loc[3, "segment"] = (
        "large" if t["clients"].loc[3, "segment"] == "small_medium" else "small_medium"
    )


def _period_reversed(t: Tables) -> None:
    inv = t["invoices"]
    inv.loc[2, "period_end"] = inv.loc[2, "period_start"] - timedelta(days=1)


def _resumed(kind: str) -> Edit:
    """A resumed_ts on or before the churn itself, or on a termination."""

    def edit(t: Tables) -> None:
        ce = t["churn_events"]
        ce["resumed_ts"] = pd.Series(pd.NaT, index=ce.index, dtype="datetime64[us, UTC]")
        r = _mid(ce)
        if kind == "not_after":
            ce.loc[r, "churn_type"] = "suspension"
            ce.loc[r, "resumed_ts"] = ce.loc[r, "ts"]
        else:
            ce.loc[r, "churn_type"] = "termination"
            ce.loc[r, "resumed_ts"] = ce.loc[r, "ts"] + timedelta(seconds=1)

    return edit


def _empty_strings(t: Tables) -> None:
    """'' is a value, not a missing one: outside the allowed values, fine where free text."""
    t["clients"].loc[0, "category"] = ""
    t["clients"].loc[1, "region"] = ""
    t["users"].loc[0, "email"] = ""


def _minimums(t: Tables) -> None:
    t["clients"].loc[0, "monthly_fee_rub"] = -0.0  # not below 0
    t["clients"].loc[1, "first_advance_months"] = -1
    t["invoices"].loc[0, "amount_rub"] = -np.inf


def _fee_below_zero(t: Tables) -> None:
    t["clients"].loc[2, "monthly_fee_rub"] = -0.01
    t["invoices"].loc[3, "amount_rub"] = 0.0  # the minimum itself is fine


def _nan_values(t: Tables) -> None:
    t["clients"].loc[2, "monthly_fee_rub"] = np.nan  # written as NaN, not as null
    t["invoices"].loc[3, "amount_rub"] = np.nan


def _users_broken(t: Tables) -> None:
    """A user of an unknown client, registered before any contract and in the future."""
    users = t["users"]
    users.loc[0, "client_id"] = 10**9
    start = t["clients"].set_index("client_id")["contract_start"]
    users.loc[1, "ts"] = start[users.loc[1, "client_id"]] - timedelta(days=3)
    users.loc[2, "ts"] = FUTURE


def _contract_in_future(t: Tables) -> None:
    t["clients"].loc[0, "contract_start"] = FUTURE


def _drop(name: str, col: str | None = None) -> Edit:
    def edit(t: Tables) -> None:
        if col is None:
            del t[name]
        else:
            t[name] = t[name].drop(columns=col)

    return edit


def _astype(name: str, col: str, dtype: str) -> Edit:
    def edit(t: Tables) -> None:
        t[name][col] = t[name][col].astype(dtype)

    return edit


def _empty(name: str) -> Edit:
    def edit(t: Tables) -> None:
        t[name] = t[name].iloc[0:0]

    return edit


def _count(rule: Callable[[Column], object]) -> Callable[[Table], int]:
    return lambda table: sum(1 for c in table.columns if rule(c))


NOT_NULL_MAX = max(map(_count(lambda c: not c.nullable), TABLES.values()))
ALLOWED_MAX = max(map(_count(lambda c: c.allowed), TABLES.values()))

VARIANTS: dict[str, Edit] = {
    **{f"null #{k}": _nulls(k) for k in range(NOT_NULL_MAX)},
    **{f"disallowed #{k}": _disallowed(k) for k in range(ALLOWED_MAX)},
    "empty strings": _empty_strings,
    "minimums": _minimums,
    "fee below zero": _fee_below_zero,
    "duplicate client": _duplicate("clients", "client_id"),
    "duplicate user": _duplicate("users", "user_id"),
    "duplicate invoice": _duplicate("invoices", "invoice_id"),
    "unknown client": _unknown_client,
    "unknown user": _unknown_user,
    "user of another client": _user_of_other_client,
    "before contract start": _early(2),
    "a second before contract start": _early(1 / 86_400),
    "paid before contract start": _early(40, ("invoices",), "paid_ts"),
    "in future": _in_future,
    "planned and paid late": _planned_and_paid_late,
    "due before issue, segment vs fee": _due_before_issue,
    "period reversed": _period_reversed,
    "resumed before churn": _resumed("not_after"),
    "resumed termination": _resumed("termination"),
    "users broken": _users_broken,
    "contract in future": _contract_in_future,
    "missing users table": _drop("users"),
    "missing clients column": _drop("clients", "contract_start"),
    "int32 user id": _astype("logins", "user_id", "int32"),
    "text fee": _astype("clients", "monthly_fee_rub", "str"),
    "no clients": _empty("clients"),
}


def test_clean_export_is_proven_clean(base: Path) -> None:
    """The fast path is taken: every table is proven clean, and nothing is reported."""
    states, violations = inspect_dir(base, today=TODAY)
    assert violations == []
    values, cross = clean_tables(states, today=TODAY, config=ValidationConfig())
    assert values == cross == set(TABLES)
    assert inspect_dir(base, today=TODAY, fast=False)[1] == []


@pytest.mark.parametrize("name", list(VARIANTS))
def test_fast_validation_reports_the_same(
    tmp_path: Path, base: Path, tables: Tables, name: str
) -> None:
    raw = _variant(tmp_path, base, tables, VARIANTS[name])
    assert _compare(raw), "the variant breaks nothing"


def _edges(t: Tables) -> None:
    """Values at the edge of a rule that keep it."""
    t["clients"].loc[0, "monthly_fee_rub"] = -0.0
    t["invoices"].loc[0, "amount_rub"] = 0.0
    t["clients"].loc[1, "region"] = ""
    t["invoices"].loc[1, "due_ts"] = FUTURE  # a plan
    start = t["clients"].set_index("client_id")["contract_start"]
    logins = t["logins"]
    logins.loc[0, "ts"] = start[logins.loc[0, "client_id"]]  # on the contract start
    t["churn_events"] = t["churn_events"].iloc[0:0]  # an event table may be empty


def test_values_at_the_edge_are_proven_clean(tmp_path: Path, base: Path, tables: Tables) -> None:
    raw = _variant(tmp_path, base, tables, _edges)
    assert _compare(raw) == []
    states, _ = inspect_dir(raw, today=TODAY)
    values, cross = clean_tables(states, today=TODAY, config=ValidationConfig())
    assert values == cross == set(TABLES)


def test_nan_in_a_non_nullable_float(tmp_path: Path, base: Path, tables: Tables) -> None:
    """pandas reads a stored NaN as missing; DuckDB would not, the proof must."""
    nan = ("clients.monthly_fee_rub", "invoices.amount_rub")
    raw = _variant(tmp_path, base, tables, _nan_values, nan)
    assert pq.read_table(raw / "clients.parquet")["monthly_fee_rub"].null_count == 0
    found = {(v.table, v.column, v.check) for v in _compare(raw)}
    assert {
        ("clients", "monthly_fee_rub", "not_null"),
        ("invoices", "amount_rub", "not_null"),
    } <= found


def test_nat_stored_as_the_smallest_timestamp(tmp_path: Path, base: Path, tables: Tables) -> None:
    """A timestamp of int64 minimum is NaT in pandas (missing), a date in DuckDB."""
    raw = _variant(tmp_path, base, tables, lambda t: None)
    logins = pq.read_table(raw / "logins.parquet")
    ts = logins["ts"].cast(pa.int64()).to_numpy().copy()
    ts[7] = np.iinfo(np.int64).min
    i = logins.schema.get_field_index("ts")
    column = pa.array(ts).cast(logins.schema.field("ts").type)
    pq.write_table(logins.set_column(i, "ts", column), raw / "logins.parquet")
    found = _compare(raw)
    assert ("logins", "ts", "not_null") in {(v.table, v.column, v.check) for v in found}


@pytest.mark.parametrize("days", [1, 2, 3])
def test_contract_start_tolerance(tmp_path: Path, base: Path, tables: Tables, days: int) -> None:
    raw = _variant(tmp_path, base, tables, _early(2))
    found = _compare(raw, ValidationConfig(contract_start_tolerance_days=days))
    assert bool(found) == (days < 2)


def test_keys_of_tables_beyond_one_batch(tmp_path: Path, base: Path, tables: Tables) -> None:
    """With small batches, duplicate invoice ids are found by DuckDB, not pandera."""
    raw = _variant(tmp_path, base, tables, _duplicate("invoices", "invoice_id"))
    found = _compare(raw, ValidationConfig(batch_rows=100))
    assert [(v.table, v.check) for v in found] == [("invoices", "duplicate_key")]
    edit = _disallowed(0)
    assert _compare(_variant(tmp_path / "b", base, tables, edit), ValidationConfig(batch_rows=100))


def test_damaged_page_is_corrupt_file_either_way(
    tmp_path: Path, base: Path, tables: Tables
) -> None:
    """A page neither reader can decode: the proof fails, pandera names the file."""
    raw = _variant(tmp_path, base, tables, lambda t: None)
    path = raw / "newsletter_events.parquet"
    pq.write_table(pq.read_table(path), path, compression="snappy", use_dictionary=False)
    meta = pq.ParquetFile(path).metadata
    col = meta.schema.names.index("campaign_id")
    chunk = meta.row_group(0).column(col)
    data = bytearray(path.read_bytes())
    start = chunk.data_page_offset
    data[start : start + 64] = b"\xff" * 64  # the page header and the start of its data
    path.write_bytes(bytes(data))
    found = _compare(raw)
    assert [(v.table, v.check) for v in found] == [("newsletter_events", "corrupt_file")]


def test_a_rule_the_proof_does_not_know_is_left_to_the_row_pass(base: Path) -> None:
    states, _ = inspect_dir(base, today=TODAY)
    odd = Rule("logins", "ts", "odd", "{n} odd", (("logins", "ts"),), "__cid IS NULL")
    with pytest.raises(_Unprovable):
        proof_query(states["logins"], [odd], ValidationConfig())
