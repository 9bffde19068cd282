"""Point-in-time client snapshots as one engine-neutral Ibis expression.

:func:`snapshots_expr` is the core: raw tables in (Ibis), a list of as_of dates, the
features and rules config; out comes one table with exactly the columns of the signal
spec (``configs/signals.yaml``, in that order, with those dtypes), one row per client
active on each as_of. Only what was known strictly before as_of is used (see
``features/README.md``). Several as_of dates are one query (a UNION ALL of per-date
plans); every event filter has literal time bounds, so each plan reads only the row
groups its windows need.

The expression uses only portable Ibis operations, so ``ibis.to_sql(expr, dialect="pyspark")``
compiles it for Spark. The I/O edges (:func:`load_tables`, :func:`build_snapshots`,
:func:`write_snapshots`) use DuckDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow.parquet as pq

from churn.config import Config, FeaturesConfig, RulesConfig
from churn.errors import InputError
from churn.progress import bar_on_screen, on_terminal
from features.compile import (
    add_rules,
    client_columns,
    derive,
    event_signals,
    fill_absent,
    function_signals,
    history_expr,
)
from features.contract import TABLES
from features.provenance import kv_metadata
from features.spec import SignalSpec, load_spec
from features.windows import AS_OF_TYPE, AsOf, at, known, utc_midnight

SQL_TYPES = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR", "ts": "TIMESTAMPTZ"}
IBIS_TYPES = {"int": "int64", "float": "float64", "str": "string", "ts": AS_OF_TYPE}
# The raw columns the signals read (what benchmarks/features.py scans as the baseline).
USED_COLUMNS: dict[str, tuple[str, ...]] = {
    "clients": (
        "client_id",
        "category",
        "segment",
        "service_mode",
        "region",
        "monthly_fee_rub",
        "contract_start",
        "first_advance_months",
        "centre_id",  # optional: absent from a single centre's export
        "name",  # optional: absent when the CRM exports no names
    ),
    "users": ("client_id", "user_id", "role", "ts"),
    "trainings": ("client_id", "user_id", "ts"),
    "logins": ("client_id", "user_id", "ts"),
    "service_requests": ("client_id", "ts", "channel"),
    "webinars": ("client_id", "ts"),
    "newsletter_events": ("client_id", "ts", "event"),
    "video_clicks": ("client_id", "ts"),
    "kit_updates": ("client_id", "ts"),
    "invoices": ("client_id", "ts", "due_ts", "paid_ts", "amount_rub", "period_end"),
    "competitor_checks": ("client_id", "ts", "competitor_present"),
    "contacts": ("client_id", "ts", "kind", "outcome"),
    "churn_events": ("client_id", "ts", "resumed_ts"),  # resumed_ts: optional in a file
}


# ---------------------------------------------------------------- the expression


def spec_of(cfg: FeaturesConfig) -> SignalSpec:
    """The signal spec the features config points at (``features.signals``)."""
    return load_spec(cfg.signals)


def snapshots_expr(
    tables: dict[str, ir.Table],
    as_of_dates: Sequence[date],
    cfg: FeaturesConfig,
    rules: RulesConfig,
) -> ir.Table:
    """Snapshots for every date in ``as_of_dates`` (one UNION ALL), sorted by as_of, client."""
    dates = sorted(set(as_of_dates))
    if not dates:
        raise InputError("as_of: no dates to build")
    history = history_expr(spec_of(cfg), tables, dates)
    plans = [snapshot_expr(tables, d, cfg, rules, history) for d in dates]
    union = plans[0] if len(plans) == 1 else ibis.union(*plans, distinct=False)
    return union.order_by(["as_of", "client_id"])


def churn_in_effect(churn_events: ir.Table, as_of: AsOf) -> ir.Table:
    """Churn events in effect at as_of: known (``ts < as_of``) and not known to have ended.

    A suspension resumed on day R ends for snapshots after R: ``resumed_ts < as_of``, the
    same strictly-before rule as every other event (a resumption stamped on the as_of day
    is not seen yet, so a client suspended on D1 and resumed on D2 is out of the snapshots
    of (D1, D2] and back from D2 + 1 day on).
    """
    events = known(churn_events, as_of)
    return events.filter(events.resumed_ts.isnull() | (events.resumed_ts >= at(as_of)))


def active_clients(clients: ir.Table, churn_events: ir.Table, as_of: AsOf) -> ir.Table:
    """Clients under contract before as_of with no churn in effect at as_of.

    A churn event on or after as_of does not exist yet on as_of, so that client is active;
    a suspension resumed before as_of no longer holds, so that client is active again.
    """
    churned = churn_in_effect(churn_events, as_of).select("client_id").distinct()
    started = clients.filter(clients.contract_start < at(as_of))
    return started.anti_join(churned, "client_id")


def snapshot_expr(
    tables: dict[str, ir.Table],
    as_of: AsOf,
    cfg: FeaturesConfig,
    rules: RulesConfig,
    history: ir.Table | None = None,
) -> ir.Table:
    """The snapshot as of 00:00 UTC on ``as_of``: one row per active client, spec columns.

    Pure: tables in, table out. Windowed events are filtered with literal bounds before
    as_of (``features.windows``); last-ever values come from ``history``
    (:func:`features.compile.history_expr` over dates including as_of, built here for
    as_of alone when not given). Nothing on or after as_of reaches a value.
    """
    spec = spec_of(cfg)
    if history is None:
        if isinstance(as_of, ir.Value):
            raise ValueError("snapshot_expr: a parametrised as_of needs the history table")
        history = history_expr(spec, tables, [as_of])
    t = tables
    signals = (
        *event_signals(spec, t, as_of),
        *function_signals(spec, t, as_of),
        history.filter(history.as_of == at(as_of)).drop("as_of"),
    )
    active = active_clients(t["clients"], t["churn_events"], as_of)
    joined = client_columns(spec, active, as_of)
    for i, signal in enumerate(signals):  # one flat chain of left joins on client_id
        joined = joined.left_join(signal, "client_id", rname=f"{{name}}_{i}")
    flat = joined.drop(*(f"client_id_{i}" for i in range(len(signals))))
    snap = derive(spec, fill_absent(spec, flat), as_of).mutate(as_of=at(as_of))
    return conform(add_rules(spec, snap, rules), spec)


def conform(t: ir.Table, spec: SignalSpec) -> ir.Table:
    """Exactly the spec's columns, in spec order, with the spec's dtypes."""
    missing = [s.name for s in spec.signals if s.name not in t.columns]
    if missing:
        raise InputError(f"{spec.source}: no column(s) {', '.join(missing)} were computed")
    return t.select(*(t[s.name].cast(IBIS_TYPES[s.type]).name(s.name) for s in spec.signals))


# ---------------------------------------------------------------- I/O edges (DuckDB)


def unbound_tables() -> dict[str, ir.Table]:
    """Every contract table as an Ibis table bound to no engine (for compiling to SQL)."""
    return {
        name: ibis.table({c.name: IBIS_TYPES[c.type] for c in spec.columns}, name=name)
        for name, spec in TABLES.items()
    }


def connect(cfg: FeaturesConfig) -> ibis.BaseBackend:
    """A DuckDB connection in UTC with the configured memory limit (spills beyond it)."""
    con = ibis.duckdb.connect(memory_limit=cfg.engine_memory_limit)
    con.raw_sql("SET TimeZone = 'UTC'")
    return con


def load_tables(raw_dir: Path, con: ibis.BaseBackend) -> dict[str, ir.Table]:
    """Every contract table as a lazy Ibis table over ``<raw_dir>/<table>.parquet``."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise InputError(f"raw data directory not found: {raw_dir}")
    tables: dict[str, ir.Table] = {}
    for name, spec in TABLES.items():
        path = raw_dir / f"{name}.parquet"
        if not path.is_file():
            raise InputError(f"table {name}: file not found: {path}")
        t = con.read_parquet(path, table_name=f"raw_{name}")
        absent = [c for c in spec.required_columns if c not in t.columns]
        if absent:
            raise InputError(f"table {name}: missing column(s) {', '.join(absent)} in {path}")
        tables[name] = with_optional_columns(t, name)
    return tables


