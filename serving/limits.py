"""The service's edge against oversized and hostile input: ASGI middlewares and a log filter.

* :class:`BodyLimit`: a request body above ``serving.max_body_bytes`` is answered 413
  before anything parses it. A declared ``Content-Length`` is checked without reading; a
  chunked body is read up to the limit and refused the moment it passes it, so a 50 MB
  body never reaches the JSON parser (nor the worker's memory).
* :class:`ErrorBodies`: every 4xx/5xx JSON answer of the API has one shape,
  ``{"error": str, "field"?: str, "detail"?: [...]}`` (BentoML wraps some of its own in a
  list; they are unwrapped), and no message is longer than :data:`MAX_ERROR_CHARS`, so an
  error never echoes a huge input back.
* :func:`quiet_client_errors`: BentoML logs every request it refuses (a pydantic
  ``ValidationError``, a body that is not JSON) with a full traceback; a client's mistake
  is logged in one line instead. Server errors keep their traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.responses import JSONResponse

MAX_ERROR_CHARS = 500  # an error message longer than this is cut (the field comes first)
BENTOML_HTTP_LOGGER = "bentoml._internal.server.http_app"


def cut(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def too_large(limit: int, got: int | None = None) -> JSONResponse:
    size = f"{got} bytes" if got is not None else f"more than {limit} bytes"
    return JSONResponse(
        {"error": f"body: {size}; the limit is {limit} bytes (serving.max_body_bytes)"},
        status_code=413,
    )


class BodyLimit:
    """ASGI middleware: 413 for a request body above ``limit`` bytes, before parsing."""

    def __init__(self, app: Any, limit: int | None = None) -> None:
        self.app = app
        self._limit = limit

    @property
    def limit(self) -> int:
        if self._limit is None:
            from churn.config import load_config
            from churn.environment import environment

            cfg = load_config(environment().config)
            self._limit = int(cfg.serving.max_body_bytes)
        return self._limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await too_large(limit, declared)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:  # read it all (at most `limit` bytes) before the app sees any of it
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: dict[str, Any]) -> int | None:
    for k, v in scope.get("headers") or []:
        if k.lower() == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


def error_body(raw: bytes) -> bytes | None:
    """An API error body in the one documented shape (None: leave it as it is)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
        body = body[0]  # BentoML answers some 4xx as [{"error": ...}]
    if not isinstance(body, dict):
        return None
    out: dict[str, Any] = {"error": cut(str(body.get("error") or "request refused"))}
    if body.get("field") is not None:
        out["field"] = cut(str(body["field"]), 200)
    if isinstance(body.get("detail"), list):
        out["detail"] = [_detail(d) for d in body["detail"][:20]]
    return json.dumps(out, ensure_ascii=False).encode("utf-8")


def _detail(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"msg": cut(str(item), 200)}
    out = {"loc": [p if isinstance(p, int) else cut(str(p), 100) for p in item.get("loc", [])]}
    out["msg"] = cut(str(item.get("msg", "")), 200)
    if "type" in item:
        out["type"] = str(item["type"])
    return out


class ErrorBodies:
    """ASGI middleware: error answers of ``paths`` in one shape with bounded messages."""

    def __init__(self, app: Any, paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        parts: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if int(message["status"]) < 400:
                    start["pass"] = True
                    await send(message)
                    return
                start.update(message)
                return
            if start.get("pass") or message["type"] != "http.response.body":
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            raw = b"".join(parts)
            body = error_body(raw)
            if body is None:
                body = raw
            headers = [
                (k, v)
                for k, v in start.get("headers", [])
                if k.lower() not in (b"content-length", b"content-type")
            ]
            headers += [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
            ]
            await send(
                {"type": "http.response.start", "status": start["status"], "headers": headers}
            )
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, capture)


class _OneLineClientErrors(logging.Filter):
    """BentoML's "Exception on PATH [POST]" records: a client error (pydantic validation,
    an unparsable body, any BentoML 4xx) becomes one warning line without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not _client_error(exc):
            return True
        path = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg = "client error on %s: %s"
        record.args = (path, cut(f"{type(exc).__name__}: {_summary(exc)}", 300))
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = None
        record.exc_text = None
        return True


def _client_error(exc: BaseException) -> bool:
    from bentoml.exceptions import BentoMLException
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return True
    if isinstance(exc, BentoMLException):
        return int(exc.error_code.value) < 500
    return False


def _summary(exc: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        return f"{exc.error_count()} error(s), first {loc}: {first['msg']}"
    return str(exc).splitlines()[0] if str(exc) else ""


def quiet_client_errors() -> None:
    """Install the one-line filter on BentoML's HTTP logger (once per process)."""
    logger = logging.getLogger(BENTOML_HTTP_LOGGER)
    if not any(isinstance(f, _OneLineClientErrors) for f in logger.filters):
        logger.addFilter(_OneLineClientErrors())
