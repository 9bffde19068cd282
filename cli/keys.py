"""``churn keys add|list|revoke``: API keys with roles for the service, kept in the store.

The key is printed once by ``add`` and stored only as a hash, so it cannot be shown again:
lose it and revoke it, then add a new one.
"""

from __future__ import annotations

import typer

from cli.base import app, friendly
from cli.base import config as _config

keys_app = typer.Typer(help="API keys for the service (roles: scheduler, supervisor, admin).")
app.add_typer(keys_app, name="keys")


@keys_app.command("add")
@friendly
def add(
    role: str = typer.Option(..., help="scheduler | supervisor | admin"),
    name: str = typer.Option(..., help="who or what uses the key (unique)"),
) -> None:
    """Create a key and print it once."""
    from store.db import open_store
    from store.keys import add_key

    key = add_key(open_store(_config()), role, name)
    typer.echo(key)
    typer.echo(f"key for {name!r} ({role}); shown once, store it now", err=True)


@keys_app.command("list")
@friendly
def list_() -> None:
    """Every key: name, role, created, revoked (never the key)."""
    from store.db import open_store
    from store.keys import list_keys

    for k in list_keys(open_store(_config())):
        revoked = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        typer.echo(f"{k.name}\t{k.role}\tcreated {k.created_at:%Y-%m-%d %H:%M}\t{revoked}")


@keys_app.command("revoke")
@friendly
def revoke(name: str = typer.Option(..., help="the key's name")) -> None:
    """Revoke a key at once."""
    from store.db import open_store
    from store.keys import revoke_key

    revoke_key(open_store(_config()), name)
    typer.echo(f"revoked {name!r}")
