"""Weekly scores and call lists: write one week in one transaction, read weeks back.

A week is ``(as_of, model_version)``. ``write_week`` deletes and rewrites that pair inside
one transaction, so a rerun replaces rather than duplicates, and a run that is killed or
fails part-way leaves the store exactly as it was (earlier weeks and the week's previous
version stay readable). When a week has been scored by more than one model, readers take
the version written last.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from churn.errors import InputError
from churn.utc import as_utc
from store.db import write_transaction
from store.schema import call_list as call_list_t
from store.schema import weekly_scores, weeks

EVIDENCE = ("full", "limited")
SCORE_REQUIRED = ("client_id", "probability", "risk_band", "rank", "evidence")
SCORE_OPTIONAL = (
    "contact_index",
    "rule_band",
    "drivers",
    "expected_loss_rub",
    "monthly_fee_rub",
    "segment",
    "service_mode",
    "centre_id",
    "name",
    "shap_raw",
)
CALL_REQUIRED = ("client_id", "rank", "selected", "reason")
CALL_OPTIONAL = ("ranking", "expected_profit_rub", "assignment", "propensity", "centre_id")
HISTORY_FIELDS = (
    "as_of",
    "name",
    "probability",
    "risk_band",
    "contact_index",
    "rule_band",
    "model_version",
    "rank",
    "evidence",
)
_CHUNK = 10_000
JSON_COLUMNS = ("drivers",)  # serialised here (_json_text), cast to json on PostgreSQL
# Called inside write_week's transaction, after the scores are inserted (and older weeks'
# SHAP values cleared) and before the call list: the tests install a pause (to SIGKILL a run
# mid-write) or an error here to show that a week is stored whole or not at all. The program
# itself installs nothing.
MID_WRITE_HOOKS: list[Callable[[], None]] = []


@dataclass(frozen=True)
class WeekInfo:
    """One stored week: when it was scored, by which model, how many clients."""

    as_of: date
    model_version: str
    created_at: datetime
    n_clients: int
    snapshot_path: str | None
    status: str


def _columns(
    frame: pd.DataFrame, required: tuple[str, ...], optional: tuple[str, ...], what: str
) -> dict[str, list[Any]]:
    """The rows to insert, column by column as plain Python values (None for missing)."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)}")
    if frame["client_id"].isna().any():
        raise InputError(f"{what}.client_id: missing values")
    dup = frame["client_id"][frame["client_id"].duplicated()]
    if len(dup):
        raise InputError(f"{what}.client_id: duplicated id(s), e.g. {int(dup.iloc[0])}")
    columns: dict[str, list[Any]] = {}
    for col in required + optional:
        if col not in frame.columns:
            columns[col] = [None] * len(frame)
        elif col == "drivers":
            columns[col] = _json_column(frame[col].tolist(), f"{what}.{col}")
        else:
            columns[col] = _column_values(frame[col])
    for col in required:
        if any(v is None for v in columns[col]):
            raise InputError(f"{what}.{col}: missing values")
    return columns


