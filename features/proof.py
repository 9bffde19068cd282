"""Prove, in one DuckDB query per table, that a table breaks none of the contract's rules.

Validating a clean export of 100 000 clients took ~7 s: pandera reads every event row into
pandas (~4 s), and the cross-table pass joins every event row with ``clients`` and ``users``
(~3 s). Almost every weekly export is clean, and for a clean table all that work only
confirms zeros. This module counts, per table, in one query that aggregates before it
joins, whether any row *could* break:

* the per-table (pandera) rules of ``features/schema.py::check_values``: a missing value in
  a non-nullable column, a value outside the allowed ones, a value below the minimum, a
  repeated unique key (on tables of one pandera batch only, as there);
* the cross-table rules of ``features/cross_table.py``, on groups instead of rows. The
  table is grouped by ``client_id`` (its earliest and latest date per time column) and the
  groups joined with ``clients``: an event before the contract start exists exactly when
  the client's earliest one is before it. Users: grouped by ``user_id`` (smallest and
  largest ``client_id``) and joined with ``users``: a row of a user's other client exists
  exactly when either differs from the user's client. A table whose ``user_id`` may not be
  missing is grouped by ``user_id`` alone (one scan; the client rules then hold per user,
  as a user's rows all have one client or a rule is broken anyway). Rules on a row's own
  columns (``due_ts < ts``, ...) are counted row by row.

The result only decides *whether* the existing passes run, never what they report: a table
with every count zero skips pandera (``values`` clean) and/or its cross-table rules
(``cross`` clean); any non-zero count, any DuckDB error, or a rule this module does not
know leaves the table to the existing passes, whose messages, counts and example rows stay
the reference (``inspect_dir(fast=False)`` runs them on every table). So the proof must
never say zero where those passes find something:

* pandas treats a float NaN as missing (DuckDB does not: ``isnan``), and reads a timestamp
  stored as the int64 minimum as NaT (a date before 1678 counts as possibly missing);
* every column pandera would read is read here too (a group key, a grouped ``min``/``max``,
  a predicate, else a hash), so a page pyarrow cannot decode fails this query and sends the
  table to pandera, which reports the file as corrupt.

It trusts the Parquet footers' column statistics, as DuckDB does (pyarrow writes them right).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import duckdb

from churn.config import ValidationConfig
from features.cross_table import Rule, _connect, runnable_rules

if TYPE_CHECKING:
    from features.schema import TableState

# A group-by key whose column statistics span at most 2**bits values is aggregated in a
# plain array (DuckDB's perfect hash aggregate) instead of a hash table: 3-5x faster on 34M
# logins. 22 bits: the ids of a million clients and four million users; ~100 MB at most.
PERFECT_HASH_BITS = 22
# pandas reads a timestamp stored as the int64 minimum (any unit) as NaT: missing. DuckDB
# reads it as a date in 1677 (ns) or 290309 BC (us); nothing real is that old.
OLDEST_TS = "TIMESTAMPTZ '1678-01-01 00:00:00+00'"
EXPECTED = {  # the SQL of features/cross_table.py's id rules
    "unknown_client_id": "client_id IS NOT NULL AND __cid IS NULL",
    "unknown_user_id": "user_id IS NOT NULL AND __uid IS NULL",
    "user_of_other_client": "__users_client_id <> client_id",
}
CLIENT_CHECKS = frozenset({"unknown_client_id", "before_contract_start"})

Kind = Literal["values", "cross", "read"]


class _Unprovable(Exception):
    """A rule this module cannot count on groups: the table takes the existing passes."""


@dataclass
class _Query:
    """One table's proof query, built from predicates on rows and on groups of rows.

    Scan ``a`` reads every row, grouped by ``client_id`` when a rule needs the client
    (else ungrouped): ``aggs`` are its aggregates, ``row`` per-row predicates (one count per
    kind: only zero matters), ``checks`` predicates over one group's aggregates and the
    joined ``clients`` (``c``) columns. Scan ``b`` groups by ``user_id`` (the smallest and
    largest ``client_id`` of each) for the ``users`` checks (joined ``u``). The query
    counts the groups where each check holds.
    """

    table: str
    grouped: bool = False
    row: dict[Kind, list[str]] = field(default_factory=dict)
    aggs: dict[str, str] = field(default_factory=dict)  # aggregate SQL -> alias
    checks: list[tuple[Kind, str]] = field(default_factory=list)
    clients: bool = False  # join clients ...
    start: bool = False  # ... with each client's contract_start
    users: list[tuple[Kind, str]] = field(default_factory=list)
    owner: bool = False  # join users with each user's client_id
    unique: list[tuple[Kind, tuple[str, ...]]] = field(default_factory=list)
    hashed: list[str] = field(default_factory=list)  # columns read only through a hash
    prepared: frozenset[str] = frozenset()  # tables whose join side is a temp table (PREPARED)

    def agg(self, sql: str) -> str:
        """The alias of aggregate ``sql`` in scan ``a`` (added once)."""
        return self.aggs.setdefault(sql, f"__a{len(self.aggs)}")

    def sql(self) -> tuple[str, list[Kind]]:
        """The query (one result row) and the kind of each of its columns."""
        checks = list(self.checks)
        for kind, preds in self.row.items():
            n = self.agg(f"count(*) FILTER (WHERE {' OR '.join(f'({p})' for p in preds)})")
            checks.append((kind, f"{n} > 0"))
        outer = [f"count(*) FILTER (WHERE {pred})" for _, pred in checks]
        kinds: list[Kind] = [kind for kind, _ in checks]
        for col in self.hashed:  # selected, so that DuckDB cannot skip reading the column
            outer.append(f"bit_xor({self.agg(f'bit_xor(hash({col}))')})")
            kinds.append("read")
        t, ctes, parts = self.table, [], []
        if self.aggs:
            inner = ", ".join(f"{sql} AS {alias}" for sql, alias in self.aggs.items())
            group = " GROUP BY client_id" if self.grouped else ""
            key = "client_id AS __k, " if self.grouped else ""
            ctes.append(f"a AS (SELECT {key}{inner} FROM {t}{group})")
            parts.append(f"(SELECT {', '.join(outer)} FROM a{self._clients()})")
        if self.users:
            lohi = ", min(client_id) AS __lo, max(client_id) AS __hi" if self.owner else ""
            ctes.append(f"b AS (SELECT user_id AS __k{lohi} FROM {t} GROUP BY user_id)")
            users = ", ".join(f"count(*) FILTER (WHERE {pred})" for _, pred in self.users)
            parts.append(f"(SELECT {users} FROM b{self._users()})")
            kinds += [kind for kind, _ in self.users]
        for kind, key in self.unique:
            cols = ", ".join(key)
            parts.append(
                f"(SELECT count(*) FROM (SELECT 1 FROM {t} GROUP BY {cols} HAVING count(*) > 1))"
            )
            kinds.append(kind)
        if not parts:
            return "", []
        with_ = f"WITH {', '.join(ctes)} " if ctes else ""
        from_ = ", ".join(f"{p} AS p{i}" for i, p in enumerate(parts))
        return f"{with_}SELECT * FROM {from_}", kinds

    def _clients(self) -> str:
        """Each client's contract start as ``features/cross_table.py`` has it (the earliest)."""
        if not self.clients:
            return ""
        if "clients" in self.prepared:
            return " LEFT JOIN __clients c ON __k = c.__cid"
        first = "min(contract_start)" if self.start else "NULL"
        return (
            f" LEFT JOIN (SELECT client_id AS __cid, {first} AS __contract_start FROM clients"
            " GROUP BY 1) c ON __k = c.__cid"
        )

    def _users(self) -> str:
        """Each user's client as ``features/cross_table.py`` has it (the smallest, if repeated)."""
        if "users" in self.prepared:
            return " LEFT JOIN __users u ON __k = u.__uid"
        client = "min(client_id)" if self.owner else "NULL"
        return (
            f" LEFT JOIN (SELECT user_id AS __uid, {client} AS __users_client_id FROM users"
            " GROUP BY 1) u ON __k = u.__uid"
        )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _value_rules(state: TableState, q: _Query, cfg: ValidationConfig) -> set[str]:
    """The per-table rules of ``schema.check_values``; returns the columns certainly read."""
    if not state.good_columns or not state.rows:
        return set()  # check_values checks nothing either
    table = state.table
    by_name = {c.name: c for c in table.columns}
    reads: set[str] = set()
    rows: list[str] = []
    for name in state.good_columns:
        col = by_name[name]
        if not col.nullable:
            q.checks.append(("values", f"{q.agg(f'count(*) - count({name})')} > 0"))
            if col.type == "float":
                rows.append(f"isnan({name})")
                reads.add(name)
            elif col.type == "ts" and q.grouped:  # NaT stored as the int64 minimum
                q.checks.append(("values", f"{q.agg(f'min({name})')} < {OLDEST_TS}"))
                reads.add(name)  # a grouped min reads every value
            elif col.type == "ts":  # ungrouped, DuckDB may answer min from the statistics
                rows.append(f"{name} < {OLDEST_TS}")
                reads.add(name)
        if col.allowed is not None:
            if col.type != "str":
                raise _Unprovable(f"{table.name}.{name}: allowed values on a {col.type}")
            values = ", ".join(_literal(v) for v in col.allowed)
            rows.append(f"{name} NOT IN ({values})")  # NULL: not counted, as in pandera
            reads.add(name)
        if col.min_value is not None:
            rows.append(f"{name} < {float(col.min_value)!r}")
            reads.add(name)
    if rows:
        q.row["values"] = rows
    if state.rows <= cfg.batch_rows:  # pandera checks keys only on a table of one batch
        keys = [(c.name,) for c in table.columns if c.unique and c.name in state.good_columns]
        if len(table.key) > 1:
            if not set(table.key) <= set(state.good_columns):
                raise _Unprovable(f"{table.name}: key columns missing")
            keys.append(tuple(table.key))
        q.unique += [("values", key) for key in keys]
        reads |= {c for key in keys for c in key}
    return reads


