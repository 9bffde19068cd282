"""The schema comes from the Alembic migrations, on both backends, and matches store.schema."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from store.db import connect, current_revision
from store.schema import metadata

TABLES = {"weeks", "weekly_scores", "call_list", "outcomes", "api_keys"}
HEAD = "0004"


def test_empty_database_is_migrated_to_head(store_url: str) -> None:
    engine = connect(store_url)
    names = set(sa.inspect(engine).get_table_names())
    assert names >= TABLES | {"alembic_version"}
    assert current_revision(engine) == HEAD


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
    assert current_revision(engine) == HEAD


def test_no_tables_without_connect(tmp_path) -> None:
    """Importing the store creates nothing: only connect() migrates."""
    import store.keys  # noqa: F401
    import store.outcomes  # noqa: F401
    import store.weeks  # noqa: F401

    path = tmp_path / "untouched.db"
    engine = connect(f"sqlite:///{path}", migrate=False)
    assert sa.inspect(engine).get_table_names() == []


def test_0002_adds_centre_id_and_keeps_earlier_weeks(store_url: str) -> None:
    """A store at 0001 with a week in it is upgraded in place: the week reads back with
    centre_id NULL, and a network week stores each row's centre."""
    from datetime import date

    import pandas as pd

    from store.db import upgrade
    from store.weeks import read_call_list, read_scores, write_week

    engine = connect(store_url, migrate=False)
    upgrade(engine, "0001")
    old = {"as_of": date(2026, 1, 5), "model_version": "1", "client_id": 7, "probability": 0.5}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO weekly_scores (as_of, model_version, client_id, probability, "
                "risk_band, rank, evidence) VALUES (:as_of, :model_version, :client_id, "
                ":probability, 'high', 1, 'full')"
            ),
            old,
        )
        conn.execute(
            sa.text(
                "INSERT INTO weeks (as_of, model_version, created_at, n_clients, status) "
                "VALUES (:as_of, :model_version, CURRENT_TIMESTAMP, 1, 'complete')"
            ),
            old,
        )
    upgrade(engine)
    assert current_revision(engine) == HEAD
    kept = read_scores(engine, old["as_of"])
    assert kept["client_id"].tolist() == [7] and kept["centre_id"].isna().all()
    scores = pd.DataFrame(
        {
            "client_id": [1, 2],
            "probability": [0.4, 0.3],
            "risk_band": ["high", "dynamic"],
            "rank": [1, 1],
            "evidence": ["full", "full"],
            "centre_id": ["C01", "C02"],
        }
    )
    calls = scores[["client_id", "rank", "centre_id"]].assign(selected=True, reason="financial")
    write_week(
        engine,
        as_of=date(2026, 1, 12),
        model_version="1",
        scores=scores,
        call_list=calls,
        snapshot_path=None,
    )
    got = read_call_list(engine, date(2026, 1, 12)).sort_values("client_id")
    assert got["centre_id"].tolist() == ["C01", "C02"]
    assert read_scores(engine, date(2026, 1, 12)).set_index("client_id")["centre_id"].to_dict() == {
        1: "C01",
        2: "C02",
    }


def test_0002_downgrades_to_0001(store_url: str) -> None:
    from store.db import MIGRATIONS_DIR

    engine = connect(store_url)
    from alembic import command
    from alembic.config import Config as AlembicConfig

    with engine.begin() as conn:
        acfg = AlembicConfig()
        acfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        acfg.attributes["connection"] = conn
        command.downgrade(acfg, "0001")
    assert current_revision(engine) == "0001"
    for table in ("weekly_scores", "call_list"):
        assert "centre_id" not in {c["name"] for c in sa.inspect(engine).get_columns(table)}


