"""The schema comes from the Alembic migrations, on both backends, and matches store.schema."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from store.db import connect, current_revision
from store.schema import metadata

TABLES = {"weeks", "weekly_scores", "call_list", "outcomes", "api_keys"}


def test_empty_database_is_migrated_to_head(store_url: str) -> None:
    engine = connect(store_url)
    names = set(sa.inspect(engine).get_table_names())
    assert names >= TABLES | {"alembic_version"}
    assert current_revision(engine) == "0001"


def test_migrated_schema_equals_the_table_definitions(store_url: str) -> None:
    engine = connect(store_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_history_queries_are_indexed(store_url: str) -> None:
    engine = connect(store_url)
    inspector = sa.inspect(engine)
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("weekly_scores")}
    assert ("client_id", "as_of") in indexed
    assert ("as_of", "rank") in indexed
    assert ("as_of", "rank") in {
        tuple(ix["column_names"]) for ix in inspector.get_indexes("call_list")
    }


def test_connecting_again_is_a_no_op(store_url: str) -> None:
    connect(store_url).dispose()
    engine = connect(store_url)  # already at head: nothing to do, nothing fails
    assert current_revision(engine) == "0001"


def test_no_tables_without_connect(tmp_path) -> None:
    """Importing the store creates nothing: only connect() migrates."""
    import store.keys  # noqa: F401
    import store.outcomes  # noqa: F401
    import store.weeks  # noqa: F401

    path = tmp_path / "untouched.db"
    engine = connect(f"sqlite:///{path}", migrate=False)
    assert sa.inspect(engine).get_table_names() == []
