"""Call outcomes from the call-scheduling system: validated, idempotent, all-or-nothing.

Every row carries the caller's own ``outcome_id``, which names one call. Sending the same
row again (a retry after a timeout) is acknowledged as "already known" and stores nothing
new, so the scheduler can retry freely; sending the id again with *different* content is
refused (:class:`churn.errors.Conflict`, 409 from the service) rather than dropped, and so
is a batch holding two different rows under one id (``InputError``, 400): which of the two
is the call is the caller's to say. A batch is checked completely before anything is
written and written in one transaction, so a bad or conflicting row means nothing of its
batch is stored. Texts may not hold a NUL character (PostgreSQL cannot store one; SQLite
is refused the same way). ``recently_called`` is what the weekly call list uses to leave
out clients reached in the last few weeks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from churn.errors import SHOWN_CHARS, Conflict, InputError, shown
from store.db import write_transaction
from store.schema import outcomes

RESULTS = ("retained", "declined", "callback", "churned", "no_answer")
FIELDS = ("outcome_id", "client_id", "called_on", "reached", "result", "note")
MAX_ID_LEN = 128
MAX_NOTE_LEN = 4000


def validate_outcome(
    row: Any, where: str = "outcome", called_on_range: tuple[date, date] | None = None
) -> dict[str, Any]:
    """One outcome as stored, or InputError naming the field (``where`` prefixes it) and a
    short prefix of the value. ``called_on_range`` is the inclusive range of sane call days
    (the service's: the client base's start to today plus a small tolerance)."""
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected an object with {', '.join(FIELDS)}")
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise InputError(f"{where}.{unknown[0][:SHOWN_CHARS]}: unknown field")
    for field in FIELDS[:-1]:
        if row.get(field) is None:
            raise InputError(f"{where}.{field}: required")
    oid = row["outcome_id"]
    if not isinstance(oid, str) or not oid.strip() or len(oid) > MAX_ID_LEN:
        raise InputError(f"{where}.outcome_id: expected a non-empty text of at most {MAX_ID_LEN}")
    _no_nul(oid, f"{where}.outcome_id")
    cid = row["client_id"]
    if isinstance(cid, bool) or not isinstance(cid, int) or cid < 0:
        raise InputError(f"{where}.client_id: expected a non-negative integer, got {shown(cid)}")
    called_on = _date(row["called_on"], f"{where}.called_on")
    if called_on_range is not None and not called_on_range[0] <= called_on <= called_on_range[1]:
        first, last = called_on_range
        raise InputError(
            f"{where}.called_on: {called_on.isoformat()} is outside the sane range "
            f"{first.isoformat()} (the client base's start) to {last.isoformat()}"
        )
    if not isinstance(row["reached"], bool):
        raise InputError(f"{where}.reached: expected true or false, got {shown(row['reached'])}")
    if row["result"] not in RESULTS:
        raise InputError(
            f"{where}.result: expected one of {'|'.join(RESULTS)}, got {shown(row['result'])}"
        )
    note = row.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_LEN):
        raise InputError(f"{where}.note: expected a text of at most {MAX_NOTE_LEN} characters")
    if note is not None:
        _no_nul(note, f"{where}.note")
    return {
        "outcome_id": oid,
        "client_id": cid,
        "called_on": called_on,
        "reached": row["reached"],
        "result": row["result"],
        "note": note,
    }


def _no_nul(text: str, field: str) -> None:
    if "\x00" in text:
        at = text.index("\x00")
        raise InputError(
            f"{field}: contains a NUL character at position {at} ({shown(text)}); "
            "texts cannot hold one"
        )


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
    raise InputError(f"{field}: expected a date YYYY-MM-DD, got {shown(value)}")


def _insert_ignore(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(outcomes).on_conflict_do_nothing(index_elements=["outcome_id"])
    if dialect == "sqlite":
        return sqlite.insert(outcomes).on_conflict_do_nothing(index_elements=["outcome_id"])
    raise InputError(f"store: unsupported database {dialect!r}")  # pragma: no cover


CONTENT = FIELDS[1:]  # what an outcome_id stands for: the same id must mean the same call


def _one_row_per_id(clean: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """``(position, row)`` per distinct id (an identical repeat is a retry inside the batch:
    kept once); two different rows under one id → InputError naming both positions."""
    first: dict[str, int] = {}
    out: list[tuple[int, dict[str, Any]]] = []
    for i, row in enumerate(clean):
        j = first.setdefault(row["outcome_id"], i)
        if j == i:
            out.append((i, row))
            continue
        field = _differs(clean[j], row)
        if field is not None:
            raise InputError(
                f"outcomes[{i}].outcome_id: {shown(row['outcome_id'])} is also outcomes[{j}] "
                f"with a different {field}; one id names one call, send one row for it"
            )
    return out


def _differs(stored: dict[str, Any], row: dict[str, Any]) -> str | None:
    """The first field in which two outcomes under one id differ (None: the same call)."""
    for field in CONTENT:
        a, b = stored[field], row[field]
        if field == "called_on":
            a, b = _date(a, field), _date(b, field)
        if a != b:
            return field
    return None


def add_outcomes(
    engine: Engine,
    rows: list[dict[str, Any]],
    *,
    called_on_range: tuple[date, date] | None = None,
) -> tuple[int, int]:
    """Store a batch of outcomes; returns ``(inserted, already_known)``.

    Idempotent by ``outcome_id`` (also when two posters race with the same id) for the same
    content; an id already stored with other content raises :class:`Conflict` and nothing
    of the batch is stored. All-or-nothing: every row is validated before the single
    transaction starts.
    """
    if not isinstance(rows, list):
        raise InputError("outcomes: expected a list")
    clean = [validate_outcome(r, f"outcomes[{i}]", called_on_range) for i, r in enumerate(rows)]
    distinct = _one_row_per_id(clean)
    received_at = datetime.now(UTC)
    # in outcome_id order: two batches sharing ids then lock them in the same order, so
    # concurrent posters queue on PostgreSQL instead of deadlocking on each other's rows
    ordered = sorted(distinct, key=lambda pr: pr[1]["outcome_id"])
    known: list[tuple[int, dict[str, Any]]] = []
    with write_transaction(engine) as conn:
        stmt = _insert_ignore(engine.dialect.name).returning(outcomes.c.outcome_id)
        for pos, row in ordered:  # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT
            if conn.execute(stmt, {**row, "received_at": received_at}).first() is None:
                known.append((pos, row))
        _check_known(conn, known)  # raises Conflict: the transaction rolls back
    inserted = len(distinct) - len(known)
    return inserted, len(clean) - inserted


def _check_known(conn: Any, known: list[tuple[int, dict[str, Any]]]) -> None:
    """Ids that were stored already must hold the same call, else :class:`Conflict`."""
    if not known:
        return
    stored: dict[str, dict[str, Any]] = {}
    ids = [row["outcome_id"] for _, row in known]
    for start in range(0, len(ids), 500):
        query = sa.select(outcomes).where(outcomes.c.outcome_id.in_(ids[start : start + 500]))
        stored.update({r.outcome_id: dict(r._mapping) for r in conn.execute(query)})
    for pos, row in sorted(known, key=lambda pr: pr[0]):
        field = _differs(stored[row["outcome_id"]], row)
        if field is not None:
            raise Conflict(
                f"outcomes[{pos}].outcome_id: {shown(row['outcome_id'])} is already recorded "
                f"with a different {field}; one id names one call (nothing of this batch "
                "was stored)"
            )


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
