"""Alembic environment: migrations run on the connection handed over by ``store.db.upgrade``.

There is no ``alembic.ini`` and no URL here on purpose: the store's URL comes from the
project config (``store.db.store_url``), and ``upgrade`` owns the transaction.
"""

from __future__ import annotations

from alembic import context

from store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running the alembic CLI by hand
    raise SystemExit("run migrations through store.db.connect(url), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    transactional_ddl=True,
)
with context.begin_transaction():  # joins the caller's open transaction
    context.run_migrations()
