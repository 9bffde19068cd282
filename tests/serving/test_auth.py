"""Roles → endpoints: the whole matrix, and the answer for missing, unknown and wrong keys."""

from __future__ import annotations

import pytest

from serving.auth import ROLES, allowed_roles, bearer_token, decide, endpoints_for

# endpoint -> roles that may call it (issue 9; supervisor also gets what the page calls)
MATRIX = {
    "/score": {"scheduler", "supervisor", "admin"},
    "/call_list": {"scheduler", "supervisor", "admin"},
    "/outcomes": {"scheduler", "admin"},
    "/explain": {"supervisor", "admin"},
    "/history": {"supervisor", "admin"},
    "/find": {"supervisor", "admin"},
    "/version": {"scheduler", "supervisor", "admin"},
    "/catalog": {"supervisor", "admin"},
    "/metrics": {"admin"},
    "/something_new": {"admin"},  # deny by default
}


@pytest.mark.parametrize("path", sorted(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_and_role(path, role):
    denied = decide(path, presented=True, role=role)
    if role in MATRIX[path]:
        assert denied is None
    else:
        assert denied is not None and denied.status == 403
        assert role in denied.message and path in denied.message


@pytest.mark.parametrize("path", sorted(MATRIX))
def test_missing_or_unknown_key_is_401(path):
    missing = decide(path, presented=False, role=None)
    unknown = decide(path, presented=True, role=None)
    assert missing is not None and missing.status == 401 and "Bearer" in missing.message
    assert unknown is not None and unknown.status == 401 and "revoked" in unknown.message
    assert missing.field == "authorization"


@pytest.mark.parametrize(
    "path", ["/healthz", "/livez", "/readyz", "/ui", "/ui/", "/ui/app.js", "/ui/style.css"]
)
def test_probes_and_static_page_are_open(path):
    assert allowed_roles(path) is None
    assert decide(path, presented=False, role=None) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header, token):
    assert bearer_token(header) == token


def test_endpoints_for_roles():
    assert "/metrics" in endpoints_for("admin")
    assert "/explain" not in endpoints_for("scheduler")
    assert "/outcomes" not in endpoints_for("supervisor")
