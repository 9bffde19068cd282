"""API keys: plaintext shown once and stored only as a hash; roles; revoke."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from churn.errors import InputError, NotFound
from store.db import connect
from store.keys import add_key, list_keys, revoke_key, verify_key
from store.schema import api_keys


def test_keys_are_stored_hashed_and_verify(store_url: str) -> None:
    engine = connect(store_url)
    key = add_key(engine, "supervisor", "anna")
    other = add_key(engine, "scheduler", "crm")
    assert key != other and len(key) > 40
    with engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(sa.select(api_keys))]
    dump = repr(stored)
    assert key not in dump and key[3:] not in dump and other not in dump
    info = verify_key(engine, key)
    assert (info.name, info.role) == ("anna", "supervisor")
    assert verify_key(engine, other).role == "scheduler"
    assert verify_key(engine, key + "x") is None
    assert verify_key(engine, "") is None


def test_revoke_stops_the_key_at_once_and_keeps_it_listed(store_url: str) -> None:
    engine = connect(store_url)
    key = add_key(engine, "admin", "ops")
    revoke_key(engine, "ops")
    assert verify_key(engine, key) is None
    listed = list_keys(engine)
    assert [(k.name, k.role) for k in listed] == [("ops", "admin")]
    assert listed[0].revoked_at is not None
    revoke_key(engine, "ops")  # revoking twice is harmless
    with pytest.raises(NotFound, match="no key named"):
        revoke_key(engine, "nobody")


def test_bad_role_and_duplicate_names(store_url: str) -> None:
    engine = connect(store_url)
    with pytest.raises(InputError, match="role"):
        add_key(engine, "root", "x")
    with pytest.raises(InputError, match="name"):
        add_key(engine, "admin", "has space")
    add_key(engine, "admin", "x")
    with pytest.raises(InputError, match="already exists"):
        add_key(engine, "scheduler", "x")
    assert len(list_keys(engine)) == 1
