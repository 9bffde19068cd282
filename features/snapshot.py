"""Point-in-time client snapshots as one engine-neutral Ibis expression.

:func:`snapshots_expr` is the core: raw tables in (Ibis), a list of as_of dates, the
features and rules config; out comes one table with exactly the columns of
``features/catalog.py`` (in that order, with those dtypes), one row per client active on
each as_of. Only what was known strictly before as_of is used (see ``features/README.md``).
Several as_of dates are one query (a UNION ALL of per-date plans); every event filter has
literal time bounds, so each plan reads only the row groups its windows need.

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
from churn.progress import on_terminal
from features.catalog import CATALOG, COLUMNS
from features.contract import TABLES
from features.provenance import kv_metadata
from features.rules import add_rule_columns
from features.signals.activity import active_user_signals, login_signals
from features.signals.history import history_signals
from features.signals.money import invoice_signals
from features.signals.profile import active_clients, registered_users, user_counts
from features.signals.relations import contact_signals
from features.signals.services import (
    kit_update_signals,
    newsletter_signals,
    request_signals,
    video_signals,
    webinar_signals,
)
from features.signals.training import certificate_signals
from features.windows import AS_OF_TYPE, AsOf, at, days_since, utc_midnight

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
# Amounts that are truly 0 when a client has no (unpaid) invoice.
ZERO_WHEN_ABSENT_FLOATS = ("open_debt_rub", "overdue_debt_rub")


# ---------------------------------------------------------------- the expression


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
    history = history_signals(tables, dates)
    plans = [snapshot_expr(tables, d, cfg, rules, history) for d in dates]
    union = plans[0] if len(plans) == 1 else ibis.union(*plans, distinct=False)
    return union.order_by(["as_of", "client_id"])


def snapshot_expr(
    tables: dict[str, ir.Table],
    as_of: AsOf,
    cfg: FeaturesConfig,
    rules: RulesConfig,
    history: ir.Table | None = None,
) -> ir.Table:
    """The snapshot as of 00:00 UTC on ``as_of``: one row per active client, catalog columns.

    Pure: tables in, table out. Windowed events are filtered with literal bounds before
    as_of (``features.windows``); last-ever values come from ``history``
    (:func:`features.signals.history.history_signals` over dates including as_of, built
    here for as_of alone when not given). Nothing on or after as_of reaches a value.
    """
    if history is None:
        if isinstance(as_of, ir.Value):
            raise ValueError("snapshot_expr: a parametrised as_of needs the history table")
        history = history_signals(tables, [as_of])
    t = tables
    users_at = registered_users(t["users"], as_of)
    signals = (
        user_counts(users_at),
        login_signals(t["logins"], as_of, cfg),
        active_user_signals(t["logins"], as_of, cfg),
        certificate_signals(t["trainings"], users_at, as_of, cfg),
        webinar_signals(t["webinars"], as_of, cfg),
        request_signals(t["service_requests"], as_of, cfg),
        newsletter_signals(t["newsletter_events"], as_of, cfg),
        video_signals(t["video_clicks"], as_of, cfg),
        kit_update_signals(t["kit_updates"], as_of, cfg),
        invoice_signals(t["invoices"], as_of),
        contact_signals(t["contacts"], as_of, cfg),
        history.filter(history.as_of == at(as_of)).drop("as_of"),
    )
    joined = active_clients(t["clients"], t["churn_events"], as_of)
    for i, signal in enumerate(signals):  # one flat chain of left joins on client_id
        joined = joined.left_join(signal, "client_id", rname=f"{{name}}_{i}")
    flat = joined.drop(*(f"client_id_{i}" for i in range(len(signals))))
    snap = _derive(_fill_absent(flat), as_of, cfg).mutate(as_of=at(as_of))
    return conform(add_rule_columns(snap, rules))


def _fill_absent(t: ir.Table) -> ir.Table:
    """No event row means 0 events (zero is the truth); timestamps and labels stay missing."""
    fills = {
        name: t[name].fill_null(0)
        for name, typ in t.schema().items()
        if typ.is_integer() and name not in ("client_id", "tenure_days")
    }
    fills.update({name: t[name].fill_null(0.0) for name in ZERO_WHEN_ABSENT_FLOATS})
    return t.mutate(**fills)


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """num / den, missing (NaN) when den is 0."""
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), ibis.null("float64"))


def _derive(t: ir.Table, as_of: AsOf, cfg: FeaturesConfig) -> ir.Table:
    """Signals that combine several aggregates: ratios, norms, days since, renewal."""
    base_per_recent = cfg.trend_base_days / cfg.trend_recent_days
    norm = ibis.cases(
        *((t.category == cat, ibis.literal(float(v))) for cat, v in cfg.training_norm.items()),
        else_=ibis.null("float64"),
    )
    norm_met = (t.n_users > 0) & (t._valid_users >= norm * t.n_users - 1e-9)
    paid_end = t._last_paid_period_end
    never_billed = t._first_invoice_ts.isnull() | (t._first_invoice_ts >= at(as_of))
    renewal = ibis.cases(
        (never_billed, 0),  # no payment period known yet
        (paid_end.isnull(), 1),  # billed, nothing paid: the payment is due now
        (paid_end <= at(as_of, -cfg.renewal_window_days), 1),
        else_=0,
    )

    def since(ts: ir.TimestampValue) -> ir.FloatingValue:
        return days_since(as_of, ts).cast("float64")

    return t.mutate(
        login_trend=_ratio(t._trend_recent, t._trend_base / base_per_recent),
        training_coverage=_ratio(t._valid_users, t.n_users),
        training_norm_met=norm_met.fill_null(False).cast("int64"),
        days_since_training=since(t._last_training_ts),
        newsletter_bounce_share_90d=_ratio(t._bounced, t._sent),
        days_overdue=days_since(as_of, t._oldest_overdue_due).fill_null(0),
        renewal_period_arrived=renewal.cast("int64"),
        days_since_competitor_check=since(t._last_check_ts),
        days_since_contact=since(t._last_contact_ts),
    )


def conform(t: ir.Table) -> ir.Table:
    """Exactly the catalog columns, in catalog order, with catalog dtypes."""
    missing = [c for c in COLUMNS if c not in t.columns]
    if missing:
        raise InputError(
            f"features config: no column(s) {', '.join(missing)}; the windows in the "
            "column names (features/catalog.py) must match the features config"
        )
    return t.select(*(t[f.name].cast(IBIS_TYPES[f.dtype]).name(f.name) for f in CATALOG))


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
    history_sql = con.compile(history_signals(tables, dates))
    con.raw_sql(f"CREATE OR REPLACE TEMP TABLE {HISTORY_TABLE} AS {history_sql}")
    param = ibis.param(AS_OF_TYPE)
    plan = snapshot_expr(tables, param, cfg, rules, con.table(HISTORY_TABLE))
    template = con.compile(plan, params={param: utc_midnight(_SENTINEL)})
    token = _literal_sql(con, _SENTINEL)
    if token not in template:  # pragma: no cover - would mean the compiler changed
        raise RuntimeError("prepare_snapshots_sql: as_of literal not found in the compiled plan")
    branches = [f"SELECT * FROM ({template.replace(token, _literal_sql(con, d))})" for d in dates]
    # Ibis drops casts it believes redundant; pin the catalog types in the engine's SQL.
    columns = ", ".join(f'CAST("{f.name}" AS {SQL_TYPES[f.dtype]}) AS "{f.name}"' for f in CATALOG)
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
    if on_terminal():  # DuckDB's own bar: the query over every date is one statement
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
