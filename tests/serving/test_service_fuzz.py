"""Property-based: whatever JSON a caller sends, the service answers below 500."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEYS = [
    "client_ids",
    "clients",
    "client_id",
    "top_k",
    "capacity",
    "as_of",
    "segment",
    "service_mode",
    "weeks",
    "outcomes",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["2024-06-01", "large", "remote", "yes", "1e309", ""])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
id_lists = st.lists(st.integers(min_value=-5, max_value=10**12), min_size=0, max_size=50)


def bodies(path: str, known_ids: list[int]):
    """Mostly well-formed bodies for ``path`` with junk mixed in, plus arbitrary JSON."""
    ids = st.sampled_from(known_ids) | st.integers(min_value=-(2**64), max_value=2**64)
    fields = {
        "/score": {
            "client_ids": st.lists(ids, min_size=1, max_size=30)
            | st.lists(ids, max_size=3)
            | json_values,
            "clients": st.lists(
                st.dictionaries(st.sampled_from(FEATURE_KEYS), scalars, max_size=45), max_size=3
            )
            | json_values,
        },
        "/explain": {
            "client_id": ids | ids | json_values,
            "top_k": st.integers(min_value=-3, max_value=60) | json_values,
        },
        "/score_batch": {"client_ids": st.lists(ids, min_size=1, max_size=10) | json_values},
        "/history": {
            "client_id": ids | json_values,
            "weeks": st.integers(min_value=-3, max_value=600) | json_values,
        },
        "/outcomes": {
            "outcomes": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "outcome_id": st.text(max_size=10) | json_values,
                        "client_id": ids | json_values,
                        "called_on": st.sampled_from(AS_OF_SAMPLES) | json_values,
                        "reached": st.booleans() | json_values,
                        "result": st.sampled_from(["retained", "no_answer", "x"]) | json_values,
                        "note": st.text(max_size=20) | json_values,
                    },
                ),
                max_size=4,
            )
            | json_values,
        },
        "/call_list": {
            "capacity": st.integers(min_value=-3, max_value=20_000)
            | st.integers(1, 50)
            | json_values,
            "as_of": st.sampled_from(AS_OF_SAMPLES) | json_values,
            "segment": st.sampled_from(["large", "small_medium", "x"]) | json_values,
            "service_mode": st.sampled_from(["remote", "in_person", "x"]) | json_values,
        },
    }[path]
    structured = st.fixed_dictionaries({}, optional=fields)
    anything = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_values, max_size=6)
    return structured | structured | anything | json_values


AS_OF_SAMPLES = ["2024-06-01", "2025-02-01", "2025-06-01", "not a date", "2025-13-01"]


from features.catalog import COLUMNS  # noqa: E402

FEATURE_KEYS = [*COLUMNS, "junk"]


@pytest.fixture(scope="module")
def known_ids(service_url, admin_headers) -> list[int]:
    r = httpx.post(
        f"{service_url}/call_list", json={"capacity": 20}, timeout=60, headers=admin_headers
    )
    return [c["client_id"] for c in r.json()["clients"]]


@pytest.mark.parametrize(
    "path", ["/score", "/explain", "/call_list", "/score_batch", "/history", "/outcomes"]
)
def test_no_generated_body_gives_a_5xx(service_url, admin_headers, known_ids, path):
    with httpx.Client(base_url=service_url, timeout=60, headers=admin_headers) as client:

        @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=bodies(path, known_ids))
        def check(body):
            r = client.post(path, json=body)
            assert r.status_code < 500, (body, r.status_code, r.text[:300])

        check()


def test_huge_id_list_is_refused_cleanly(service_url, admin_headers):
    r = httpx.post(
        f"{service_url}/score",
        json={"client_ids": list(range(50_000))},
        timeout=120,
        headers=admin_headers,
    )
    assert r.status_code == 400


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "",
    "text/plain",
    "multipart/form-data; boundary=b",
    "application/x-www-form-urlencoded",
    "application/vnd.bentoml+pickle",
    "application/vnd.bentoml.arrow",
]


@pytest.mark.parametrize("path", ["/score", "/explain", "/call_list", "/history", "/outcomes"])
def test_no_raw_body_or_content_type_gives_a_5xx(service_url, admin_headers, path):
    with httpx.Client(base_url=service_url, timeout=60, headers=admin_headers) as client:

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
            ctype=st.sampled_from(CONTENT_TYPES),
        )
        def check(body, ctype):
            headers = {"content-type": ctype} if ctype else {}
            r = client.post(path, content=body, headers=headers)
            assert r.status_code < 500, (body, ctype, r.status_code, r.text[:300])

        check()


@pytest.mark.parametrize("path", ["/call_list", "/explain", "/history"])
def test_no_generated_body_gives_a_5xx_on_stored_weeks(weekly_service, path):
    """The same against a server serving stored weeks (other code paths: the stored call
    list, changes since the previous week, history with outcomes)."""
    weeks = [w.isoformat() for w in weekly_service.extra["weeks"]]
    with httpx.Client(
        base_url=weekly_service.url, timeout=60, headers=weekly_service.headers()
    ) as client:
        top = client.post("/call_list", json={"capacity": 20}).json()["clients"]
        known = [c["client_id"] for c in top]
        ids = st.sampled_from(known) | st.integers(min_value=-5, max_value=2**64)
        fields = {
            "/call_list": {
                "capacity": st.integers(min_value=-3, max_value=5000) | json_values,
                "as_of": st.sampled_from([*weeks, "1999-01-01", "x"]) | json_values,
                "segment": st.sampled_from(["large", "small_medium", "x"]) | json_values,
                "ranking": st.sampled_from(["probability", "expected_profit", "x"]) | json_values,
                "lang": st.sampled_from(["ru", "en", "de"]) | json_values,
                "include_holdout": st.booleans() | json_values,
            },
            "/explain": {
                "client_id": ids | json_values,
                "top_k": st.integers(min_value=-3, max_value=60) | json_values,
                "as_of": st.sampled_from([*weeks, "1999-01-01"]) | json_values,
                "lang": st.sampled_from(["ru", "en", "de"]) | json_values,
            },
            "/history": {
                "client_id": ids | json_values,
                "weeks": st.integers(min_value=-3, max_value=600) | json_values,
            },
        }[path]

        @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=st.fixed_dictionaries({}, optional=fields) | json_values)
        def check(body):
            r = client.post(path, json=body)
            assert r.status_code < 500, (body, r.status_code, r.text[:300])

        check()
