"""Access control at the service's door: an ASGI middleware over ``serving.auth``.

Every HTTP request passes :class:`RequireKey` before BentoML routes it: open paths (health
probes, the page's static files) go straight through; any other path needs
``Authorization: Bearer KEY`` whose key verifies in the score store (``store.keys``) with a
role ``serving.auth.decide`` allows. Refusals are JSON ``{"error", "field": "authorization"}``
with 401 (missing, unknown or revoked key) or 403 (wrong role), never a 5xx.

Verified keys are remembered for ``serving.key_cache_s`` seconds (by hash, unknown keys
too), so a busy scheduler does not cost a database lookup per request; the price is that a
revoked key keeps working for at most that long.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import anyio
from starlette.responses import JSONResponse

from churn.config import Config, load_config
from churn.environment import environment
from serving.auth import allowed_roles, bearer_token, decide
from store.keys import hash_key, verify_key

MAX_CACHED_KEYS = 10_000
# The role of the request being handled. BentoML calls a batchable endpoint in-process
# through its own ASGI app (``/score`` → ``/score_batch``) without the caller's headers;
# that inner request runs in a task copied from the caller's context, so it carries the
# role already verified for the outer request and is let through on it.
CALLER_ROLE: ContextVar[str | None] = ContextVar("churn_caller_role", default=None)


class KeyCache:
    """Key → role (None: unknown or revoked), each answer kept ``ttl_s`` seconds."""

    def __init__(
        self,
        verify: Callable[[str], str | None],
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_CACHED_KEYS,
    ) -> None:
        self._verify = verify
        self.ttl_s = ttl_s
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, str | None]:
        """(hit, role) without touching the store."""
        digest = hash_key(key)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None or entry[0] <= self._clock():
                return False, None
            return True, entry[1]

    def role(self, key: str) -> str | None:
        """The key's role, from the cache or the store."""
        hit, role = self.cached(key)
        if hit:
            return role
        role = self._verify(key)
        if self.ttl_s > 0:
            with self._lock:
                self._entries[hash_key(key)] = (self._clock() + self.ttl_s, role)
                self._entries.move_to_end(hash_key(key))
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return role


_CACHE: KeyCache | None = None
_CACHE_LOCK = threading.Lock()


def key_cache(cfg: Config | None = None) -> KeyCache:
    """The process's key cache over the configured store (opened on first use)."""
    global _CACHE
    with _CACHE_LOCK:
        if _CACHE is None:
            from serving.current import engine_for

            cfg = cfg or load_config(environment().config)
            engine = engine_for(cfg)

            def verify(key: str) -> str | None:
                info = verify_key(engine, key)
                return info.role if info else None

            _CACHE = KeyCache(verify, cfg.serving.key_cache_s)
        return _CACHE


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for k, v in scope.get("headers") or []:
        if k.lower() == name:
            return v.decode("latin-1")
    return None


async def role_of(scope: dict[str, Any]) -> str | None:
    """The role of the request's bearer key (None without a valid key)."""
    token = bearer_token(header(scope, b"authorization"))
    if token is None:
        return None
    cache = key_cache()
    hit, role = cache.cached(token)
    if hit:
        return role
    return await anyio.to_thread.run_sync(cache.role, token)


def refusal(status: int, message: str, field: str = "authorization") -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, "field": field}, status_code=status, headers=headers)


class RequireKey:
    """ASGI middleware: 401/403 before routing unless the key's role may call the path."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or allowed_roles(scope["path"]) is None:
            await self.app(scope, receive, send)
            return
        presented = bearer_token(header(scope, b"authorization")) is not None
        inner = CALLER_ROLE.get()
        if not presented and inner is not None:  # an in-process call made for a caller
            denied = decide(scope["path"], presented=True, role=inner)
            if denied is None:
                await self.app(scope, receive, send)
            else:
                await refusal(denied.status, denied.message, denied.field)(scope, receive, send)
            return
        try:
            role = await role_of(scope) if presented else None
        except Exception as exc:  # noqa: BLE001 — the key store cannot be read
            response = JSONResponse(
                {"error": f"authorization: the key store is unavailable ({type(exc).__name__})"},
                status_code=503,
            )
            await response(scope, receive, send)
            return
        denied = decide(scope["path"], presented=presented, role=role)
        if denied is not None:
            await refusal(denied.status, denied.message, denied.field)(scope, receive, send)
            return
        token = CALLER_ROLE.set(role)
        try:
            await self.app(scope, receive, send)
        finally:
            CALLER_ROLE.reset(token)