def with_optional_columns(t: ir.Table, name: str) -> ir.Table:
    """``t`` with every optional contract column it lacks added as all-missing.

    An export written before ``churn_events.resumed_ts`` existed has no resumption: a
    missing column means "never resumed", which is exactly a column of nulls, so the
    expressions need no second code path.
    """
    fills = {
        c.name: ibis.null(IBIS_TYPES[c.type])
        for c in TABLES[name].columns
        if c.optional and c.name not in t.columns
    }
    return t.mutate(**fills) if fills else t


_SENTINEL = date(2999, 1, 1)  # stands for as_of in the compiled template
HISTORY_TABLE = "_snapshot_history"


def _literal_sql(con: ibis.BaseBackend, as_of: date) -> str:
    """How the engine's SQL spells the as_of instant (as in the compiled plan)."""
    sql = con.compile(at(as_of).name("v"))
    return sql.removeprefix("SELECT ").rsplit(" AS ", 1)[0]


def prepare_snapshots_sql(
    con: ibis.BaseBackend,
    tables: dict[str, ir.Table],
    as_of_dates: Sequence[date],
    cfg: FeaturesConfig,
    rules: RulesConfig,
) -> str:
    """The SQL of :func:`snapshots_expr`, compiled once instead of once per date.

    Side effect: creates the temporary table ``_snapshot_history`` on ``con``.

    Ibis spends about a second building and compiling one date's plan; 24 dates would
    spend more time there than in the engine. So the history (shared by all dates) is
    materialised once as a temporary table, the per-date plan is compiled once with an
    Ibis parameter for as_of (every time bound in it is ``as_of - INTERVAL n DAY``) and
    instantiated per date by swapping that one literal; the branches are one UNION ALL.
    ``tests/features/test_snapshot.py`` checks it equals :func:`snapshots_expr`.
    """
    dates = sorted(set(as_of_dates))
    if not dates:
        raise InputError("as_of: no dates to build")
    spec = spec_of(cfg)
    history_sql = con.compile(history_expr(spec, tables, dates))
    con.raw_sql(f"CREATE OR REPLACE TEMP TABLE {HISTORY_TABLE} AS {history_sql}")
    param = ibis.param(AS_OF_TYPE)
    plan = snapshot_expr(tables, param, cfg, rules, con.table(HISTORY_TABLE))
    template = con.compile(plan, params={param: utc_midnight(_SENTINEL)})
    token = _literal_sql(con, _SENTINEL)
    if token not in template:  # pragma: no cover - would mean the compiler changed
        raise RuntimeError("prepare_snapshots_sql: as_of literal not found in the compiled plan")
    branches = [f"SELECT * FROM ({template.replace(token, _literal_sql(con, d))})" for d in dates]
    # Ibis drops casts it believes redundant; pin the spec's types in the engine's SQL.
    columns = ", ".join(
        f'CAST("{s.name}" AS {SQL_TYPES[s.type]}) AS "{s.name}"' for s in spec.signals
    )
    union = " UNION ALL ".join(branches)
    return f'SELECT {columns} FROM ({union}) ORDER BY "as_of", "client_id"'


