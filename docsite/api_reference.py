"""The HTTP API reference: the service's own OpenAPI document, with the roles that may call
each endpoint (``serving.auth``, the table the service enforces).

The OpenAPI comes from the BentoML service object (what ``/docs.json`` serves), so request
fields, types, limits and defaults are the ones the service validates against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from docsite.markdown import cell, code, table

HIDDEN = {"/score_batch"}  # internal: BentoML's batchable path behind /score
PROBES = {"/healthz", "/livez", "/readyz"}


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][_ref_name(schema["$ref"])]
    return schema


def type_of(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    """A short type for one property schema: ``integer``, ``list[ScoreRow]``, ``date | null``."""
    if "$ref" in schema:
        return _ref_name(schema["$ref"]).removesuffix("IODescriptor")
    if "anyOf" in schema or "oneOf" in schema:
        return " | ".join(type_of(s, spec) for s in schema.get("anyOf", schema.get("oneOf", [])))
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"list[{type_of(schema.get('items', {}), spec)}]"
    if kind == "object" and "additionalProperties" in schema and schema["additionalProperties"]:
        extra = schema["additionalProperties"]
        inner = type_of(extra, spec) if isinstance(extra, dict) else "any"
        return f"object[str, {inner}]"
    if schema.get("format") in {"date", "date-time"}:
        return f"{kind} ({schema['format']})"
    return str(kind or "any")


def _limits(schema: dict[str, Any]) -> str:
    words = []
    for key, sign in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
    ):
        if key in schema:
            words.append(f"{sign} {schema[key]}")
    for option in schema.get("anyOf", []):
        sub = _limits(option)
        if sub:
            words.append(sub)
    return ", ".join(words)


def properties_table(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    schema = _resolve(schema, spec)
    props = schema.get("properties", {})
    if not props:
        return ""
    required = set(schema.get("required", []))
    rows = []
    for name, prop in props.items():
        default = prop.get("default", None) if "default" in prop else None
        rows.append(
            (
                code(name),
                cell(type_of(prop, spec)),
                "yes" if name in required else "no",
                code(json.dumps(default)) if "default" in prop else "—",
                cell(_limits(prop)),
                cell(prop.get("description", "")),
            )
        )
    return table(["field", "type", "required", "default", "limits", "meaning"], rows)


def _nested(schema: dict[str, Any], spec: dict[str, Any], seen: set[str]) -> list[str]:
    """Names of component schemas a schema refers to (depth first, each once)."""
    names: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                name = _ref_name(node["$ref"])
                if name not in seen:
                    seen.add(name)
                    names.append(name)
                    visit(spec["components"]["schemas"][name])
                return
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return names


def _body_schema(content: dict[str, Any]) -> dict[str, Any] | None:
    media = content.get("application/json")
    return media.get("schema") if media else None


def render(
    spec: dict[str, Any], roles_of: Callable[[str], frozenset[str] | None], roles: tuple[str, ...]
) -> str:
    """The reference page: an overview table, then one section per endpoint."""
    paths = {p: ops for p, ops in spec["paths"].items() if p not in HIDDEN}
    overview = []
    for path, ops in paths.items():
        allowed = roles_of(path)
        who = "open (no key)" if allowed is None else ", ".join(r for r in roles if r in allowed)
        for method, op in ops.items():
            summary = (op.get("description") or op.get("summary") or "").strip().split("\n")[0]
            summary = re.sub(r"<[^>]+>", "", summary)  # BentoML's probe texts carry HTML
            overview.append((code(f"{method.upper()} {path}"), cell(who), cell(summary)))
    parts = [
        "# HTTP API",
        "",
        f"Service `{spec.get('info', {}).get('title', 'churn_risk')}`. Every endpoint but the "
        "open ones needs `Authorization: Bearer KEY` with a role allowed below "
        "([keys and roles](../how-to/api-keys.md)); a missing, unknown or revoked key is a "
        '401, a key of another role a 403, both `{"error", "field": "authorization"}`. '
        "Any path not listed needs an admin key. The machine-readable description is "
        "[openapi.json](openapi.json) (also served by the service at `/docs.json`).",
        "",
        table(["endpoint", "roles", "what"], overview),
        "",
    ]
    seen: set[str] = set()
    for path, ops in paths.items():
        allowed = roles_of(path)
        who = "open (no key)" if allowed is None else ", ".join(r for r in roles if r in allowed)
        for method, op in ops.items():
            parts += [f"## `{method.upper()} {path}`", "", f"**Roles:** {who}", ""]
            text = (op.get("description") or op.get("summary") or "").strip()
            if text:
                parts += [" ".join(text.split()), ""]
            body = op.get("requestBody")
            if body:
                schema = _body_schema(body.get("content", {}))
                if schema:
                    rendered = properties_table(schema, spec)
                    if rendered:
                        parts += ["**Request body** (JSON):", "", rendered, ""]
            for status, response in op.get("responses", {}).items():
                schema = _body_schema(response.get("content", {}) or {})
                desc = " ".join(str(response.get("description", "")).split())
                if str(status).startswith("2") and schema:
                    rendered = properties_table(schema, spec)
                    parts += [f"**Response {status}** {desc}".rstrip(), ""]
                    if rendered:
                        parts += [rendered, ""]
            errors = [
                f"{code(s)} {' '.join(str(r.get('description', '')).split())}".rstrip()
                for s, r in op.get("responses", {}).items()
                if str(s).startswith("4")
            ]
            if allowed is not None and "401" not in op.get("responses", {}):
                errors += ["`401` no key, or an unknown or revoked key", "`403` a role not listed"]
            if errors:
                parts += ["**Errors:** " + "; ".join(errors) + ".", ""]
            nested = [
                n
                for n in _nested(op.get("responses", {}), spec, seen)
                + _nested(op.get("requestBody", {}), spec, seen)
                if not n.endswith("IODescriptor")
                and n not in {"InvalidArgument", "NotFound", "InternalServerError", "Error"}
            ]
            for name in nested:
                rendered = properties_table(spec["components"]["schemas"][name], spec)
                if rendered:
                    parts += [f"### `{name}`", "", rendered, ""]
    return "\n".join(parts).rstrip() + "\n"
