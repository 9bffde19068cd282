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
import pyarrow

from churn.config import ValidationConfig
from features.contract import LARGE_SEGMENT_FEE_RUB, RESUMABLE_CHURN_TYPES, TABLES, Table
from features.violation import Violation, rows

if TYPE_CHECKING:
    from features.schema import TableState

# Dates that are plans rather than events: they may lie after ``today``.
PLANNED_COLUMNS = frozenset({"due_ts"})


@dataclass(frozen=True)
class Rule:
    """One rule on one table: rows of the table's joined view where ``predicate`` holds."""

    table: str
    column: str
    check: str
    message: str  # "{n}" is replaced by "N rows"
    needs: tuple[tuple[str, str], ...]  # (table, column) pairs that must be usable
    predicate: str  # SQL over the table's columns and the joined __ columns of _view_sql
    context: tuple[str, ...] = ()  # extra columns shown with example rows


def _id_rules(t: Table) -> Iterator[Rule]:
    cols = set(t.column_names)
    if t.name != "clients" and "client_id" in cols:
        yield Rule(
            t.name, "client_id", "unknown_client_id", "{n} with a client_id not in clients",
            ((t.name, "client_id"), ("clients", "client_id")),
            "client_id IS NOT NULL AND __cid IS NULL",
        )  # fmt: skip
    if t.name != "users" and "user_id" in cols:
        yield Rule(
            t.name, "user_id", "unknown_user_id", "{n} with a user_id not in users",
            ((t.name, "user_id"), ("users", "user_id")),
            "user_id IS NOT NULL AND __uid IS NULL",
        )  # fmt: skip
        yield Rule(
            t.name, "user_id", "user_of_other_client",
            "{n} whose user belongs to another client in users",
            ((t.name, "user_id"), (t.name, "client_id"), ("users", "user_id"),
             ("users", "client_id")),
            "__users_client_id <> client_id", ("__users_client_id AS users_client_id",),
        )  # fmt: skip


def _time_rules(t: Table, today: datetime, tolerance_days: int) -> Iterator[Rule]:
    today_sql = f"TIMESTAMPTZ '{today.isoformat()}'"
    after_today = "{n} dated after " + today.strftime("%Y-%m-%d %H:%M UTC")
    tol = f" (tolerance {tolerance_days} days)" if tolerance_days else ""
    for col in t.time_columns:
        if t.name != "clients":
            yield Rule(
                t.name, col, "before_contract_start",
                "{n} dated before the client's contract_start" + tol,
                ((t.name, col), (t.name, "client_id"), ("clients", "client_id"),
                 ("clients", "contract_start")),
                f"{col} < __contract_start - to_days({int(tolerance_days)})",
                ("__contract_start AS contract_start",),
            )  # fmt: skip
        if col not in PLANNED_COLUMNS:
            yield Rule(
                t.name, col, "in_future", after_today, ((t.name, col),), f"{col} > {today_sql}"
            )


def _duplicate_rules(t: Table, state: TableState | None, batch_rows: int) -> Iterator[Rule]:
    """Uniqueness of tables too big for one pandera batch (smaller ones: pandera)."""
    if state is None or (state.rows or 0) <= batch_rows:
        return
    for c in t.columns:
        if c.unique:
            yield Rule(
                t.name, c.name, "duplicate_key", "{n} share a key value with another row",
                ((t.name, c.name),), f"__n_{c.name} > 1",
            )  # fmt: skip


def _row_rules() -> Iterator[Rule]:
    """Rules between columns of one row."""
    yield Rule(
        "invoices", "due_ts", "due_before_issue", "{n} due before they were issued (due_ts < ts)",
        (("invoices", "due_ts"), ("invoices", "ts")), "due_ts < ts",
    )  # fmt: skip
    yield Rule(
        "invoices", "period_end", "period_end_before_start", "{n} with period_end < period_start",
        (("invoices", "period_end"), ("invoices", "period_start")), "period_end < period_start",
    )  # fmt: skip
    yield Rule(
        "churn_events", "resumed_ts", "resumed_not_after_churn",
        "{n} resumed on or before the churn itself (resumed_ts <= ts)",
        (("churn_events", "resumed_ts"), ("churn_events", "ts")), "resumed_ts <= ts",
    )  # fmt: skip
    resumable = ", ".join(f"'{t}'" for t in RESUMABLE_CHURN_TYPES)
    yield Rule(
        "churn_events", "resumed_ts", "resumed_not_a_suspension",
        "{n} with a resumed_ts on a churn type that cannot end (only "
        + "/".join(RESUMABLE_CHURN_TYPES) + " can)",
        (("churn_events", "resumed_ts"), ("churn_events", "churn_type")),
        f"resumed_ts IS NOT NULL AND churn_type NOT IN ({resumable})",
    )  # fmt: skip
    fee_rule = f"large when fee > {LARGE_SEGMENT_FEE_RUB:,.0f}"
    yield Rule(
        "clients", "segment", "segment_vs_fee",
        "{n} whose segment contradicts the fee rule (" + fee_rule + ")",
        (("clients", "segment"), ("clients", "monthly_fee_rub")),
        f"segment <> CASE WHEN monthly_fee_rub > {LARGE_SEGMENT_FEE_RUB} THEN 'large'"
        " ELSE 'small_medium' END",
    )  # fmt: skip


