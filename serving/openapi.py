"""The service's OpenAPI description (``/docs.json``): what it really accepts and answers.

BentoML generates a description from the endpoints' signatures, but it flattens optional
fields to non-null ones (``as_of`` of posted clients and ``changes`` of a first week are
null), documents its 400 body's ``detail`` as a string (it is a list) and knows nothing of
the answers the service adds itself: 401/403 from the key check (``serving.access``), 409
from ``/outcomes``, 413 from the body limit, 415 for a body that is not JSON, 503 before
the model and week are loaded or while the store holds no week. :func:`describe` keeps
BentoML's description for the rest and rebuilds each API operation from the request and
response models in
``serving.schemas``, as OpenAPI 3.1 (JSON Schema 2020-12: pydantic's own schemas, null
included). ``tests/serving/test_openapi_conformance.py`` runs Schemathesis against it for
every role: no 5xx, and every answer documented and matching its schema.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from starlette.responses import JSONResponse

from serving import schemas as s
from serving.auth import ENDPOINT_ROLES, allowed_roles

REF = "#/components/schemas/{model}"
OPENAPI_VERSION = "3.1.0"
ERROR = "Error"

STATUS_TEXT = {
    400: "Bad input: the error names the field (`detail` lists pydantic's findings)",
    401: "No key, or an unknown or revoked key (`Authorization: Bearer KEY`)",
    403: "The key's role may not call this endpoint",
    404: "A client or week the request names does not exist",
    409: "An outcome_id already recorded with different content",
    413: "The request body is above serving.max_body_bytes",
    415: "The body is not application/json",
    503: "Not ready yet (model or week loading), no week scored yet, or the store is busy",
}
API_ERRORS = (400, 401, 403, 404, 413, 415, 503)


@dataclass(frozen=True)
class Operation:
    """One POST endpoint: its request and 200 models and the extra error statuses."""

    request: Any
    response: Any
    extra_errors: tuple[int, ...] = ()


OPERATIONS: dict[str, Operation] = {
    "/score": Operation(s.ScoreRequest, s.ScoreResponse),
    "/score_batch": Operation(s.ScoreBatchRequest, list[s.BatchScoreRow]),
    "/explain": Operation(s.ExplainRequest, s.ExplainResponse),
    "/history": Operation(s.HistoryRequest, s.HistoryResponse),
    "/outcomes": Operation(s.OutcomesBody, s.OutcomesResponse, (409,)),
    "/call_list": Operation(s.CallListRequest, s.CallListResponse),
    "/find": Operation(s.FindRequest, s.FindResponse),
}


def _schema(model: Any, mode: str, components: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of ``model`` with its definitions moved to ``components``."""
    schema = TypeAdapter(model).json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    components.update(schema.pop("$defs", {}))
    return schema


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "title": ERROR,
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "one line, the field first"},
            "field": {"type": "string"},
            "detail": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                        "msg": {"type": "string"},
                        "type": {"type": "string"},
                    },
                },
            },
        },
    }


def _errors(statuses: tuple[int, ...]) -> dict[str, Any]:
    ref = {"$ref": REF.format(model=ERROR)}
    return {
        str(code): {
            "description": STATUS_TEXT[code],
            "content": {"application/json": {"schema": ref}},
        }
        for code in sorted(statuses)
    }


def describe(bentoml_spec: dict[str, Any]) -> dict[str, Any]:
    """BentoML's spec with every API operation described as the service answers it."""
    spec = copy.deepcopy(bentoml_spec)
    spec["openapi"] = OPENAPI_VERSION
    components: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR] = _error_schema()
    spec["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an API key"}
    }
    paths = spec.setdefault("paths", {})
    secured = [{"bearer": []}]
    for path, op in OPERATIONS.items():
        post = dict(paths.get(path, {}).get("post") or {})
        post["description"] = str(post.get("description", "")).strip()
        post["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": _schema(op.request, "validation", components)}
            },
        }
        post["responses"] = {
            "200": {
                "description": "Successful Response",
                "content": {
                    "application/json": {
                        "schema": _schema(op.response, "serialization", components)
                    }
                },
            },
            **_errors(API_ERRORS + op.extra_errors),
        }
        post["security"] = secured
        paths[path] = {"post": post}
    for path, item in paths.items():  # an endpoint not listed above: at least its errors
        post = item.get("post") if isinstance(item, dict) else None
        if path in OPERATIONS or not post or "x-bentoml-name" not in post:
            continue
        ok = post.get("responses", {}).get("200", {"description": "Successful Response"})
        post["responses"] = {"200": ok, **_errors(API_ERRORS)}
        post["security"] = secured
    for path, item in paths.items():  # other keyed routes (GET /catalog ...): key errors too
        if path in OPERATIONS or allowed_roles(path) is None or not isinstance(item, dict):
            continue
        for op in item.values():
            if isinstance(op, dict) and "responses" in op:
                op["responses"] = {**op["responses"], **_errors((401, 403, 503))}
                op["security"] = secured
    json_ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    paths["/version"] = {
        "get": {
            "description": "The model, the served week and the weeks available.",
            "operationId": "version",
            "security": secured,
            "responses": {"200": json_ok, **_errors((401, 403, 503))},
        }
    }
    readiness = {
        "type": "object",
        "required": ["ready"],
        "properties": {"ready": {"type": "boolean"}},
    }
    paths["/readyz"] = {
        "get": {
            "description": "200 once the model and week are loaded; the body says which week.",
            "tags": ["Infrastructure"],
            "responses": {
                "200": {
                    "description": "Ready",
                    "content": {"application/json": {"schema": readiness}},
                },
                "503": {
                    "description": "Not ready (yet)",
                    "content": {"application/json": {"schema": readiness}},
                },
            },
        }
    }
    text_ok = {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    for probe in ("/healthz", "/livez"):
        paths[probe] = {
            "get": {**(paths.get(probe, {}).get("get") or {}), "responses": {"200": text_ok}}
        }
    paths["/metrics"] = {
        "get": {
            **(paths.get("/metrics", {}).get("get") or {}),
            "security": secured,
            "responses": {"200": text_ok, **_errors((401, 403))},
        }
    }
    html_ok = {
        "description": "The supervisor page",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
    paths["/ui"] = {
        "get": {"description": "The supervisor page. Open.", "responses": {"200": html_ok}}
    }
    assert set(OPERATIONS) <= set(ENDPOINT_ROLES)  # every documented API path has roles
    return spec


def service_spec() -> dict[str, Any]:
    """The service's description: what ``/docs.json`` serves and the docs site renders."""
    from serving.service import ChurnService

    return describe(ChurnService.openapi_spec.asdict())


class OpenAPIDoc:
    """ASGI middleware: ``GET /docs.json`` answers :func:`service_spec` (built once per
    process)."""

    def __init__(self, app: Any, spec: Callable[[], dict[str, Any]] = service_spec) -> None:
        self.app = app
        self._source = spec
        self._spec: dict[str, Any] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/docs.json":
            await self.app(scope, receive, send)
            return
        if self._spec is None:
            self._spec = self._source()
        await JSONResponse(self._spec)(scope, receive, send)
