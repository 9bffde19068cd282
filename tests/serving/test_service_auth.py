"""Access control on the real server: every endpoint × {no key, unknown key, revoked key,
scheduler, supervisor, admin}, one server, plain requests. Refusals are JSON naming
``authorization`` (401 without a valid key, 403 for a role that may not call the path);
the health probes and the page's files stay open."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from week_helpers import bearer

from store.db import connect
from store.keys import add_key, revoke_key

IDENTITIES = ("none", "unknown", "revoked", "scheduler", "supervisor", "admin")
# endpoint -> (method, body, roles allowed); bodies are valid, so allowed means 200
ENDPOINTS: dict[str, tuple[str, Any, set[str]]] = {
    "/score": ("POST", {"client_ids": ["CID"]}, {"scheduler", "supervisor", "admin"}),
    "/score_batch": ("POST", {"client_ids": ["CID"]}, {"scheduler", "supervisor", "admin"}),
    "/call_list": ("POST", {"capacity": 3}, {"scheduler", "supervisor", "admin"}),
    "/explain": ("POST", {"client_id": "CID", "top_k": 2}, {"supervisor", "admin"}),
    "/history": ("POST", {"client_id": "CID", "weeks": 4}, {"supervisor", "admin"}),
    "/find": ("POST", {"query": "1"}, {"supervisor", "admin"}),
    "/outcomes": ("POST", "OUTCOMES", {"scheduler", "admin"}),
    "/version": ("GET", None, {"scheduler", "supervisor", "admin"}),
    "/catalog": ("GET", None, {"supervisor", "admin"}),
    "/metrics": ("GET", None, {"admin"}),
}
OPEN = ["/healthz", "/livez", "/readyz", "/ui", "/ui/"]


@pytest.fixture(scope="module")
def cid(weekly_service) -> int:
    r = httpx.post(
        f"{weekly_service.url}/call_list",
        json={"capacity": 1},
        headers=weekly_service.headers("admin"),
        timeout=60,
    )
    return int(r.json()["clients"][0]["client_id"])


def _headers(server, identity: str) -> dict[str, str]:
    return {} if identity == "none" else bearer(server.keys[identity])


def _body(template: Any, cid: int, identity: str, path: str) -> Any:
    if template == "OUTCOMES":
        return {
            "outcomes": [
                {
                    "outcome_id": f"matrix-{identity}",
                    "client_id": cid,
                    "called_on": "2025-09-02",
                    "reached": True,
                    "result": "callback",
                    "note": None,
                }
            ]
        }
    if template is None:
        return None
    return {k: ([cid] if v == ["CID"] else cid if v == "CID" else v) for k, v in template.items()}


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_matrix(weekly_service, cid, path, identity):
    method, template, allowed = ENDPOINTS[path]
    body = _body(template, cid, identity, path)
    r = httpx.request(
        method,
        f"{weekly_service.url}{path}",
        json=body,
        headers=_headers(weekly_service, identity),
        timeout=60,
    )
    if identity in ("none", "unknown", "revoked"):
        expected = 401
    else:
        expected = 200 if identity in allowed else 403
    assert r.status_code == expected, (path, identity, r.status_code, r.text[:300])
    if expected in (401, 403):
        assert r.json()["field"] == "authorization" and "authorization" in r.json()["error"]
    if expected == 401:
        assert r.headers.get("www-authenticate") == "Bearer"


@pytest.mark.parametrize("identity", ["scheduler", "supervisor"])
def test_unlisted_paths_are_admin_only(weekly_service, identity):
    r = httpx.get(f"{weekly_service.url}/nothing-here", headers=_headers(weekly_service, identity))
    assert r.status_code == 403 and r.json()["field"] == "authorization"
    r = httpx.get(f"{weekly_service.url}/nothing-here", headers=weekly_service.headers("admin"))
    assert r.status_code == 404


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("path", OPEN)
def test_open_paths_need_no_key(weekly_service, path, identity):
    r = httpx.get(
        f"{weekly_service.url}{path}", headers=_headers(weekly_service, identity), timeout=60
    )
    assert r.status_code == 200, (path, identity, r.text[:200])


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("Basic dXNlcjpwYXNz", 401),
        ("Bearer", 401),
        ("Bearer  \t x", 401),
        ("bearer ck_" + "y" * 43, 401),
        ("Token abc", 401),
        ("Bearer " + "é" * 10, 401),
        ("Bearer " + "k" * 5000, 401),
    ],
)
def test_malformed_authorization_headers_are_401_not_5xx(weekly_service, header, status):
    r = httpx.post(
        f"{weekly_service.url}/score",
        json={"client_ids": [1]},
        headers={"Authorization": header.encode("utf-8")},
        timeout=60,
    )
    assert r.status_code == status, r.text
    assert r.json()["field"] == "authorization"


def test_include_holdout_is_admin_only(weekly_service):
    body = {"capacity": 1000, "include_holdout": True}
    for role in ("scheduler", "supervisor"):
        r = httpx.post(
            f"{weekly_service.url}/call_list",
            json=body,
            headers=weekly_service.headers(role),
            timeout=60,
        )
        assert r.status_code == 403 and "include_holdout" in r.json()["error"], r.text
    r = httpx.post(
        f"{weekly_service.url}/call_list", json=body, headers=weekly_service.headers(), timeout=60
    )
    assert r.status_code == 200, r.text


def test_a_revoked_key_stops_working_within_the_cache_ttl(weekly_service):
    engine = connect(weekly_service.store_url)
    key = add_key(engine, "scheduler", "soon-revoked")
    url = f"{weekly_service.url}/version"
    assert httpx.get(url, headers=bearer(key), timeout=60).status_code == 200
    revoke_key(engine, "soon-revoked")
    ttl = weekly_service.extra["cfg"].serving.key_cache_s
    deadline = time.monotonic() + ttl + 5
    status = 200
    while time.monotonic() < deadline:
        status = httpx.get(url, headers=bearer(key), timeout=60).status_code
        if status == 401:
            break
        time.sleep(0.2)
    assert status == 401
