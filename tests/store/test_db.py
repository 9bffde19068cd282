"""Store URL resolution and the SQLite connection settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from churn.config import Config
from churn.environment import STORE_URL as STORE_URL_ENV
from churn.errors import InputError
from store.db import connect, store_url


def test_url_default_env_and_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = Config()
    monkeypatch.delenv(STORE_URL_ENV, raising=False)
    assert store_url(cfg) == "sqlite:///data/store.db"
    cfg = cfg.override(paths=cfg.paths.under(tmp_path))
    assert store_url(cfg) == f"sqlite:///{tmp_path / 'store.db'}"
    cfg = cfg.override(store__url="postgresql+psycopg://u@h/db")
    assert store_url(cfg) == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv(STORE_URL_ENV, "sqlite:////elsewhere.db")
    assert store_url(cfg) == "sqlite:////elsewhere.db"


def test_sqlite_is_wal_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'sub' / 'store.db'}", busy_timeout_s=7)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
    assert (tmp_path / "sub" / "store.db").exists()


@pytest.mark.parametrize("url", ["not a url", "sqlite://", "sqlite:///:memory:"])
def test_bad_urls_are_input_errors(url: str) -> None:
    with pytest.raises(InputError, match="store url"):
        connect(url)


def test_migrations_run_once_per_url_per_process(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import store.db as db
    from store.db import current_revision

    calls: list[str] = []
    real = db.upgrade

    def counting(engine, revision: str = "head") -> None:
        calls.append(str(engine.url))
        real(engine, revision)

    monkeypatch.setattr(db, "upgrade", counting)
    for _ in range(3):
        engine = connect(store_url)
        assert current_revision(engine) is not None
        engine.dispose()
    assert len(calls) == 1
    if store_url.startswith("sqlite"):
        # a deleted SQLite file is a new, empty store: migrated again
        Path(store_url.removeprefix("sqlite:///")).unlink()
        engine = connect(store_url)
        assert current_revision(engine) is not None and len(calls) == 2
        engine.dispose()
