"""Cross-table and cross-row rules of the raw-data contract, as DuckDB SQL over Parquet.

These rules join tables (every event's client must exist, and the event must fall after
its contract start) or look at whole columns (duplicate keys across a table too big for
one pandas batch). DuckDB streams the Parquet files under a memory cap, so a base of
100 000 clients with tens of millions of login rows is checked without loading it.

A rule only runs when every column it needs exists with the right dtype; otherwise the
per-table pass has already reported that column, and running SQL on it would only fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

from churn.config import ValidationConfig
from features.contract import LARGE_SEGMENT_FEE_RUB, TABLES
from features.violation import Violation, rows

if TYPE_CHECKING:
    from features.schema import TableState

# Dates that are plans rather than events: they may lie after ``today``.
PLANNED_COLUMNS = frozenset({"due_ts"})


@dataclass(frozen=True)
class Rule:
    table: str
    column: str
    check: str
    message: str  # "{n}" is replaced by "N rows"
    needs: tuple[tuple[str, str], ...]  # (table, column) pairs that must be usable
    bad_rows: str  # SQL selecting the offending rows


def _rules(
    states: dict[str, TableState], today: datetime, tolerance_days: int, batch_rows: int
) -> Iterator[Rule]:
    today_sql = f"TIMESTAMPTZ '{today.isoformat()}'"
    after_today = "{n} dated after " + today.strftime("%Y-%m-%d %H:%M UTC")
    fee_rule = f"large when fee > {LARGE_SEGMENT_FEE_RUB:,.0f}"
    early = f"c.contract_start - to_days({int(tolerance_days)})"
    tol = f" (tolerance {tolerance_days} days)" if tolerance_days else ""
    for t in TABLES.values():
        cols = set(t.column_names)
        if t.name != "clients" and "client_id" in cols:
            yield Rule(
                t.name, "client_id", "unknown_client_id", "{n} with a client_id not in clients",
                ((t.name, "client_id"), ("clients", "client_id")),
                f"SELECT e.* FROM {t.name} e ANTI JOIN clients c USING (client_id)"
                " WHERE e.client_id IS NOT NULL",
            )  # fmt: skip
        if t.name != "users" and "user_id" in cols:
            yield Rule(
                t.name, "user_id", "unknown_user_id", "{n} with a user_id not in users",
                ((t.name, "user_id"), ("users", "user_id")),
                f"SELECT e.* FROM {t.name} e ANTI JOIN users u USING (user_id)"
                " WHERE e.user_id IS NOT NULL",
            )  # fmt: skip
            yield Rule(
                t.name, "user_id", "user_of_other_client",
                "{n} whose user belongs to another client in users",
                ((t.name, "user_id"), (t.name, "client_id"), ("users", "user_id"),
                 ("users", "client_id")),
                f"SELECT e.*, u.client_id AS users_client_id FROM {t.name} e"
                " JOIN users u USING (user_id) WHERE e.client_id <> u.client_id",
            )  # fmt: skip
        for col in t.time_columns:
            if t.name != "clients":
                yield Rule(
                    t.name, col, "before_contract_start",
                    "{n} dated before the client's contract_start" + tol,
                    ((t.name, col), (t.name, "client_id"), ("clients", "client_id"),
                     ("clients", "contract_start")),
                    f"SELECT e.*, c.contract_start FROM {t.name} e JOIN clients c"
                    f" USING (client_id) WHERE e.{col} < {early}",
                )  # fmt: skip
            if col not in PLANNED_COLUMNS:
                yield Rule(
                    t.name, col, "in_future", after_today,
                    ((t.name, col),),
                    f"SELECT * FROM {t.name} WHERE {col} > {today_sql}",
                )  # fmt: skip
        state = states.get(t.name)
        if state is not None and (state.rows or 0) > batch_rows:
            for c in t.columns:  # too big for one pandera batch: uniqueness in SQL
                if c.unique:
                    yield Rule(
                        t.name, c.name, "duplicate_key", "{n} share a key value with another row",
                        ((t.name, c.name),),
                        f"SELECT * FROM {t.name} WHERE {c.name} IN"
                        f" (SELECT {c.name} FROM {t.name} GROUP BY 1 HAVING count(*) > 1)",
                    )  # fmt: skip
    yield Rule(
        "invoices", "due_ts", "due_before_issue", "{n} due before they were issued (due_ts < ts)",
        (("invoices", "due_ts"), ("invoices", "ts")),
        "SELECT * FROM invoices WHERE due_ts < ts",
    )  # fmt: skip
    yield Rule(
        "invoices", "period_end", "period_end_before_start", "{n} with period_end < period_start",
        (("invoices", "period_end"), ("invoices", "period_start")),
        "SELECT * FROM invoices WHERE period_end < period_start",
    )  # fmt: skip
    yield Rule(
        "clients", "segment", "segment_vs_fee",
        "{n} whose segment contradicts the fee rule (" + fee_rule + ")",
        (("clients", "segment"), ("clients", "monthly_fee_rub")),
        "SELECT * FROM clients WHERE segment IS NOT NULL AND monthly_fee_rub IS NOT NULL AND"
        f" segment <> CASE WHEN monthly_fee_rub > {LARGE_SEGMENT_FEE_RUB} THEN 'large'"
        " ELSE 'small_medium' END",
    )  # fmt: skip


def _usable(states: dict[str, TableState], needs: tuple[tuple[str, str], ...]) -> bool:
    return all(
        t in states and states[t].rows is not None and c in states[t].good_columns for t, c in needs
    )


def _connect(states: dict[str, TableState], cfg: ValidationConfig) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{cfg.duckdb_memory_limit}'")
    con.execute("SET TimeZone = 'UTC'")
    for name, state in states.items():
        if state.rows is None:
            continue
        path = str(state.path).replace("'", "''")
        # any datetime unit is valid: cast to one type so comparisons bind (ns vs us)
        ts = [
            c.name for c in TABLES[name].columns if c.type == "ts" and c.name in state.good_columns
        ]
        replace = (
            f" REPLACE ({', '.join(f'CAST({c} AS TIMESTAMPTZ) AS {c}' for c in ts)})" if ts else ""
        )
        con.execute(f"CREATE VIEW {name} AS SELECT *{replace} FROM read_parquet('{path}')")
    return con


def cross_table_violations(
    states: dict[str, TableState], *, today: datetime, config: ValidationConfig
) -> list[Violation]:
    """Every cross-table rule that can run on the usable columns, with example rows."""
    rules = [
        r
        for r in _rules(states, today, config.contract_start_tolerance_days, config.batch_rows)
        if _usable(states, r.needs)
    ]
    con = _connect(states, config)
    try:
        counts = _counts(con, rules)
        return [
            v
            for rule, n in zip(rules, counts, strict=True)
            if (v := _violation(con, rule, n, config.max_examples)) is not None
        ]
    finally:
        con.close()


def _counts(con: duckdb.DuckDBPyConnection, rules: list[Rule]) -> list[int | str]:
    """Offending-row count per rule: one round trip; rule by rule if one fails to run."""
    if not rules:
        return []
    union = " UNION ALL ".join(
        f"SELECT {i} AS i, count(*) AS n FROM ({r.bad_rows})" for i, r in enumerate(rules)
    )
    try:
        return [n for _, n in sorted(con.sql(union).fetchall())]
    except duckdb.Error:
        return [_count_one(con, r) for r in rules]


def _count_one(con: duckdb.DuckDBPyConnection, rule: Rule) -> int | str:
    try:
        return con.sql(f"SELECT count(*) FROM ({rule.bad_rows})").fetchall()[0][0]
    except duckdb.Error as exc:  # never a traceback: the rule is reported as not checkable
        return str(exc).splitlines()[0]


def _violation(
    con: duckdb.DuckDBPyConnection, rule: Rule, n: int | str, k: int
) -> Violation | None:
    if isinstance(n, str):
        return Violation(rule.table, rule.column, rule.check, f"could not check: {n}")
    if not n:
        return None
    # via Arrow: fetching TIMESTAMPTZ as Python objects would need pytz
    sample = con.sql(f"SELECT * FROM ({rule.bad_rows}) LIMIT {int(k)}").to_arrow_table()
    examples = [{c: _plain(v) for c, v in row.items()} for row in sample.to_pylist()]
    msg = rule.message.format(n=rows(n))
    return Violation(rule.table, rule.column, rule.check, msg, examples, n)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value
