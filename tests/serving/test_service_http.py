"""The real BentoML server on localhost: endpoints, numbers equal to the library's, and
every bad input a 4xx naming its field (never a 5xx)."""

from __future__ import annotations

import concurrent.futures
import json
import math
import re
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from serving.explain import contributions
from serving.loading import load_model, load_snapshots
from serving.scoring import score_frame


@pytest.fixture(scope="module")
def client(service_url: str, admin_headers):
    with httpx.Client(base_url=service_url, timeout=60, headers=admin_headers) as c:
        yield c


@pytest.fixture(scope="module")
def champion(session_config, mlflow_uri, trained):
    return load_model(session_config, "champion")


@pytest.fixture(scope="module")
def latest(session_config, small_snapshots) -> pd.DataFrame:
    return load_snapshots(session_config, features_file=small_snapshots).get()


def fields_named(response: httpx.Response) -> str:
    """Everything in an error body that can name a field, as one string."""
    body = response.json()
    if isinstance(body, list):  # BentoML wraps some errors in a list
        body = body[0]
    parts = [str(body.get("error", "")), str(body.get("field", ""))]
    for item in body.get("detail", []) or []:
        parts += [str(x) for x in item.get("loc", [])] + [str(item.get("msg", ""))]
    return " ".join(parts)


