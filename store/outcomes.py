"""Call outcomes from the call-scheduling system: validated, idempotent, all-or-nothing.

Every row carries the caller's own ``outcome_id``; sending the same id again (a retry after
a timeout) is acknowledged as "already known" and stores nothing new, so the scheduler can
retry freely. A batch is checked completely before anything is written and written in one
transaction, so a bad row means nothing of its batch is stored. ``recently_called`` is what
the weekly call list uses to leave out clients reached in the last few weeks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from churn.errors import InputError
from store.db import write_transaction
from store.schema import outcomes

RESULTS = ("retained", "declined", "callback", "churned", "no_answer")
FIELDS = ("outcome_id", "client_id", "called_on", "reached", "result", "note")
MAX_ID_LEN = 128
MAX_NOTE_LEN = 4000


def validate_outcome(row: Any, where: str = "outcome") -> dict[str, Any]:
    """One outcome as stored, or InputError naming the field (``where`` prefixes it)."""
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected an object with {', '.join(FIELDS)}")
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown field")
    for field in FIELDS[:-1]:
        if row.get(field) is None:
            raise InputError(f"{where}.{field}: required")
    oid = row["outcome_id"]
    if not isinstance(oid, str) or not oid.strip() or len(oid) > MAX_ID_LEN:
        raise InputError(f"{where}.outcome_id: expected a non-empty text of at most {MAX_ID_LEN}")
    cid = row["client_id"]
    if isinstance(cid, bool) or not isinstance(cid, int) or cid < 0:
        raise InputError(f"{where}.client_id: expected a non-negative integer, got {cid!r}")
    called_on = _date(row["called_on"], f"{where}.called_on")
    if not isinstance(row["reached"], bool):
        raise InputError(f"{where}.reached: expected true or false, got {row['reached']!r}")
    if row["result"] not in RESULTS:
        raise InputError(f"{where}.result: expected one of {'|'.join(RESULTS)}")
    note = row.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_LEN):
        raise InputError(f"{where}.note: expected a text of at most {MAX_NOTE_LEN} characters")
    return {
        "outcome_id": oid,
        "client_id": cid,
        "called_on": called_on,
        "reached": row["reached"],
        "result": row["result"],
        "note": note,
    }


def _date(value: Any, field: str) -> date:
    if isinstance(value, datetime):
        raise InputError(f"{field}: expected a date YYYY-MM-DD, got a date-time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(f"{field}: expected a date YYYY-MM-DD, got {value!r}")


def _insert_ignore(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(outcomes).on_conflict_do_nothing(index_elements=["outcome_id"])
    if dialect == "sqlite":
        return sqlite.insert(outcomes).on_conflict_do_nothing(index_elements=["outcome_id"])
    raise InputError(f"store: unsupported database {dialect!r}")  # pragma: no cover


def add_outcomes(engine: Engine, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Store a batch of outcomes; returns ``(inserted, already_known)``.

    Idempotent by ``outcome_id`` (also when two posters race with the same id), and
    all-or-nothing: every row is validated before the single transaction starts.
    """
    if not isinstance(rows, list):
        raise InputError("outcomes: expected a list")
    clean = [validate_outcome(r, f"outcomes[{i}]") for i, r in enumerate(rows)]
    received_at = datetime.now(UTC)
    inserted = 0
    # in outcome_id order: two batches sharing ids then lock them in the same order, so
    # concurrent posters queue on PostgreSQL instead of deadlocking on each other's rows
    ordered = sorted(clean, key=lambda r: r["outcome_id"])
    with write_transaction(engine) as conn:
        stmt = _insert_ignore(engine.dialect.name).returning(outcomes.c.outcome_id)
        for row in ordered:  # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT
            got = conn.execute(stmt, {**row, "received_at": received_at}).first()
            inserted += got is not None
    return inserted, len(clean) - inserted


def _frame(rows: list[Any]) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in outcomes.columns])
    frame["called_on"] = pd.to_datetime(frame["called_on"]).astype("datetime64[us]")
    frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True)
    return frame


def outcomes_for(engine: Engine, client_id: int) -> list[dict[str, Any]]:
    """The client's recorded outcomes, oldest call first."""
    query = (
        sa.select(outcomes)
        .where(outcomes.c.client_id == int(client_id))
        .order_by(outcomes.c.called_on, outcomes.c.received_at, outcomes.c.outcome_id)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        if row["received_at"].tzinfo is None:
            row["received_at"] = row["received_at"].replace(tzinfo=UTC)
    return rows


def read_outcomes(engine: Engine) -> pd.DataFrame:
    """Every recorded outcome as a table (``called_on`` day, ``received_at`` UTC)."""
    query = sa.select(outcomes).order_by(outcomes.c.called_on, outcomes.c.outcome_id)
    with engine.connect() as conn:
        return _frame(list(conn.execute(query)))


def count_outcomes(engine: Engine) -> int:
    """How many outcomes are stored."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(outcomes)).scalar_one())


def recently_called(engine: Engine, as_of: date, days: int) -> set[int]:
    """Clients reached on a call within ``[as_of - days, as_of)``."""
    if days < 0:
        raise InputError(f"recall_after_days: expected a non-negative number, got {days}")
    query = (
        sa.select(outcomes.c.client_id)
        .where(
            outcomes.c.reached.is_(True),
            outcomes.c.called_on >= as_of - timedelta(days=days),
            outcomes.c.called_on < as_of,
        )
        .distinct()
    )
    with engine.connect() as conn:
        return {int(v) for v in conn.execute(query).scalars()}
