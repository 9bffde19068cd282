"""Where the store is and how to open it: URL, engine, migrations, write transactions.

``connect`` upgrades the schema to the newest Alembic revision the first time a process
opens a store (once per URL per process: the service opens connections per request, and
running Alembic each time would cost tens of milliseconds for nothing), so a fresh file, an
old file and a PostgreSQL database all end up with the same tables and nothing relies on
``create_all`` at import. SQLite is opened in WAL mode with a busy
timeout (readers never block the weekly writer, writers queue instead of failing), and
write transactions start with ``BEGIN IMMEDIATE`` so that two writers never deadlock on
upgrading a read lock; reads stay plain deferred transactions that never take a write lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from churn.config import Config
from churn.environment import environment
from churn.errors import InputError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_IMMEDIATE = "churn_store_begin_immediate"
# URLs this process has migrated to head already (connect() upgrades each only once)
_MIGRATED: set[str] = set()
_MIGRATE_LOCK = threading.Lock()


def store_url(cfg: Config) -> str:
    """``CHURN_STORE_URL`` if set, else ``store.url`` from the config, else the SQLite file
    ``paths.store_path`` (``data/store.db``; re-rooted by ``PathsConfig.under``)."""
    if env := environment().store_url:
        return env
    if cfg.store.url:
        return cfg.store.url
    return f"sqlite:///{cfg.paths.store_path}"


def open_store(cfg: Config) -> Engine:
    """The configured store (``store_url``), migrated; what commands and the service open."""
    return connect(store_url(cfg), busy_timeout_s=cfg.store.busy_timeout_s)


def connect(url: str, *, busy_timeout_s: float = 30.0, migrate: bool = True) -> Engine:
    """An engine on ``url`` with the schema upgraded to the newest migration (the first
    time this process connects to ``url``; later calls skip Alembic).

    Open one engine per process and share it (it holds a connection pool). ``busy_timeout_s``
    is how long a SQLite writer waits for another writer before giving up.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise InputError(f"store url: not a database URL: {url!r}") from None
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            raise InputError("store url: an in-memory SQLite store cannot be shared; name a file")
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": busy_timeout_s}
    else:
        kwargs["pool_pre_ping"] = True
    engine = sa.create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _sqlite_events(engine, busy_timeout_s)
    if migrate:
        _upgrade_once(engine, parsed)
    return engine


def _upgrade_once(engine: Engine, parsed: sa.URL) -> None:
    """Upgrade unless this process already did for this URL (and, for SQLite, the file is
    still there: a deleted file is a new, empty store)."""
    key = parsed.render_as_string(hide_password=False)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "").expanduser().resolve()
        key = f"sqlite:///{path}"
        if not path.exists():
            _MIGRATED.discard(key)
    with _MIGRATE_LOCK:
        if key in _MIGRATED:
            return
        upgrade(engine)
        _MIGRATED.add(key)


def _sqlite_events(engine: Engine, busy_timeout_s: float) -> None:
    """WAL + busy timeout on every connection; SQLAlchemy, not pysqlite, emits BEGIN."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite must not BEGIN on its own
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode except on power loss
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.info.pop(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back on any error.

    On SQLite it takes the write lock up front (``BEGIN IMMEDIATE``), so concurrent writers
    wait their turn (busy timeout) rather than failing half-way; on PostgreSQL it is an
    ordinary READ COMMITTED transaction.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.info[_IMMEDIATE] = True
        with conn.begin():
            yield conn


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` inside one write transaction.

    Concurrent first connections are safe: SQLite serialises them on the write lock, and on
    PostgreSQL a transaction-scoped advisory lock does the same, so the second process finds
    the schema already at head.
    """
    from alembic import command
    from alembic.config import Config as AlembicConfig

    with write_transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(72617269)")
        acfg = AlembicConfig()
        acfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        acfg.attributes["connection"] = conn
        command.upgrade(acfg, revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the store is at (``None`` before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