def _column_values(column: pd.Series) -> list[Any]:
    """A column as plain Python values, missing ones as None (whole-column conversions:
    a week is 100 000 rows, so no per-cell pandas calls)."""
    missing = column.isna().to_numpy(dtype=bool)
    if column.dtype.kind in "biuf" and not missing.any():
        return column.to_numpy().tolist()
    values = column.astype(object).tolist()
    return [None if m else _native(v) for v, m in zip(values, missing, strict=True)]


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _json_text(value: Any) -> str | None:
    """Drivers as JSON text, serialised once here (numpy scalars and arrays, dates become
    JSON values); the bulk insert binds it as text into the JSON column. Text is JSON
    already written (``serving.drivers.TopDrivers.json_texts``): see :func:`_json_column`."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, default=_json_default, ensure_ascii=False)


class JsonText(str):
    """Text that is one JSON value by construction (``serving.drivers`` writes it, tested
    equal to ``json.dumps``): stored as is, without the parse that other text gets."""

    __slots__ = ()


def _json_column(values: list[Any], what: str) -> list[str | None]:
    """Every cell as JSON text; cells given as plain text must each be one JSON value
    (checked in one parse of them all: SQLite would store anything, and reads would fail
    later). :class:`JsonText` cells are trusted."""
    texts = [_json_text(v) for v in values]
    given = [
        t
        for t, v in zip(texts, values, strict=True)
        if isinstance(v, str) and type(v) is not JsonText
    ]
    if given:
        try:
            parsed = json.loads("[" + ",".join(given) + "]")
        except ValueError as exc:
            raise InputError(f"{what}: not JSON text ({exc})") from None
        if len(parsed) != len(given):
            raise InputError(f"{what}: a cell holds more than one JSON value")
    return texts


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, date | datetime | pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"drivers: cannot store a {type(value).__name__} as JSON")


def write_week(
    engine: Engine,
    *,
    as_of: date,
    model_version: str,
    scores: pd.DataFrame,
    call_list: pd.DataFrame,
    snapshot_path: str | None,
    shap_weeks: int | None = None,
) -> None:
    """Store one week's scores and call list in one transaction, replacing the same
    ``(as_of, model_version)`` if it was written before.

    ``shap_weeks`` (``store.shap_weeks``): in the same transaction, clear the stored SHAP
    values of every week older than the newest ``shap_weeks`` stored weeks
    (:func:`prune_shap`); ``None`` keeps them all."""
    if shap_weeks is not None and shap_weeks < 1:
        raise InputError(f"store.shap_weeks: expected a positive number, got {shap_weeks}")
    model_version = str(model_version)
    if "client_id" in scores.columns:  # in key order: b-tree appends, not random inserts
        scores = scores.sort_values("client_id", kind="stable")
    score_cols = _columns(scores, SCORE_REQUIRED, SCORE_OPTIONAL, "scores")
    bad = set(score_cols["evidence"]) - set(EVIDENCE)
    if bad:
        raise InputError(f"scores.evidence: expected 'full' or 'limited', got {sorted(bad)[0]!r}")
    call_cols = _columns(call_list, CALL_REQUIRED, CALL_OPTIONAL, "call_list")
    n_clients = len(scores)
    key = {"as_of": as_of, "model_version": model_version}
    with write_transaction(engine) as conn:
        for table in (call_list_t, weekly_scores, weeks):
            conn.execute(
                sa.delete(table).where(
                    table.c.as_of == as_of, table.c.model_version == model_version
                )
            )
        conn.execute(
            sa.insert(weeks),
            {
                **key,
                "created_at": datetime.now(UTC),
                "n_clients": n_clients,
                "snapshot_path": snapshot_path,
                "status": "complete",
            },
        )
        _bulk_insert(conn, weekly_scores, key, score_cols)
        if shap_weeks is not None:
            prune_shap(conn, shap_weeks)
        for hook in MID_WRITE_HOOKS:
            hook()
        _bulk_insert(conn, call_list_t, key, call_cols)


def prune_shap(conn: Connection, keep_weeks: int) -> int:
    """Clear ``weekly_scores.shap_raw`` in weeks (by ``as_of``) older than the newest
    ``keep_weeks`` stored ones; the number of rows cleared.

    They cost 8 bytes per feature and client a week (~35 MB per 100 000 clients on
    SQLite) and only ``/explain`` reads them, almost always of the newest weeks; an older
    week without them is explained by computing them from its snapshot, with the same
    answer. Weeks already cleared cost one index probe each, not a scan of their rows.
    On SQLite the freed pages are reused but the file does not shrink (``VACUUM``
    does that)."""
    newest = (
        sa.select(weeks.c.as_of)
        .distinct()
        .order_by(weeks.c.as_of.desc())
        .limit(1)
        .offset(keep_weeks - 1)
    )
    cutoff = conn.execute(newest).scalar()
    if cutoff is None:  # fewer stored weeks than kept
        return 0
    ws = weekly_scores
    older = conn.execute(
        sa.select(weeks.c.as_of, weeks.c.model_version).where(weeks.c.as_of < cutoff)
    ).all()
    cleared = 0
    for as_of, version in older:  # cleared whole: one primary-key probe says if it holds any
        in_week = (ws.c.as_of == as_of, ws.c.model_version == version)
        if conn.execute(sa.select(ws.c.shap_raw.is_not(None)).where(*in_week).limit(1)).scalar():
            done = conn.execute(
                sa.update(ws).where(*in_week, ws.c.shap_raw.is_not(None)).values(shap_raw=None)
            )
            cleared += int(done.rowcount or 0)
    return cleared


def _bulk_insert(
    conn: Connection, table: sa.Table, key: dict[str, Any], columns: dict[str, list[Any]]
) -> None:
    """INSERT the rows through the driver's own executemany, ``key`` in every row.

    A week is 100 000 rows: SQLAlchemy's per-row parameter processing costs more than the
    insert itself, so the values are made plain here (:func:`_columns`) and passed as
    tuples. What its type processors would do is done explicitly: dates as ISO text on
    SQLite (what its ``Date`` type stores), JSON as text (cast to ``json`` on PostgreSQL).
    """
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    pg = dialect.name == "postgresql"
    fixed = dict(key)
    if dialect.name == "sqlite":
        fixed = {k: v.isoformat() if isinstance(v, date) else v for k, v in fixed.items()}
    names = [*fixed, *columns]
    unknown = [n for n in names if n not in table.c]
    if unknown:  # pragma: no cover - the column lists above are the table's
        raise InputError(f"{table.name}: no column {unknown[0]!r}")
    marks = [f"CAST({mark} AS JSON)" if pg and n in JSON_COLUMNS else mark for n in names]
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join(marks)})"
    )
    n = len(next(iter(columns.values()))) if columns else 0
    head = tuple(fixed.values())
    rows = [head + row for row in zip(*columns.values(), strict=True)] if n else []
    for start in range(0, len(rows), _CHUNK):
        conn.exec_driver_sql(sql, rows[start : start + _CHUNK])


def _week(row: Any) -> WeekInfo:
    return WeekInfo(
        as_of=row.as_of,
        model_version=row.model_version,
        created_at=as_utc(row.created_at),
        n_clients=row.n_clients,
        snapshot_path=row.snapshot_path,
        status=row.status,
    )


def _is_current() -> sa.ColumnElement[bool]:
    """True for the version of each week written last (no later row for the same as_of)."""
    newer = weeks.alias("newer")
    return ~sa.exists().where(
        newer.c.as_of == weeks.c.as_of, newer.c.created_at > weeks.c.created_at
    )


def list_weeks(engine: Engine, *, all_versions: bool = False) -> list[WeekInfo]:
    """Stored weeks, oldest first; one per as_of (the version written last) unless
    ``all_versions``."""
    query = sa.select(weeks).order_by(weeks.c.as_of, weeks.c.created_at)
    if not all_versions:
        query = query.where(_is_current())
    with engine.connect() as conn:
        return [_week(r) for r in conn.execute(query)]


def latest_week(engine: Engine) -> WeekInfo | None:
    """The newest stored week (by as_of, then by when it was written), or ``None``."""
    query = sa.select(weeks).order_by(weeks.c.as_of.desc(), weeks.c.created_at.desc()).limit(1)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _week(row) if row else None


def get_week(engine: Engine, as_of: date, model_version: str | None = None) -> WeekInfo | None:
    """The week ``as_of`` (the version written last unless ``model_version``), or ``None``."""
    query = sa.select(weeks).where(weeks.c.as_of == as_of)
    if model_version is not None:
        query = query.where(weeks.c.model_version == str(model_version))
    with engine.connect() as conn:
        row = conn.execute(query.order_by(weeks.c.created_at.desc()).limit(1)).first()
    return _week(row) if row else None


def snapshot_paths(engine: Engine) -> set[str]:
    """Every snapshot file a stored week (any version) points at: what cleaning keeps."""
    query = sa.select(weeks.c.snapshot_path).where(weeks.c.snapshot_path.is_not(None))
    with engine.connect() as conn:
        return {str(v) for v in conn.execute(query).scalars()}


def _frame(rows: list[Any], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    if "as_of" in frame:
        frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
    return frame


def _read_week_rows(
    engine: Engine,
    table: sa.Table,
    as_of: date,
    model_version: str | None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One stored week's rows of ``table`` by rank (only ``columns`` when given); empty
    (with the columns) when not stored."""
    week = get_week(engine, as_of, model_version)
    columns = [c.name for c in table.columns] if columns is None else list(columns)
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise InputError(f"columns: {table.name} has no column {unknown[0]!r}")
    if week is None:
        return _frame([], columns)
    query = (
        sa.select(*(table.c[c] for c in columns))
        .where(table.c.as_of == week.as_of, table.c.model_version == week.model_version)
        .order_by(table.c.rank)
    )
    with engine.connect() as conn:  # fetchall: one driver call, not a fetchone per row
        return _frame(conn.execute(query).fetchall(), columns)


