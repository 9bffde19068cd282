"""Who may call what: roles → endpoints, and the answer for one request. Pure.

Three roles (issue 9), each the least a kind of caller needs:

* ``scheduler``: the call-scheduling system: ``/score``, ``/call_list``, ``/outcomes``;
* ``supervisor``: a person reading clients: ``/explain``, ``/history`` and what the
  supervisor page calls (``/call_list``, ``/score``, ``/version``);
* ``admin``: everything, including ``/metrics``.

Open without a key: the health probes (``/healthz``, ``/livez``, ``/readyz``), the static
page itself (``/ui``, its script and style: no client data in them; the page asks for a key
and sends it) and the API description (``/docs.json``, BentoML's ``/`` page). Any other
path needs a key, and an unlisted one an admin key (deny by default).

Keys themselves live hashed in the score store (``store.keys``); the service looks the
presented key up and passes the role (or None) here. Missing or unknown key → 401,
known key of the wrong role → 403; both are JSON naming ``authorization``.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("scheduler", "supervisor", "admin")
SCHEDULER, SUPERVISOR, ADMIN = ROLES

_EVERYONE = frozenset(ROLES)
ENDPOINT_ROLES: dict[str, frozenset[str]] = {
    "/score": _EVERYONE,  # the page shows a client's score beside the explanation
    "/score_batch": _EVERYONE,  # internal batchable path behind /score
    "/call_list": _EVERYONE,  # the scheduler's list; the page opens on it
    "/version": _EVERYONE,
    "/catalog": frozenset({SUPERVISOR, ADMIN}),  # the page's labels, bands and thresholds
    "/outcomes": frozenset({SCHEDULER, ADMIN}),
    "/explain": frozenset({SUPERVISOR, ADMIN}),
    "/history": frozenset({SUPERVISOR, ADMIN}),
    "/find": frozenset({SUPERVISOR, ADMIN}),  # the page's search by id or part of a name
    "/metrics": frozenset({ADMIN}),
}
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/docs.json", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/ui/", "/static_content/")  # the page's own files; BentoML's swagger UI
DEFAULT_ROLES = frozenset({ADMIN})  # any path not listed above


@dataclass(frozen=True)
class Denied:
    """A refused request: HTTP status (401 or 403) and the one-line reason."""

    status: int
    message: str

    @property
    def field(self) -> str:
        return "authorization"


def allowed_roles(path: str) -> frozenset[str] | None:
    """The roles that may call ``path``; None when it is open to anyone."""
    if path in PUBLIC_PATHS or path == "/ui" or path.startswith(PUBLIC_PREFIXES):
        return None
    return ENDPOINT_ROLES.get(path.rstrip("/") or "/", DEFAULT_ROLES)


def bearer_token(header: str | None) -> str | None:
    """The key from ``Authorization: Bearer KEY`` (None when absent or another scheme)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def decide(path: str, *, presented: bool, role: str | None) -> Denied | None:
    """None when the request may go on; otherwise why not.

    ``presented``: a bearer key came with the request; ``role``: the role of that key in
    the store (None when the key is unknown or revoked).
    """
    roles = allowed_roles(path)
    if roles is None:
        return None
    if not presented:
        return Denied(
            401,
            "authorization: API key required; send 'Authorization: Bearer KEY' (churn keys add)",
        )
    if role is None:
        return Denied(401, "authorization: unknown or revoked API key")
    if role not in roles:
        allowed = ", ".join(r for r in ROLES if r in roles)
        return Denied(403, f"authorization: role {role!r} may not call {path} (allowed: {allowed})")
    return None


def endpoints_for(role: str) -> list[str]:
    """The listed endpoints ``role`` may call (for docs and ``churn keys list``)."""
    return sorted(path for path, roles in ENDPOINT_ROLES.items() if role in roles)
