"""The service over a score store with two stored weeks (``weekly_service``): the served
week, the stored call list with its holdout, evidence, history oldest first with outcomes,
what changed since last week in Russian and English, and call outcomes (idempotent,
all-or-nothing, 20 concurrent posters losing nothing)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from serving_helpers import assert_same_answer
from week_helpers import concurrent_posters, outcome_row

from serving.changes import what_changed
from serving.current import read_week_snapshot
from serving.explain import explain_client, explain_frame
from serving.sentences import signal_label
from store.outcomes import count_outcomes, outcomes_for
from store.weeks import get_week, history, previous_score, read_call_list, read_scores


def post(server, path: str, body: Any, role: str = "admin") -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, headers=server.headers(role), timeout=60)


def week_snapshot(server, as_of):
    return read_week_snapshot(get_week(server.extra["engine"], as_of).snapshot_path, as_of)


def test_readyz_and_version_say_the_served_week(weekly_service):
    weeks = weekly_service.extra["weeks"]
    ready = httpx.get(f"{weekly_service.url}/readyz", timeout=60).json()
    assert ready["ready"] is True
    assert ready["as_of"] == weeks[-1].isoformat()
    version = httpx.get(f"{weekly_service.url}/version", headers=weekly_service.headers()).json()
    assert version["as_of"] == weeks[-1].isoformat()
    assert version["as_of_available"] == [w.isoformat() for w in weeks]
    assert ready["model_version"] == version["model_version"] == version["alias_version"]


def test_call_list_is_the_stored_list_without_the_holdout(weekly_service, champion):
    engine, as_of = weekly_service.extra["engine"], weekly_service.extra["weeks"][-1]
    stored = read_call_list(engine, as_of)
    assert (stored["assignment"] == "holdout").any(), "the test week must hold some out"
    body = post(weekly_service, "/call_list", {"capacity": 1000}, role="scheduler").json()
    assert body["as_of"] == as_of.isoformat()
    sent = stored[stored["selected"]].sort_values("rank")
    assert [c["client_id"] for c in body["clients"]] == sent["client_id"].tolist()
    assert [c["rank"] for c in body["clients"]] == list(range(1, len(sent) + 1))
    assert {c["assignment"] for c in body["clients"]} == {"call"}
    scores = read_scores(engine, as_of).set_index("client_id")
    for c in body["clients"]:
        assert c["probability"] == pytest.approx(scores.loc[c["client_id"], "probability"])
        assert c["evidence"] == scores.loc[c["client_id"], "evidence"]
        assert c["reasons"] and c["action"]
    short = post(weekly_service, "/call_list", {"capacity": 3}).json()["clients"]
    assert [c["client_id"] for c in short] == sent["client_id"].tolist()[:3]
    everyone = post(weekly_service, "/call_list", {"capacity": 1000, "include_holdout": True})
    rows = everyone.json()["clients"]
    assert [c["client_id"] for c in rows] == stored.sort_values("rank")["client_id"].tolist()
    held = {c["client_id"] for c in rows if c["assignment"] == "holdout"}
    assert held == set(stored.loc[stored["assignment"] == "holdout", "client_id"])
    assert not held & {c["client_id"] for c in body["clients"]}
    assert all(c["propensity"] == pytest.approx(0.9) for c in rows)


def test_call_list_reasons_follow_lang(weekly_service, champion, session_config):
    as_of = weekly_service.extra["weeks"][-1]
    snapshot = week_snapshot(weekly_service, as_of)
    for lang in ("en", "ru"):
        clients = post(weekly_service, "/call_list", {"capacity": 5, "lang": lang}).json()
        ids = [c["client_id"] for c in clients["clients"]]
        why = explain_frame(
            champion.model, snapshot.loc[ids], 3, reasons=session_config.reasons_in(lang)
        )
        assert [c["reasons"][0]["text"] for c in clients["clients"]] == why["reason_1"].tolist()
    r = post(weekly_service, "/call_list", {"capacity": 5, "lang": "de"})
    assert r.status_code == 400 and r.json()["field"] == "lang"


def test_earlier_stored_week_call_list(weekly_service):
    first = weekly_service.extra["weeks"][0]
    body = post(weekly_service, "/call_list", {"capacity": 5, "as_of": first.isoformat()}).json()
    stored = read_call_list(weekly_service.extra["engine"], first)
    assert body["as_of"] == first.isoformat()
    assert [c["client_id"] for c in body["clients"]] == (
        stored[stored["selected"]].sort_values("rank")["client_id"].tolist()[:5]
    )
    r = post(weekly_service, "/call_list", {"capacity": 5, "as_of": "1999-01-01"})
    assert r.status_code == 404 and "as_of" in r.json()["error"]


def test_score_rows_carry_the_stored_evidence(weekly_service):
    engine, as_of = weekly_service.extra["engine"], weekly_service.extra["weeks"][-1]
    scores = read_scores(engine, as_of).set_index("client_id")
    limited = scores.index[scores["evidence"] == "limited"].tolist()[:3]
    full = scores.index[scores["evidence"] == "full"].tolist()[:3]
    assert limited and full, "the base must have new clients and established ones"
    body = post(weekly_service, "/score", {"client_ids": limited + full}, "scheduler").json()
    assert [s["evidence"] for s in body["scores"]] == ["limited"] * len(limited) + ["full"] * len(
        full
    )
    single = post(weekly_service, "/score", {"client_ids": [limited[0]]}, "scheduler").json()
    assert single["scores"][0]["evidence"] == "limited"


def _moved_client(server) -> int:
    """A client scored in both weeks whose probability moved the most."""
    engine, (w1, w2) = server.extra["engine"], server.extra["weeks"][-2:]
    a = read_scores(engine, w1).set_index("client_id")["probability"]
    b = read_scores(engine, w2).set_index("client_id")["probability"]
    both = a.index.intersection(b.index)
    return int((b[both] - a[both]).abs().idxmax())


def test_history_is_oldest_first_with_outcomes(weekly_service):
    engine, weeks = weekly_service.extra["engine"], weekly_service.extra["weeks"]
    cid = _moved_client(weekly_service)
    outcomes = [
        {
            "outcome_id": f"hist-{cid}-2",
            "client_id": cid,
            "called_on": weeks[-1].isoformat(),
            "reached": True,
            "result": "retained",
            "note": "agreed to training",
        },
        {
            "outcome_id": f"hist-{cid}-1",
            "client_id": cid,
            "called_on": weeks[0].isoformat(),
            "reached": False,
            "result": "no_answer",
            "note": None,
        },
    ]
    r = post(weekly_service, "/outcomes", {"outcomes": outcomes}, role="scheduler")
    assert r.status_code == 200 and r.json() == {"inserted": 2, "already_recorded": 0}, r.text
    body = post(weekly_service, "/history", {"client_id": cid, "weeks": 26}, "supervisor").json()
    assert body["client_id"] == cid
    assert [h["as_of"] for h in body["history"]] == [w.isoformat() for w in weeks]
    stored = history(engine, cid, 26)
    assert [h["probability"] for h in body["history"]] == pytest.approx(
        [s["probability"] for s in stored]
    )
    assert set(body["history"][0]) >= {
        "as_of",
        "probability",
        "risk_band",
        "contact_index",
        "rule_band",
        "model_version",
    }
    assert [o["outcome_id"] for o in body["outcomes"]] == [f"hist-{cid}-1", f"hist-{cid}-2"]
    assert body["outcomes"][1] == {
        "outcome_id": f"hist-{cid}-2",
        "called_on": weeks[-1].isoformat(),
        "reached": True,
        "result": "retained",
        "note": "agreed to training",
    }
    last = post(weekly_service, "/history", {"client_id": cid, "weeks": 1}).json()
    assert [h["as_of"] for h in last["history"]] == [weeks[-1].isoformat()]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"client_id": 987654321}, 404, "client_id"),
        ({"client_id": 1, "weeks": 0}, 400, "weeks"),
        ({"client_id": 1, "weeks": 521}, 400, "weeks"),
        ({"client_id": 1, "weeks": "26"}, 400, "weeks"),
        ({"client_id": "1"}, 400, "client_id"),
        ({}, 400, "client_id"),
    ],
)
def test_history_bad_requests(weekly_service, body, status, field):
    r = post(weekly_service, "/history", body)
    assert r.status_code == status, r.text
    assert field in r.text


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_explain_says_what_changed_since_last_week(weekly_service, champion, session_config, lang):
    engine, (w1, w2) = weekly_service.extra["engine"], weekly_service.extra["weeks"][-2:]
    cid = _moved_client(weekly_service)
    r = post(weekly_service, "/explain", {"client_id": cid, "top_k": 3, "lang": lang}, "supervisor")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lang"] == lang and body["as_of"] == w2.isoformat()
    changes = body["changes"]
    assert changes["previous_as_of"] == w1.isoformat() and changes["as_of"] == w2.isoformat()
    reasons = session_config.reasons_in(lang)
    expected = what_changed(
        champion.model,
        week_snapshot(weekly_service, w2).loc[[cid]],
        week_snapshot(weekly_service, w1).loc[[cid]],
        reasons=reasons,
        rules=session_config.rules,
        previous_score=previous_score(engine, cid, w2),
    )
    assert [i["text"] for i in changes["items"]] == [i["text"] for i in expected["items"]]
    assert changes["items"], "the client whose risk moved most must have a change to show"
    assert changes["previous_probability"] == pytest.approx(
        read_scores(engine, w1).set_index("client_id").loc[cid, "probability"]
    )
    for item in changes["items"]:
        direction = reasons.raises if item["direction"] == "raises" else reasons.lowers
        assert item["text"].endswith(f"{reasons.separator}{direction}")
        label = signal_label(item["feature"], reasons)
        assert item["text"].startswith(label) and label != item["feature"]
    # every sentence in the asked language: drivers too
    driver_texts = " ".join(d["text"] for d in body["drivers"])
    has_cyrillic = any("а" <= ch <= "я" for ch in driver_texts.lower())
    assert has_cyrillic == (lang == "ru")
    assert body["evidence"] in ("full", "limited")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_explain_words_the_stored_shap_values_as_computing_them_would(
    weekly_service, champion, session_config, lang
):
    """/explain reads the SHAP values the week stored: the answer is the one computing
    them for the request gives (explain_client, what_changed against the previous stored
    week), and its probability is the stored one."""
    engine, (w1, w2) = weekly_service.extra["engine"], weekly_service.extra["weeks"][-2:]
    now, before = week_snapshot(weekly_service, w2), week_snapshot(weekly_service, w1)
    scores = read_scores(engine, w2).set_index("client_id")
    assert scores["shap_raw"].notna().all(), "the weekly run stores every client's values"
    reasons = session_config.reasons_in(lang)
    ids = [*scores.index[:2].tolist(), int(scores.index[-1]), _moved_client(weekly_service)]
    for cid in ids:
        r = post(weekly_service, "/explain", {"client_id": cid, "top_k": 4, "lang": lang})
        assert r.status_code == 200, r.text
        body = r.json()
        want = explain_client(
            champion.model, now.loc[[cid]], top_k=4, reasons=reasons, rules=session_config.rules
        )
        assert_same_answer({k: body[k] for k in want}, want, f"client {cid}")
        assert body["probability"] == scores.loc[cid, "probability"]
        if cid in before.index:
            changes = what_changed(
                champion.model,
                now.loc[[cid]],
                before.loc[[cid]],
                reasons=reasons,
                rules=session_config.rules,
                previous_score=previous_score(engine, cid, w2),
            )
            assert_same_answer(body["changes"], changes, f"changes of {cid}")


def test_explain_default_language_and_bad_lang(weekly_service, session_config):
    cid = _moved_client(weekly_service)
    body = post(weekly_service, "/explain", {"client_id": cid}).json()
    assert body["lang"] == session_config.serving.language
    for lang, status in (("de", 400), (5, 400), ("", 400)):
        r = post(weekly_service, "/explain", {"client_id": cid, "lang": lang})
        assert r.status_code == status and "lang" in r.text, (lang, r.text)


def test_no_previous_week_means_no_changes(weekly_service):
    first = weekly_service.extra["weeks"][0]
    cid = _moved_client(weekly_service)
    r = post(weekly_service, "/explain", {"client_id": cid, "as_of": first.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["as_of"] == first.isoformat() and r.json()["changes"] is None
    stored = read_scores(weekly_service.extra["engine"], first).set_index("client_id")
    assert r.json()["evidence"] == stored.loc[cid, "evidence"]


def test_outcomes_are_idempotent(weekly_service):
    engine = weekly_service.extra["engine"]
    cid = _moved_client(weekly_service)
    batch = {"outcomes": [outcome_row(f"idem-{i}", cid) for i in range(3)]}
    before = count_outcomes(engine)
    first = post(weekly_service, "/outcomes", batch, role="scheduler")
    assert first.json() == {"inserted": 3, "already_recorded": 0}, first.text
    again = post(weekly_service, "/outcomes", batch, role="scheduler")
    assert again.json() == {"inserted": 0, "already_recorded": 3}
    assert count_outcomes(engine) == before + 3


BAD_ROWS = [
    ({"result": "maybe"}, "outcomes[1].result"),
    ({"reached": "yes"}, "outcomes[1].reached"),
    ({"reached": 1}, "outcomes[1].reached"),
    ({"called_on": "2025-13-01"}, "outcomes[1].called_on"),
    ({"called_on": "2025-09-03T10:00:00"}, "outcomes[1].called_on"),
    ({"client_id": "5"}, "outcomes[1].client_id"),
    ({"client_id": -1}, "outcomes[1].client_id"),
    ({"outcome_id": ""}, "outcomes[1].outcome_id"),
    ({"outcome_id": " "}, "outcomes[1].outcome_id"),
    ({"outcome_id": 7}, "outcomes[1].outcome_id"),
    ({"note": "x" * 4001}, "outcomes[1].note"),
    ({"surprise": 1}, "outcomes[1].surprise"),
    ({"client_id": 987654321}, "outcomes[1].client_id"),
]


@pytest.mark.parametrize(("change", "field"), BAD_ROWS)
def test_a_bad_row_names_its_field_and_writes_nothing(weekly_service, change, field):
    engine = weekly_service.extra["engine"]
    cid = _moved_client(weekly_service)
    before = count_outcomes(engine)
    good = outcome_row(f"bad-batch-good-{BAD_ROWS.index((change, field))}", cid)
    bad = outcome_row("bad-batch-bad", cid, **change)
    r = post(weekly_service, "/outcomes", {"outcomes": [good, bad]}, role="scheduler")
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["field"] == field and field in r.json()["error"], r.text
    assert count_outcomes(engine) == before
    assert good["outcome_id"] not in {o["outcome_id"] for o in outcomes_for(engine, cid)}


@pytest.mark.parametrize(
    "body", [{"outcomes": []}, {"outcomes": "x"}, {}, {"outcomes": [1]}, {"rows": []}]
)
def test_malformed_outcome_batches_are_400(weekly_service, body):
    r = post(weekly_service, "/outcomes", body, role="scheduler")
    assert r.status_code == 400 and "outcomes" in r.text or "rows" in r.text, r.text


def test_twenty_concurrent_posters_lose_nothing(weekly_service):
    engine = weekly_service.extra["engine"]
    ids = read_scores(engine, weekly_service.extra["weeks"][-1])["client_id"].tolist()[:50]
    before = count_outcomes(engine)
    inserted, known, distinct = concurrent_posters(
        weekly_service.url, weekly_service.keys["scheduler"], ids, "race"
    )
    assert inserted + known == 20 * 5 * 8
    assert count_outcomes(engine) - before == inserted == distinct
