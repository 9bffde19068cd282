"""API keys with roles, stored hashed: the plaintext is shown once and never kept.

Keys are long random tokens, so an unsalted SHA-256 is enough to make a leaked database
useless for calling the service (there is nothing to brute-force), and it lets
``verify_key`` find a key with one indexed lookup. A revoked key stays listed (who had
access, until when) but no longer verifies.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from churn.errors import InputError, NotFound
from churn.utc import as_utc
from store.db import write_transaction
from store.schema import api_keys

ROLES = ("scheduler", "supervisor", "admin")
PREFIX = "ck_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


@dataclass(frozen=True)
class KeyInfo:
    """Who a key belongs to and what it may do (never the key itself)."""

    name: str
    role: str
    created_at: datetime | None = None
    revoked_at: datetime | None = None


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def add_key(engine: Engine, role: str, name: str) -> str:
    """Create a key for ``name`` with ``role``; returns the plaintext (shown once)."""
    if role not in ROLES:
        raise InputError(f"role: expected one of {'|'.join(ROLES)}, got {role!r}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            f"name: expected 1-128 letters, digits or _.@- starting with a letter or digit, "
            f"got {name!r}"
        )
    key = PREFIX + secrets.token_urlsafe(32)
    with write_transaction(engine) as conn:
        taken = conn.execute(sa.select(api_keys.c.id).where(api_keys.c.name == name)).first()
        if taken:
            raise InputError(f"name: a key named {name!r} already exists (revoked keys too)")
        conn.execute(
            sa.insert(api_keys),
            {
                "name": name,
                "role": role,
                "key_hash": hash_key(key),
                "created_at": datetime.now(UTC),
            },
        )
    return key


def list_keys(engine: Engine) -> list[KeyInfo]:
    """Every key ever created, oldest first, revoked ones included."""
    query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    with engine.connect() as conn:
        return [
            KeyInfo(r.name, r.role, as_utc(r.created_at), r.revoked_at and as_utc(r.revoked_at))
            for r in conn.execute(query)
        ]


def revoke_key(engine: Engine, name: str) -> None:
    """Revoke the key called ``name`` (at once: the next request with it is refused)."""
    with write_transaction(engine) as conn:
        row = conn.execute(sa.select(api_keys.c.revoked_at).where(api_keys.c.name == name)).first()
        if row is None:
            raise NotFound(f"name: no key named {name!r}")
        if row.revoked_at is None:
            conn.execute(
                sa.update(api_keys)
                .where(api_keys.c.name == name)
                .values(revoked_at=datetime.now(UTC))
            )


def verify_key(engine: Engine, key: str) -> KeyInfo | None:
    """The active key's owner and role, or ``None`` for an unknown or revoked key."""
    if not isinstance(key, str) or not key.startswith(PREFIX):
        return None
    query = sa.select(api_keys).where(
        api_keys.c.key_hash == hash_key(key), api_keys.c.revoked_at.is_(None)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return KeyInfo(row.name, row.role, as_utc(row.created_at), None) if row else None