def read_scores(
    engine: Engine,
    as_of: date,
    model_version: str | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """All clients scored in week ``as_of``, by rank; empty when the week is not stored.
    ``columns``: only these (e.g. client_id and risk_band, without parsing the drivers)."""
    return _read_week_rows(engine, weekly_scores, as_of, model_version, columns)


def read_call_list(engine: Engine, as_of: date, model_version: str | None = None) -> pd.DataFrame:
    """Week ``as_of``'s call list by rank (selected and not), empty when not stored."""
    return _read_week_rows(engine, call_list_t, as_of, model_version)


def held_out_since(engine: Engine, as_of: date, days: int) -> set[int]:
    """Clients held out (assignment 'holdout') in a current stored week within
    ``[as_of - days, as_of)``: the control group of an experiment still running. Calling them
    before their horizon has passed would turn the controls into treated clients and pull
    the measured effect of calls towards zero."""
    return _listed_since(engine, as_of, days, call_list_t.c.assignment == "holdout")


def sent_since(engine: Engine, as_of: date, days: int) -> set[int]:
    """Clients sent to the scheduler (``selected``) in a current stored week within
    ``[as_of - days, as_of)``, whatever outcomes arrived for them: they may have been
    called, so none of them can be a clean control now (``serving.holdout``)."""
    return _listed_since(engine, as_of, days, call_list_t.c.selected.is_(True))


def _listed_since(
    engine: Engine, as_of: date, days: int, condition: sa.ColumnElement[bool]
) -> set[int]:
    if days < 0:
        raise InputError(f"holdout_washout_days: expected a non-negative number, got {days}")
    cl = call_list_t
    query = (
        sa.select(cl.c.client_id)
        .join(weeks, (weeks.c.as_of == cl.c.as_of) & (weeks.c.model_version == cl.c.model_version))
        .where(
            condition,
            cl.c.as_of >= as_of - timedelta(days=days),
            cl.c.as_of < as_of,
            _is_current(),
        )
        .distinct()
    )
    with engine.connect() as conn:
        return {int(v) for v in conn.execute(query).scalars()}


def _client_weeks(client_id: int) -> sa.Select:
    ws = weekly_scores
    return (
        sa.select(ws, weeks.c.snapshot_path)
        .join(weeks, (weeks.c.as_of == ws.c.as_of) & (weeks.c.model_version == ws.c.model_version))
        .where(ws.c.client_id == int(client_id), _is_current())
    )


def history(engine: Engine, client_id: int, weeks: int = 26) -> list[dict[str, Any]]:
    """The client's last ``weeks`` stored scores, oldest first (one per week: the version
    written last). Empty for a client never scored."""
    if weeks <= 0:
        raise InputError(f"weeks: expected a positive number, got {weeks}")
    query = _client_weeks(client_id).order_by(weekly_scores.c.as_of.desc()).limit(int(weeks))
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    return [{f: getattr(r, f) for f in HISTORY_FIELDS} for r in reversed(rows)]


def previous_score(engine: Engine, client_id: int, before: date) -> dict[str, Any] | None:
    """The client's stored score in the last week before ``before`` (with its drivers and
    that week's snapshot path), or ``None``."""
    query = (
        _client_weeks(client_id)
        .where(weekly_scores.c.as_of < before)
        .order_by(weekly_scores.c.as_of.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def client_week(
    engine: Engine, as_of: date, model_version: str, client_id: int
) -> dict[str, Any] | None:
    """The client's stored row of week ``(as_of, model_version)`` (one indexed lookup by
    primary key), or ``None`` when the week does not hold the client."""
    ws = weekly_scores
    query = sa.select(ws).where(
        ws.c.as_of == as_of,
        ws.c.model_version == str(model_version),
        ws.c.client_id == int(client_id),
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def scored_clients(engine: Engine, client_ids: list[int]) -> set[int]:
    """Which of ``client_ids`` were scored in any stored week (an indexed lookup per
    chunk of ids: ``(client_id, as_of)``)."""
    ids = sorted({int(c) for c in client_ids})
    found: set[int] = set()
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = (
                sa.select(weekly_scores.c.client_id)
                .where(weekly_scores.c.client_id.in_(chunk))
                .distinct()
            )
            found |= {int(v) for v in conn.execute(query).scalars()}
    return found