def all_rules(
    states: dict[str, TableState], today: datetime, tolerance_days: int, batch_rows: int
) -> list[Rule]:
    """Every cross-table / cross-row rule whose columns are usable, in contract order."""
    rules: list[Rule] = []
    row_rules = list(_row_rules())
    for t in TABLES.values():
        rules += _id_rules(t)
        rules += _time_rules(t, today, tolerance_days)
        rules += _duplicate_rules(t, states.get(t.name), batch_rows)
        rules += [r for r in row_rules if r.table == t.name]
    return [r for r in rules if _usable(states, r.needs)]


def _usable(states: dict[str, TableState], needs: tuple[tuple[str, str], ...]) -> bool:
    return all(
        t in states and states[t].rows is not None and c in states[t].good_columns for t, c in needs
    )


# ---------------------------------------------------------------- running the rules


def _view_sql(name: str, rules: list[Rule]) -> tuple[str, list[str]]:
    """The table joined with what its rules need (one scan answers all of them).

    Returns the SQL and the helper (``__``) columns it adds, to hide in example rows.
    Joined tables are reduced to one row per key first, so a duplicated key (reported
    on its own table) cannot multiply rows here.
    """
    text = " ".join(r.predicate + " " + " ".join(r.context) for r in rules)
    select, joins, helpers = ["e.*"], [], []
    if "__cid" in text or "__contract_start" in text:
        start = "min(contract_start)" if "__contract_start" in text else "NULL"
        joins.append(
            f"LEFT JOIN (SELECT client_id AS __cid, {start} AS __contract_start FROM clients"
            " GROUP BY 1) c ON e.client_id = c.__cid"
        )
        select += ["c.__cid", "c.__contract_start"]
        helpers += ["__cid", "__contract_start"]
    if "__uid" in text or "__users_client_id" in text:
        owner = "min(client_id)" if "__users_client_id" in text else "NULL"
        joins.append(
            f"LEFT JOIN (SELECT user_id AS __uid, {owner} AS __users_client_id FROM users"
            " GROUP BY 1) u ON e.user_id = u.__uid"
        )
        select += ["u.__uid", "u.__users_client_id"]
        helpers += ["__uid", "__users_client_id"]
    for r in rules:
        if r.check == "duplicate_key":
            select.append(f"count(*) OVER (PARTITION BY e.{r.column}) AS __n_{r.column}")
            helpers.append(f"__n_{r.column}")
    sql = f"SELECT {', '.join(select)} FROM {name} e {' '.join(joins)}"
    return sql, helpers