def test_health_ready_and_metrics(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    client.post("/score", json={"client_ids": [-1]})
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert (
        "bentoml_service_request_total" in metrics.text
        or "bentoml_service_request_duration" in metrics.text
    )
    assert 'endpoint="/score"' in metrics.text
    # the service's own metrics: clients answered by band, and the loaded model
    client.post("/call_list", json={"capacity": 3})
    text = client.get("/metrics").text
    assert re.search(r'churn_scored_clients_total\{[^}]*endpoint="call_list"', text), text[-2000:]
    assert re.search(r'churn_model_info\{[^}]*alias="champion"', text)


def test_version(client, champion, latest):
    v = client.get("/version").json()
    assert v["model_version"] == str(champion.version)
    assert v["alias"] == "champion"
    assert v["as_of"] == latest["as_of"].iloc[0].date().isoformat()
    assert v["n_clients"] == len(latest)
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", v["git_commit"])


def test_score_by_ids_equals_the_library(client, champion, latest, session_config):
    ids = latest.index[:50].tolist()
    body = client.post("/score", json={"client_ids": ids}).json()
    assert body["model_version"] == str(champion.version)
    assert body["as_of"] == latest["as_of"].iloc[0].date().isoformat()
    got = pd.DataFrame(body["scores"])
    assert got["client_id"].tolist() == ids
    expected = score_frame(champion.model, latest.loc[ids], session_config.rules)
    np.testing.assert_allclose(got["probability"], expected["probability"], atol=1e-12)
    # the serving fast path agrees with the model's own predict_proba
    np.testing.assert_allclose(
        got["probability"], champion.model.predict_proba(latest.loc[ids]), atol=1e-12
    )
    assert got["risk_band"].tolist() == expected["risk_band"].tolist()
    assert got["rule_band"].tolist() == expected["rule_band"].tolist()


def test_single_client_calls_are_the_stored_rows(client, latest, service_url, admin_headers):
    """Concurrent single-client ``/score`` calls (a lookup of the stored week) give the
    same rows as one bulk call."""
    ids = latest.index[:40].tolist()
    bulk = {
        r["client_id"]: r["probability"]
        for r in client.post("/score", json={"client_ids": ids}).json()["scores"]
    }

    def one(cid: int) -> dict[str, Any]:
        r = httpx.post(
            f"{service_url}/score", json={"client_ids": [cid]}, timeout=60, headers=admin_headers
        )
        assert r.status_code == 200, r.text
        return r.json()["scores"][0]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        singles = list(pool.map(one, ids))
    for s in singles:
        assert s["probability"] == bulk[s["client_id"]]


def json_row(row: pd.Series, features: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"client_id": int(row["client_id"])}
    for f in features:
        v = row[f]
        if isinstance(v, str):
            out[f] = v
        elif v is None or pd.isna(v):
            out[f] = None
        elif float(v).is_integer() and f in INT_FEATURES:
            out[f] = int(v)
        else:
            out[f] = float(v)
    return out


from features.catalog import CATALOG  # noqa: E402

INT_FEATURES = {f.name for f in CATALOG if f.dtype == "int"}


def test_score_by_features_equals_score_by_ids(client, champion, latest):
    rows = latest.iloc[:20]
    clients = [json_row(r, champion.model.features) for _, r in rows.iterrows()]
    by_features = client.post("/score", json={"clients": clients})
    assert by_features.status_code == 200, by_features.text
    by_ids = client.post("/score", json={"client_ids": rows.index.tolist()}).json()
    a = [s["probability"] for s in by_features.json()["scores"]]
    b = [s["probability"] for s in by_ids["scores"]]
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_explain_is_additive_and_complete(client, champion, latest):
    cid = int(latest.index[3])
    r = client.post("/explain", json={"client_id": cid, "top_k": 4})
    assert r.status_code == 200, r.text
    e = r.json()
    for key in (
        "client_id",
        "as_of",
        "model_version",
        "probability",
        "base_value",
        "contributions",
        "drivers",
        "rule",
    ):
        assert key in e
    assert e["client_id"] == cid and e["model_version"] == str(champion.version)
    assert len(e["contributions"]) == len(champion.model.features)
    # calibrated log-odds: the bars add up to the probability the page shows
    shown = e["base_value"] + sum(c["contribution"] for c in e["contributions"])
    assert 1 / (1 + np.exp(-shown)) == pytest.approx(e["probability"], abs=1e-9)
    assert e["log_odds"] == pytest.approx(shown, abs=1e-9)
    raw = float(champion.model.predict_raw(latest.loc[[cid]])[0])
    assert e["raw_score"] == pytest.approx(raw, abs=1e-6)
    contrib, _ = contributions(champion.model, latest.loc[[cid]])
    assert max(abs(c["contribution"]) for c in e["contributions"]) == pytest.approx(
        np.abs(contrib).max()
    )
    assert 0 < len(e["drivers"]) <= 4
    for d in e["drivers"]:
        assert d["text"] and d["reason_group"] and "feature" in d
    assert {"contact_index", "rule_band", "sub_indicators"} <= set(e["rule"])


def test_call_list(client, latest):
    everyone = client.post("/call_list", json={"capacity": 100_000})
    worth = everyone.json()["clients"]  # everybody whose call has a positive expected profit
    assert everyone.status_code == 200 and 0 < len(worth) <= len(latest)
    assert all(c["expected_profit_rub"] > 0 for c in worth)
    r = client.post("/call_list", json={"capacity": 10})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"] == latest["as_of"].iloc[0].date().isoformat()
    rows = body["clients"]
    assert [c["rank"] for c in rows] == list(range(1, 11))
    loss = [c["expected_loss_rub"] for c in rows]
    assert loss == sorted(loss, reverse=True)
    assert all(c["reasons"] and c["action"] for c in rows)
    by_p = client.post("/call_list", json={"capacity": 10, "ranking": "probability"}).json()
    assert by_p["ranking"] == "probability"
    p = [c["probability"] for c in by_p["clients"]]
    assert p == sorted(p, reverse=True)
    by_value = client.post("/call_list", json={"capacity": 10, "ranking": "expected_profit"})
    value = [c["expected_profit_rub"] for c in by_value.json()["clients"]]
    assert by_value.status_code == 200 and value == sorted(value, reverse=True)
    large = client.post("/call_list", json={"capacity": 5, "segment": "large"}).json()["clients"]
    assert all(c["segment"] == "large" for c in large)


def test_explain_an_earlier_snapshot(client, session_config, small_snapshots):
    snaps = load_snapshots(session_config, features_file=small_snapshots)
    earlier = sorted(snaps.by_as_of)[-2]
    cid = int(snaps.get(earlier).index[0])
    r = client.post("/explain", json={"client_id": cid, "as_of": earlier.date().isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["as_of"] == earlier.date().isoformat()


def test_call_list_for_an_earlier_snapshot(client, session_config, small_snapshots):
    dates = sorted(load_snapshots(session_config, features_file=small_snapshots).by_as_of)
    earlier = dates[-3].date().isoformat()
    body = client.post("/call_list", json={"capacity": 3, "as_of": earlier}).json()
    assert body["as_of"] == earlier


BAD = [
    ("/score", {"client_ids": [987654321]}, 404, "987654321"),
    ("/score", {"client_ids": [1, 987654321]}, 404, "client_ids"),
    ("/score", {}, 400, "client_ids"),
    ("/score", {"client_ids": []}, 400, "client_ids"),
    ("/score", {"client_ids": ["12"]}, 400, "client_ids"),
    ("/score", {"client_ids": [1.5]}, 400, "client_ids"),
    ("/score", {"client_ids": [True]}, 400, "client_ids"),
    ("/score", {"client_ids": "12"}, 400, "client_ids"),
    ("/score", {"client_ids": [1], "clients": [{}]}, 400, "clients"),
    ("/score", {"clients": []}, 400, "clients"),
    ("/score", {"clients": [{"client_id": 1}]}, 400, "logins_30d"),
    ("/score", {"client_ids": [1], "surprise": 1}, 400, "surprise"),
    ("/explain", {"client_id": 987654321}, 404, "987654321"),
    ("/explain", {}, 400, "client_id"),
    ("/explain", {"client_id": "x"}, 400, "client_id"),
    ("/explain", {"client_id": 1, "top_k": 0}, 400, "top_k"),
    ("/explain", {"client_id": 1, "top_k": -2}, 400, "top_k"),
    ("/explain", {"client_id": 1, "top_k": 100000}, 400, "top_k"),
    ("/explain", {"client_id": 1, "as_of": "1999-01-01"}, 404, "as_of"),
    ("/explain", {"client_id": 1, "as_of": 20240101}, 400, "as_of"),
    ("/call_list", {}, 400, "capacity"),
    ("/call_list", {"capacity": 0}, 400, "capacity"),
    ("/call_list", {"capacity": -5}, 400, "capacity"),
    ("/call_list", {"capacity": "10"}, 400, "capacity"),
    ("/call_list", {"capacity": 5, "segment": "huge"}, 400, "segment"),
    ("/call_list", {"capacity": 5, "service_mode": "telepathy"}, 400, "service_mode"),
    ("/call_list", {"capacity": 5, "as_of": "yesterday"}, 400, "as_of"),
    ("/call_list", {"capacity": 5, "ranking": "vibes"}, 400, "ranking"),
    ("/call_list", {"capacity": 5, "as_of": "1999-01-01"}, 404, "as_of"),
]


@pytest.mark.parametrize(("path", "body", "status", "field"), BAD)
def test_bad_input_is_a_4xx_naming_the_field(client, latest, path, body, status, field):
    if path == "/explain" and body.get("client_id") == 1:
        body = {**body, "client_id": int(latest.index[0])}
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert field in fields_named(r)


def test_feature_values_out_of_range_are_named(client, champion, latest):
    base = json_row(latest.iloc[0], champion.model.features)
    cases = [
        ("monthly_fee_rub", -100.0),
        ("logins_30d", -1),
        ("logins_30d", 2.5),
        ("key_user_trained", 3),
        ("training_coverage", 1.5),
        ("segment", "huge"),
        ("competitor_present", 7),
    ]
    for field, value in cases:
        r = client.post("/score", json={"clients": [{**base, field: value}]})
        assert r.status_code == 400, (field, value, r.text)
        assert field in fields_named(r), (field, r.text)
    # NaN is not JSON, but Python's json module writes it: still a 400, not a 5xx
    text = json.dumps({"clients": [{**base, "monthly_fee_rub": float("nan")}]})
    assert "NaN" in text
    r = client.post("/score", content=text, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "monthly_fee_rub" in fields_named(r), r.text


def test_given_features_get_the_rule_computed(client, champion, latest):
    row = latest.iloc[0]
    given = json_row(row, champion.model.features)
    r = client.post("/score", json={"clients": [given]}).json()["scores"][0]
    assert r["contact_index"] == pytest.approx(row["contact_index"])
    assert r["rule_band"] == row["rule_band"]


def test_too_many_ids(client, session_config):
    limit = session_config.serving.max_clients_per_request
    r = client.post("/score", json={"client_ids": list(range(limit + 1))})
    assert r.status_code == 400 and "client_ids" in fields_named(r)


def test_not_json_at_all(client):
    for body in (b"", b"not json", b"[1, 2]", b"\xff\xfe", b'{"client_ids": [1,'):
        r = client.post("/score", content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)


def test_ui_is_served(client):
    r = client.get("/ui")
    assert r.status_code == 200 and "<html" in r.text.lower()
    assert math.isfinite(len(r.text))


def test_score_batch_gives_unknown_ids_nulls_not_errors(client, latest):
    known = int(latest.index[0])
    r = client.post("/score_batch", json={"client_ids": [known, 987654321]})
    assert r.status_code == 200, r.text
    rows = r.json()
    assert rows[0]["client_id"] == known and rows[0]["probability"] is not None
    assert rows[1] == {
        "client_id": 987654321,
        "probability": None,
        "risk_band": None,
        "contact_index": None,
        "rule_band": None,
        "evidence": None,
    }
    assert client.post("/score_batch", json={"client_ids": [2**70]}).status_code == 400


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/vnd.bentoml+pickle",
        "application/octet-stream",
        "text/plain",
    ],
)
def test_non_json_bodies_are_415_not_500(client, content_type):
    for path in ("/score", "/explain", "/call_list", "/score_batch"):
        r = client.post(
            path, content=b'{"client_ids": [1]}', headers={"content-type": content_type}
        )
        assert r.status_code == 415, (path, r.status_code, r.text)
        assert "content-type" in r.json()["error"]
