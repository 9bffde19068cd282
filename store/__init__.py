"""The score store: every week's scores, call list, call outcomes and API keys in one database.

The service and the weekly run share this store instead of a Parquet file, so the service
sees a new week without a restart and remembers earlier weeks (history, "what changed").
SQLAlchemy 2 Core on SQLite by default (WAL: the service reads while a weekly run writes) or
PostgreSQL with the same code; the schema is managed by Alembic migrations run by
:func:`store.db.connect`, never by ``create_all``. Modules: ``db`` (URL, engine, write
transactions), ``schema`` (the tables), ``weeks``, ``outcomes``, ``keys``.
"""