def _connect(
    states: dict[str, TableState], cfg: ValidationConfig
) -> tuple[duckdb.DuckDBPyConnection, list[Violation]]:
    """A DuckDB connection with one view per readable table (and what DuckDB could not read)."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{cfg.duckdb_memory_limit}'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    failed = []
    for name, state in states.items():
        if state.rows is None:
            continue
        path = str(state.path).replace("'", "''")
        # any datetime unit is valid: cast to one type so comparisons bind (ns vs us)
        ts = [c.name for c in TABLES[name].columns if c.type == "ts"]
        casts = [f"CAST({c} AS TIMESTAMPTZ) AS {c}" for c in ts if c in state.good_columns]
        replace = f" REPLACE ({', '.join(casts)})" if casts else ""
        try:
            con.execute(f"CREATE VIEW {name} AS SELECT *{replace} FROM read_parquet('{path}')")
        except duckdb.Error as exc:
            msg = f"{state.path.name}: unreadable ({str(exc).splitlines()[0]})"
            failed.append(Violation(name, "", "unreadable", msg))
    return con, failed


def runnable_rules(
    states: dict[str, TableState],
    unreadable: set[str],
    *,
    today: datetime,
    config: ValidationConfig,
) -> list[Rule]:
    """:func:`all_rules` without those needing a table DuckDB could not read."""
    return [
        r
        for r in all_rules(states, today, config.contract_start_tolerance_days, config.batch_rows)
        if not unreadable & {t for t, _ in r.needs}
    ]


def cross_table_violations(
    states: dict[str, TableState],
    *,
    today: datetime,
    config: ValidationConfig,
    skip: frozenset[str] | set[str] = frozenset(),
) -> list[Violation]:
    """Every cross-table rule that can run on the usable columns, with example rows.

    The rules of the tables in ``skip`` do not run (``features/proof.py`` proved them clean).
    """
    con, out = _connect(states, config)
    unreadable = {v.table for v in out}
    rules = runnable_rules(states, unreadable, today=today, config=config)
    try:
        for name in TABLES:
            mine = [r for r in rules if r.table == name]
            if not mine or name in skip:
                continue
            view, helpers = _view_sql(name, mine)
            counts = _counts(con, view, mine)
            errors = {n for n in counts if isinstance(n, str)}
            if len(errors) == 1 and len(errors) == len(set(counts)):  # one cause, e.g. bad file
                msg = f"cross-table checks could not run: {errors.pop()}"
                out.append(Violation(name, "", "unreadable", msg))
                continue
            for rule, n in zip(mine, counts, strict=True):
                v = _violation(con, view, helpers, rule, n, config.max_examples)
                if v is not None:
                    out.append(v)
    finally:
        con.close()
    return out


def _counts(con: duckdb.DuckDBPyConnection, view: str, rules: list[Rule]) -> list[int | str]:
    """Offending-row count per rule in one scan; rule by rule if the scan fails."""
    filters = ", ".join(f"count(*) FILTER (WHERE {r.predicate})" for r in rules)
    try:
        return list(con.sql(f"WITH w AS ({view}) SELECT {filters} FROM w").fetchall()[0])
    except duckdb.Error:
        return [_count_one(con, view, r) for r in rules]


def _count_one(con: duckdb.DuckDBPyConnection, view: str, rule: Rule) -> int | str:
    try:
        sql = f"WITH w AS ({view}) SELECT count(*) FROM w WHERE {rule.predicate}"
        return con.sql(sql).fetchall()[0][0]
    except duckdb.Error as exc:  # never a traceback: the rule is reported as not checkable
        return str(exc).splitlines()[0]


def _violation(
    con: duckdb.DuckDBPyConnection,
    view: str,
    helpers: list[str],
    rule: Rule,
    n: int | str,
    k: int,
) -> Violation | None:
    if isinstance(n, str):
        return Violation(rule.table, rule.column, rule.check, f"could not check: {n}")
    if not n:
        return None
    hide = f" EXCLUDE ({', '.join(helpers)})" if helpers else ""
    shown = ", ".join(("*" + hide, *rule.context))
    sql = f"WITH w AS ({view}) SELECT {shown} FROM w WHERE {rule.predicate} LIMIT {int(k)}"
    examples = [{c: _plain(v) for c, v in row.items()} for row in _first_rows(con, sql)]
    msg = rule.message.format(n=rows(n))
    return Violation(rule.table, rule.column, rule.check, msg, examples, n)


def _first_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, object]]:
    """The rows of a ``LIMIT`` query in file order, the same on every run.

    On several threads a joined scan hands rows to ``LIMIT`` in whichever order the
    threads finish, so the example rows changed from run to run; on one thread they are
    the first offending rows of the file (the counts still run on every thread).
    """
    threads = con.sql("SELECT current_setting('threads')").fetchall()[0][0]
    con.execute("SET threads = 1")
    try:
        # via Arrow: fetching TIMESTAMPTZ as Python objects would need pytz
        sample = con.sql(sql).to_arrow_table()
    finally:
        con.execute(f"SET threads = {int(threads)}")
    try:
        return sample.to_pylist()
    except (OverflowError, ValueError):  # a date Python cannot hold, e.g. 290309 BC
        text = [
            col.cast(pyarrow.string()) if pyarrow.types.is_timestamp(col.type) else col
            for col in sample.columns
        ]
        return pyarrow.table(text, names=sample.column_names).to_pylist()


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value