def _snapshots_query(
    raw_dir: Path, as_of_dates: Sequence[date], cfg: Config
) -> tuple[ibis.BaseBackend, str]:
    con = connect(cfg.features)
    tables = load_tables(raw_dir, con)
    return con, prepare_snapshots_sql(con, tables, as_of_dates, cfg.features, cfg.rules)


def build_snapshots(raw_dir: Path, as_of_dates: Sequence[date], cfg: Config) -> pd.DataFrame:
    """All snapshots as one pandas frame (for tests and small bases; big ones: write_snapshots)."""
    con, sql = _snapshots_query(raw_dir, as_of_dates, cfg)
    try:
        return con.con.sql(sql).to_arrow_table().to_pandas()
    finally:
        con.disconnect()


def write_snapshots(raw_dir: Path, as_of_dates: Sequence[date], cfg: Config, out: Path) -> int:
    """Stream all snapshots into one Parquet file (DuckDB COPY); returns the row count.

    DuckDB streams the query into the file, spilling to disk beyond
    ``features.engine_memory_limit``; events never pass through pandas. The file records
    the raw directory's digest (:mod:`features.provenance`) so training can check it
    labels from the same export.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    con, sql = _snapshots_query(raw_dir, as_of_dates, cfg)
    # DuckDB's own bar: the query over every date is one statement (not inside a bar of
    # ours, e.g. the weekly run's steps: two drawings on one line tear each other)
    if on_terminal() and not bar_on_screen():
        con.raw_sql("SET enable_progress_bar = true")
    target = out.as_posix().replace("'", "''")
    kv = ", ".join(
        f"'{k}': '{v.replace(chr(39), chr(39) * 2)}'" for k, v in kv_metadata(raw_dir).items()
    )
    try:
        con.raw_sql(
            f"COPY ({sql}) TO '{target}' (FORMAT PARQUET, COMPRESSION ZSTD, KV_METADATA {{{kv}}})"
        )
    finally:
        con.disconnect()
    return pq.ParquetFile(out).metadata.num_rows