def test_0003_adds_client_names_and_keeps_earlier_weeks(store_url: str) -> None:
    """A store at 0002 with a week in it is upgraded in place: the week reads back with
    name NULL, and a week of an export with names stores each row's name."""
    from datetime import date

    import pandas as pd

    from store.db import upgrade
    from store.weeks import history, read_scores, write_week

    engine = connect(store_url, migrate=False)
    upgrade(engine, "0002")
    assert "name" not in {c["name"] for c in sa.inspect(engine).get_columns("weekly_scores")}
    old = {"as_of": date(2026, 1, 5), "model_version": "1", "client_id": 1, "probability": 0.5}
    with engine.begin() as conn:  # a week written before 0003 (raw SQL: the old columns)
        conn.execute(
            sa.text(
                "INSERT INTO weekly_scores (as_of, model_version, client_id, probability, "
                "risk_band, rank, evidence) VALUES (:as_of, :model_version, :client_id, "
                ":probability, 'high', 1, 'full')"
            ),
            old,
        )
        conn.execute(
            sa.text(
                "INSERT INTO weeks (as_of, model_version, created_at, n_clients, status) "
                "VALUES (:as_of, :model_version, CURRENT_TIMESTAMP, 1, 'complete')"
            ),
            old,
        )
    scores = pd.DataFrame(
        {
            "client_id": [1, 2],
            "probability": [0.4, 0.3],
            "risk_band": ["high", "dynamic"],
            "rank": [1, 2],
            "evidence": ["full", "full"],
        }
    )
    calls = scores[["client_id", "rank"]].assign(selected=True, reason="financial")
    upgrade(engine)
    assert current_revision(engine) == HEAD
    assert read_scores(engine, date(2026, 1, 5))["name"].isna().all()
    named = scores.assign(name=['ООО "Строй Дом Крым 2012"', None])
    write_week(engine, as_of=date(2026, 1, 12), model_version="1", scores=named,
               call_list=calls, snapshot_path=None)  # fmt: skip
    got = read_scores(engine, date(2026, 1, 12)).set_index("client_id")["name"]
    assert got[1] == 'ООО "Строй Дом Крым 2012"' and pd.isna(got[2])
    assert [w["name"] for w in history(engine, 1, 10)] == [None, 'ООО "Строй Дом Крым 2012"']


def test_0004_adds_stored_shap_values_and_keeps_earlier_weeks(store_url: str) -> None:
    """A store at 0003 with a week in it is upgraded in place: the week reads back with
    shap_raw NULL (explained the computed way), and a new week's binary cells come back
    byte for byte; downgrading to 0003 drops the column and keeps the weeks."""
    from datetime import date

    import pandas as pd

    from serving import stored_shap
    from store.db import MIGRATIONS_DIR, upgrade
    from store.weeks import client_week, previous_score, read_scores, write_week

    engine = connect(store_url, migrate=False)
    upgrade(engine, "0003")
    assert "shap_raw" not in {c["name"] for c in sa.inspect(engine).get_columns("weekly_scores")}
    old = {"as_of": date(2026, 1, 5), "model_version": "1", "client_id": 1, "probability": 0.5}
    with engine.begin() as conn:  # a week written before 0004 (raw SQL: the old columns)
        conn.execute(
            sa.text(
                "INSERT INTO weekly_scores (as_of, model_version, client_id, probability, "
                "risk_band, rank, evidence) VALUES (:as_of, :model_version, :client_id, "
                ":probability, 'high', 1, 'full')"
            ),
            old,
        )
        conn.execute(
            sa.text(
                "INSERT INTO weeks (as_of, model_version, created_at, n_clients, status) "
                "VALUES (:as_of, :model_version, CURRENT_TIMESTAMP, 1, 'complete')"
            ),
            old,
        )
    upgrade(engine)
    assert current_revision(engine) == HEAD
    assert read_scores(engine, date(2026, 1, 5))["shap_raw"].isna().all()
    contrib = [[0.25, -1.5, 0.0], [1e-300, float("inf"), -0.0]]
    cells = stored_shap.encode(contrib, [-2.0, 3.5])
    scores = pd.DataFrame(
        {
            "client_id": [1, 2],
            "probability": [0.4, 0.3],
            "risk_band": ["high", "dynamic"],
            "rank": [1, 2],
            "evidence": ["full", "full"],
            "shap_raw": pd.Series(cells, dtype=object),
        }
    )
    calls = scores[["client_id", "rank"]].assign(selected=True, reason="financial")
    write_week(engine, as_of=date(2026, 1, 12), model_version="1", scores=scores,
               call_list=calls, snapshot_path=None)  # fmt: skip
    got = read_scores(engine, date(2026, 1, 12)).set_index("client_id")["shap_raw"]
    assert [bytes(got[1]), bytes(got[2])] == cells
    assert bytes(client_week(engine, date(2026, 1, 12), "1", 2)["shap_raw"]) == cells[1]
    assert client_week(engine, date(2026, 1, 5), "1", 1)["shap_raw"] is None
    assert client_week(engine, date(2026, 1, 12), "1", 3) is None
    assert bytes(previous_score(engine, 1, date(2026, 1, 13))["shap_raw"]) == cells[0]

    from alembic import command
    from alembic.config import Config as AlembicConfig

    with engine.begin() as conn:
        acfg = AlembicConfig()
        acfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        acfg.attributes["connection"] = conn
        command.downgrade(acfg, "0003")
    assert current_revision(engine) == "0003"
    assert "shap_raw" not in {c["name"] for c in sa.inspect(engine).get_columns("weekly_scores")}
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM weekly_scores")).scalar_one()
    assert n == 3