def _cross_rules(rules: list[Rule], q: _Query, tolerance_days: int) -> set[str]:
    """The table's cross-table rules on groups; returns the columns certainly read.

    A rule is recognised by its check *and* its exact SQL in ``features/cross_table.py``:
    a rule changed there is no longer proven here, and its table runs the row-level pass.
    """
    reads: set[str] = {"client_id"} if q.grouped else set()
    days = int(tolerance_days)
    for r in rules:
        if "__" not in r.predicate + " ".join(r.context):  # on the row's own columns
            q.row.setdefault("cross", []).append(r.predicate)
            reads |= {c for t, c in r.needs if t == r.table}
        elif r.check == "unknown_client_id" and r.predicate == EXPECTED[r.check]:
            q.clients = True
            q.checks.append(("cross", "__k IS NOT NULL AND c.__cid IS NULL"))
        elif r.check == "before_contract_start" and r.predicate == (
            f"{r.column} < __contract_start - to_days({days})"
        ):
            q.clients = q.start = True
            first = q.agg(f"min({r.column})")
            q.checks.append(("cross", f"{first} < c.__contract_start - to_days({days})"))
            reads.add(r.column)
        elif r.check == "unknown_user_id" and r.predicate == EXPECTED[r.check]:
            q.users.append(("cross", "__k IS NOT NULL AND u.__uid IS NULL"))
            reads.add("user_id")
        elif r.check == "user_of_other_client" and r.predicate == EXPECTED[r.check]:
            q.owner = True
            q.users.append(("cross", "__lo <> u.__users_client_id OR __hi <> u.__users_client_id"))
            reads |= {"user_id", "client_id"}
        elif r.check == "duplicate_key" and r.predicate == f"__n_{r.column} > 1":
            q.unique.append(("cross", (r.column,)))
            reads.add(r.column)
        else:
            raise _Unprovable(f"{r.table}.{r.column}: {r.check}")
    return reads


