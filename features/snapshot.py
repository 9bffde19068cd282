"""Point-in-time client snapshots as one engine-neutral Ibis expression.

:func:`snapshots_expr` is the core: raw tables in (Ibis), a list of as_of dates, the
features and rules config; out comes one table with exactly the columns of
``features/catalog.py`` (in that order, with those dtypes), one row per client active on
each as_of. Only what was known strictly before as_of is used (see ``features/README.md``).
All as_of dates are computed in one query: each raw table is scanned once and its events
are paired with the dates they are visible from, which is what makes 12 monthly
snapshots cost about as much as one.

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
from features.catalog import CATALOG, COLUMNS
from features.contract import TABLES
from features.rules import add_rule_columns
from features.signals.activity import login_signals
from features.signals.money import invoice_signals
from features.signals.profile import active_clients, registered_users, user_counts
from features.signals.relations import competitor_signals, contact_signals
from features.signals.services import (
    kit_update_signals,
    newsletter_signals,
    request_signals,
    video_signals,
    webinar_signals,
)
from features.signals.training import certificate_signals, last_training
from features.windows import AS_OF_TYPE, as_of_table, attach, days_before, days_between

IBIS_TYPES = {"int": "int64", "float": "float64", "str": "string", "ts": AS_OF_TYPE}
# Amounts that are truly 0 when a client has no (unpaid) invoice.
ZERO_WHEN_ABSENT_FLOATS = ("open_debt_rub", "overdue_debt_rub")


# ---------------------------------------------------------------- the expression


def snapshots_expr(
    tables: dict[str, ir.Table],
    as_of_dates: Sequence[date],
    cfg: FeaturesConfig,
    rules: RulesConfig,
) -> ir.Table:
    """Snapshots of every active client for every date in ``as_of_dates``, catalog columns."""
    dates = as_of_table(as_of_dates)
    t = tables
    grid = active_clients(t["clients"], t["churn_events"], dates)
    users_at = registered_users(t["users"], dates)
    signals = (
        user_counts(users_at),
        login_signals(t["logins"], dates, cfg),
        certificate_signals(t["trainings"], users_at, dates, cfg),
        last_training(t["trainings"], dates),
        webinar_signals(t["webinars"], dates, cfg),
        request_signals(t["service_requests"], dates, cfg),
        newsletter_signals(t["newsletter_events"], dates, cfg),
        video_signals(t["video_clicks"], dates, cfg),
        kit_update_signals(t["kit_updates"], dates, cfg),
        invoice_signals(t["invoices"], dates),
        competitor_signals(t["competitor_checks"], dates),
        contact_signals(t["contacts"], dates, cfg),
    )
    for signal in signals:
        grid = attach(grid, signal)
    snap = add_rule_columns(_derive(_fill_absent(grid), cfg), rules)
    return conform(snap).order_by(["as_of", "client_id"])


def snapshot_expr(
    tables: dict[str, ir.Table], as_of: date, cfg: FeaturesConfig, rules: RulesConfig
) -> ir.Table:
    """The snapshot of one as_of (see :func:`snapshots_expr`)."""
    return snapshots_expr(tables, [as_of], cfg, rules)


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


def _days_since(t: ir.Table, ts: ir.TimestampValue) -> ir.FloatingValue:
    return days_between(t.as_of, ts).cast("float64")


def _derive(t: ir.Table, cfg: FeaturesConfig) -> ir.Table:
    """Signals that combine several aggregates: ratios, norms, days since, renewal."""
    base_per_recent = cfg.trend_base_days / cfg.trend_recent_days
    norm = ibis.cases(
        *((t.category == cat, ibis.literal(float(v))) for cat, v in cfg.training_norm.items()),
        else_=ibis.null("float64"),
    )
    norm_met = (t.n_users > 0) & (t._valid_users >= norm * t.n_users - 1e-9)
    paid_end = t._last_paid_period_end
    renewal = ibis.cases(
        (t._n_invoices == 0, 0),  # never billed: no payment period known yet
        (paid_end.isnull(), 1),  # billed, nothing paid: the payment is due now
        (paid_end <= days_before(t.as_of, -cfg.renewal_window_days), 1),
        else_=0,
    )
    return t.mutate(
        login_trend=_ratio(t._trend_recent, t._trend_base / base_per_recent),
        training_coverage=_ratio(t._valid_users, t.n_users),
        training_norm_met=norm_met.fill_null(False).cast("int64"),
        days_since_training=_days_since(t, t._last_training_ts),
        newsletter_bounce_share_90d=_ratio(t._bounced, t._sent),
        days_overdue=days_between(t.as_of, t._oldest_overdue_due).fill_null(0),
        renewal_period_arrived=renewal.cast("int64"),
        days_since_competitor_check=_days_since(t, t._last_check_ts),
        days_since_contact=_days_since(t, t._last_contact_ts),
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
        absent = [c for c in spec.column_names if c not in t.columns]
        if absent:
            raise InputError(f"table {name}: missing column(s) {', '.join(absent)} in {path}")
        tables[name] = t
    return tables


def build_snapshots(raw_dir: Path, as_of_dates: list[date], cfg: Config) -> pd.DataFrame:
    """All snapshots as one pandas frame (for tests and small bases; big ones: write_snapshots)."""
    con = connect(cfg.features)
    expr = snapshots_expr(load_tables(raw_dir, con), as_of_dates, cfg.features, cfg.rules)
    return con.to_pandas(expr)


def write_snapshots(raw_dir: Path, as_of_dates: list[date], cfg: Config, out: Path) -> int:
    """Stream all snapshots into one Parquet file (DuckDB COPY); returns the row count."""
    con = connect(cfg.features)
    expr = snapshots_expr(load_tables(raw_dir, con), as_of_dates, cfg.features, cfg.rules)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    con.to_parquet(expr, out)
    return pq.ParquetFile(out).metadata.num_rows