def proof_query(
    state: TableState,
    rules: list[Rule],
    cfg: ValidationConfig,
    prepared: frozenset[str] = frozenset(),
) -> tuple[str, list[Kind]]:
    """One table's proof query and the kind of each count (empty SQL: nothing to check).

    ``rules`` are the table's usable cross-table rules (``cross_table.all_rules``).
    Raises :class:`_Unprovable` for a rule without a form on groups. ``prepared``: the
    tables whose join side :func:`_prepare` made once for every table.
    """
    grouped = any(r.check in CLIENT_CHECKS for r in rules)
    q = _Query(state.table.name, grouped=grouped, prepared=prepared)
    reads = _value_rules(state, q, cfg) | _cross_rules(rules, q, cfg.contract_start_tolerance_days)
    if state.rows:
        q.hashed = [c for c in state.good_columns if c not in reads]
    return q.sql()


PREPARED = {  # the join sides of features/cross_table.py's view, one row per key
    "clients": "SELECT client_id AS __cid, min(contract_start) AS __contract_start FROM clients"
    " GROUP BY 1",
    "users": "SELECT user_id AS __uid, min(client_id) AS __users_client_id FROM users GROUP BY 1",
}


def _prepare(con: duckdb.DuckDBPyConnection, unreadable: set[str]) -> frozenset[str]:
    """Build the clients and users join sides once (a dozen tables join them), as temp
    tables; one that cannot be built (a column missing) is joined inline, per table."""
    done = set()
    for name, sql in PREPARED.items():
        if name in unreadable:
            continue
        try:
            con.execute(f"CREATE TEMP TABLE __{name} AS {sql}")
            done.add(name)
        except duckdb.Error:
            pass
    return frozenset(done)


def clean_tables(
    states: dict[str, TableState], *, today: datetime, config: ValidationConfig
) -> tuple[set[str], set[str]]:
    """The tables proven to pass the per-table value rules, and those proven to pass their
    cross-table rules: the existing passes would report nothing for them."""
    values_clean: set[str] = set()
    cross_clean: set[str] = set()
    con, failed = _connect(states, config)
    unreadable = {v.table for v in failed}
    rules = runnable_rules(states, unreadable, today=today, config=config)
    try:
        con.execute(f"SET perfect_ht_threshold = {PERFECT_HASH_BITS}")
        prepared = _prepare(con, unreadable)
        for name, state in states.items():
            if state.rows is None or name in unreadable:
                continue
            try:
                mine = [r for r in rules if r.table == name]
                sql, kinds = proof_query(state, mine, config, prepared)
                row = con.sql(sql).fetchall()[0] if sql else ()
            except (_Unprovable, duckdb.Error):
                continue  # the existing passes check (and name) it
            counts = dict.fromkeys(("values", "cross"), 0)
            for kind, n in zip(kinds, row, strict=True):
                if kind != "read":
                    counts[kind] += n or 0
            if not counts["values"]:
                values_clean.add(name)
            if not counts["cross"]:
                cross_clean.add(name)
    finally:
        con.close()
    return values_clean, cross_clean
