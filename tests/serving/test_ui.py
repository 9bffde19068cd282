"""The supervisor page, driven in a real headless Chromium against the real service.

What is checked is what a supervisor would see: the page asks for an API key and refuses a
wrong one in its own language; the call list fills in; clicking a client shows the same
probability, bands, driver sentences and SHAP drivers the JSON API returns; the score trend
has one point per stored week, the changes since last week are the service's sentences in
the page's language, the recorded call is listed, and the "limited evidence" badge marks a
short-tenure client only. Russian (the default) and English (``?lang=en``) both.

The server is real (``bentoml serve`` on a free port) over a real SQLite score store that
holds two weeks of the session's small generated base, API keys and one call outcome
(the ``world`` fixture). Uses Debian's chromium (installed by ``make browser``); Playwright's own
browser download is never used.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from churn.config import Config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BAND_TEXT = {
    "en": {"high": "High risk", "dynamic": "Dynamic risk", "no_threat": "No threat"},
    "ru": {"high": "высокий риск", "dynamic": "динамический риск", "no_threat": "нет угрозы"},
}
# what the page says, per language (the dictionary in serving/static/app.js)
WORDS = {
    "en": {
        "raises": "raises risk",
        "lowers": "lowers risk",
        "limited": "limited evidence",
        "changes_title": "What changed since last week",
        "auth_prompt": "Enter an API key",
        "auth_unknown": "Key not accepted",
        "auth_forbidden": "may not use the supervisor page",
        "reached": "yes",
        "callback": "asked for a callback",
    },
    "ru": {
        "raises": "повышает риск",
        "lowers": "снижает риск",
        "limited": "ограниченные данные",
        "changes_title": "Что изменилось с прошлой недели",
        "auth_prompt": "Введите API-ключ",
        "auth_unknown": "Ключ не принят",
        "auth_forbidden": "нет прав на страницу руководителя",
        "reached": "да",
        "callback": "просил перезвонить",
    },
}
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
LANGS = ["ru", "en"]
TIMEOUT_MS = 30_000
OUTCOME_NOTE = "Просил перезвонить после 15:00 / call back after 3 pm"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (run `make browser`); UI test skipped"
)


# --------------------------------------------------------------------------- the world --


@dataclass(frozen=True)
class StoredWorld:
    """What the page is tested on: the server over a store with two weeks and one call."""

    url: str
    keys: dict[str, str]  # by role, plus 'revoked' and 'unknown' (week_helpers.make_keys)
    weeks: list[str]  # ISO dates, oldest first
    long_client: int  # full evidence, scored in both weeks, one call recorded
    short_client: int  # limited evidence (under 90 days of history)

    @property
    def supervisor_key(self) -> str:
        return self.keys["supervisor"]


def write_stored_weeks(cfg: Config, snapshots_file: Path, engine: Engine) -> dict[str, Any]:
    """The last two snapshot dates of ``snapshots_file`` scored by the champion with
    ``serving.weekly.score_week`` and written as two weeks (``store.weeks.write_week``), as
    ``churn weekly`` does, and one call outcome for a long-standing client whose score moved
    between the weeks; returns the weeks and the two clients the tests open."""
    import pandas as pd

    from features.snapshot_file import read_snapshot_file
    from serving.loading import index_snapshots, load_model
    from serving.weekly import score_week
    from store.outcomes import add_outcomes
    from store.weeks import write_week

    loaded = load_model(cfg, "champion")
    snaps = index_snapshots(read_snapshot_file(snapshots_file), str(snapshots_file))
    days = sorted(snaps.by_as_of)[-2:]
    scored: dict[pd.Timestamp, pd.DataFrame] = {}
    for day in days:
        week = score_week(loaded.model, snaps.get(day), cfg=cfg, as_of=day.date(), capacity=200)
        write_week(
            engine,
            as_of=day.date(),
            model_version=str(loaded.version),
            scores=week.scores,
            call_list=week.call_list,
            snapshot_path=str(snapshots_file),
        )
        scored[day] = week.scores.set_index("client_id")
    before, after = scored[days[0]], scored[days[1]]
    both = after.index.intersection(before.index)
    full = after.loc[both].query("evidence == 'full'")
    moved = (full["probability"] - before.loc[full.index, "probability"]).abs()
    long_client = int(moved.idxmax())
    short = after.index[after["evidence"] == "limited"]
    assert len(short), "the small base has no client with under 90 days of history"
    called_on = days[0].date() + timedelta(days=3)
    add_outcomes(
        engine,
        [
            {
                "outcome_id": "ui-test-1",
                "client_id": long_client,
                "called_on": called_on.isoformat(),
                "reached": True,
                "result": "callback",
                "note": OUTCOME_NOTE,
            }
        ],
    )
    return {
        "weeks": [d.date().isoformat() for d in days],
        "long_client": long_client,
        "short_client": int(short[0]),
    }


@pytest.fixture(scope="module")
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoredWorld]:
    """The real server (``week_helpers.running_service``) over a fresh SQLite store of this
    module's own (``write_stored_weeks`` + ``make_keys``): the session's ``weekly_service``
    store is written to by other tests (outcomes, new weeks), which would change what the
    page shows. The process group is killed when the module ends."""
    from week_helpers import make_keys, running_service

    from store.db import connect

    session_config: Config = request.getfixturevalue("session_config")
    request.getfixturevalue("trained")
    small_snapshots: Path = request.getfixturevalue("small_snapshots")
    mlflow_uri: str = request.getfixturevalue("mlflow_uri")
    work = tmp_path_factory.mktemp("ui-service")
    named = _with_names(small_snapshots, work / "snapshots.parquet")
    store = f"sqlite:///{work / 'store.db'}"
    engine = connect(store)
    content = write_stored_weeks(session_config, named, engine)
    keys = make_keys(engine, "ui")
    engine.dispose()
    with running_service(
        session_config,
        work=work,
        store=store,
        tracking_uri=mlflow_uri,
        keys=keys,
    ) as server:
        yield StoredWorld(url=server.url, keys=keys, **content)


def client_name(client_id: int) -> str:
    """The name the UI world gives a client (an export with names, clients.name)."""
    return f'ООО "Строй {client_id}"'


def _with_names(snapshots: Path, out: Path) -> Path:
    """The session's snapshots with the client names a CRM export carries (an id column,
    never a model input: the scores are the same)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(snapshots)
    ids = pc.cast(table.column("client_id"), "string")
    names = pc.binary_join_element_wise('ООО "Строй ', ids, '"', "")
    table = table.set_column(table.schema.get_field_index("name"), "name", names)
    pq.write_table(table, out)
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _new_page(browser: Any) -> Any:
    """A page in a fresh context: its own sessionStorage, so no key carried over."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.js_errors = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))  # type: ignore[attr-defined]
    return pg


@pytest.fixture
def fresh_page(browser: Any) -> Iterator[Any]:
    pg = _new_page(browser)
    yield pg
    pg.context.close()


@pytest.fixture(scope="module")
def page(browser: Any, world: StoredWorld) -> Iterator[Any]:
    """An English page signed in with the supervisor key (kept for the module's tests)."""
    pg = _new_page(browser)
    _sign_in(pg, world, world.supervisor_key, "en")
    yield pg
    pg.context.close()


def _sign_in(page: Any, world: StoredWorld, key: str, lang: str | None) -> None:
    """Open the page (``?lang=`` unless None: the default), wait for the key form, enter
    ``key`` and wait for /version's answer."""
    page.goto(f"{world.url}/ui/" + (f"?lang={lang}" if lang else ""))
    page.locator("[data-testid=auth-panel]").wait_for(state="visible")
    page.fill("[data-testid=api-key]", key)
    with page.expect_response(lambda r: r.url.endswith("/version")):
        page.click("[data-testid=auth-submit]")


def _post(world: StoredWorld, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{world.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {world.supervisor_key}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def _get_version(world: StoredWorld) -> dict[str, Any]:
    response = httpx.get(
        f"{world.url}/version",
        headers={"Authorization": f"Bearer {world.supervisor_key}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def _open_client(page: Any, client_id: int) -> None:
    """Ask for a client and wait for the answers the card is drawn from, then the card."""
    page.fill("[data-testid=client-id]", str(client_id))
    wanted = f'"client_id":{client_id}'
    with (
        page.expect_response(
            lambda r: r.url.endswith("/explain") and wanted in (r.request.post_data or "")
        ),
        page.expect_response(
            lambda r: r.url.endswith("/history") and wanted in (r.request.post_data or "")
        ),
    ):
        page.click("[data-testid=explain]")
    page.locator("[data-testid=card-client-id]").filter(has_text=str(client_id)).wait_for()
    page.locator("[data-testid=client-card]").wait_for(state="visible")


def _ru_date(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}.{m}.{y}"


def _percent(p: float, lang: str) -> str:
    text = f"{p * 100:.1f} %"
    return text.replace(".", ",") if lang == "ru" else text


# ----------------------------------------------------------------------------- access --


@pytest.mark.parametrize("lang", LANGS)
def test_a_wrong_key_is_refused_in_the_page_language(
    fresh_page: Any, world: StoredWorld, lang: str
) -> None:
    page = fresh_page
    words = WORDS[lang]
    page.goto(f"{world.url}/ui/" + ("?lang=en" if lang == "en" else ""))
    panel = page.locator("[data-testid=auth-panel]")
    panel.wait_for(state="visible")
    assert words["auth_prompt"] in page.inner_text("[data-testid=auth-message]")
    assert page.locator("[data-testid=call-list] tbody tr").count() == 0

    page.fill("[data-testid=api-key]", world.keys["unknown"])
    with page.expect_response(lambda r: r.url.endswith("/version")) as answer:
        page.click("[data-testid=auth-submit]")
    assert answer.value.status == 401
    message = page.locator("[data-testid=auth-message].error")
    message.wait_for()
    assert words["auth_unknown"] in message.inner_text()
    assert panel.is_visible()
    if lang == "ru":
        assert CYRILLIC.search(message.inner_text())
    assert page.evaluate("sessionStorage.getItem('churn.apiKey')") is None, "refused key kept"

    page.fill("[data-testid=api-key]", world.keys["revoked"])  # asked again: a revoked key
    with page.expect_response(lambda r: r.url.endswith("/version")) as answer:
        page.click("[data-testid=auth-submit]")
    assert answer.value.status == 401
    page.locator("[data-testid=auth-message].error").wait_for()
    assert words["auth_unknown"] in message.inner_text()
    assert page.locator("[data-testid=call-list] tbody tr").count() == 0
    assert page.js_errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_a_scheduler_key_cannot_open_a_client(
    fresh_page: Any, world: StoredWorld, lang: str
) -> None:
    page = fresh_page
    page.goto(f"{world.url}/ui/?lang={lang}&client={world.long_client}")
    page.locator("[data-testid=auth-panel]").wait_for(state="visible")
    page.fill("[data-testid=api-key]", world.keys["scheduler"])
    with page.expect_response(lambda r: r.url.endswith("/explain")) as answer:
        page.click("[data-testid=auth-submit]")
    assert answer.value.status == 403
    message = page.locator("[data-testid=auth-message].error")
    message.wait_for()
    assert WORDS[lang]["auth_forbidden"] in message.inner_text()
    assert page.locator("[data-testid=auth-panel]").is_visible()
    assert page.locator("[data-testid=client-card]").is_hidden()
    assert page.js_errors == []


# ------------------------------------------------------------ history, changes, calls --


@pytest.mark.parametrize("lang", LANGS)
def test_client_trend_changes_and_outcomes(fresh_page: Any, world: StoredWorld, lang: str) -> None:
    page = fresh_page
    words = WORDS[lang]
    # Russian without asking: the page's default and the config's serving.language
    _sign_in(page, world, world.supervisor_key, None if lang == "ru" else lang)
    assert page.evaluate("document.documentElement.lang") == lang
    _open_client(page, world.long_client)

    history = _post(world, "/history", {"client_id": world.long_client, "weeks": 26})
    explanation = _post(
        world, "/explain", {"client_id": world.long_client, "top_k": 5, "lang": lang}
    )

    # the trend: one point per stored week, oldest first, at the stored probabilities
    assert [w["as_of"][:10] for w in history["history"]] == world.weeks
    points = page.locator("[data-testid=trend-chart] [data-testid=trend-point]")
    assert points.count() == len(world.weeks) == 2
    shown = [points.nth(i).get_attribute("data-as-of") for i in range(points.count())]
    assert shown == world.weeks
    for i, week in enumerate(history["history"]):
        assert float(points.nth(i).get_attribute("data-probability")) == pytest.approx(
            week["probability"]
        )
    xs = [float(points.nth(i).get_attribute("cx")) for i in range(points.count())]
    assert xs == sorted(xs) and xs[0] < xs[1], "weeks must run left to right"
    assert page.locator("[data-testid=trend-line]").count() == 1

    # what changed: the service's sentences in the page's language, previous → current
    changes = explanation["changes"]
    assert changes is not None and changes["items"], "the client's score moved: say why"
    items = page.locator("[data-testid=change]")
    texts = [items.nth(i).inner_text() for i in range(items.count())]
    assert texts == [item["text"] for item in changes["items"]]
    assert all(words["raises"] in t or words["lowers"] in t for t in texts)
    if lang == "ru":
        assert all(CYRILLIC.search(t) for t in texts)
    else:
        assert not any(CYRILLIC.search(t) for t in texts)
    summary = page.inner_text("[data-testid=changes-summary]")
    assert _percent(changes["previous_probability"], lang) in summary
    assert _percent(changes["probability"], lang) in summary
    assert BAND_TEXT[lang][changes["risk_band"]] in summary
    assert "→" in summary
    assert words["changes_title"] in page.inner_text("[data-testid=client-card]")

    # the call recorded for this client
    assert len(history["outcomes"]) == 1
    outcome = history["outcomes"][0]
    rows = page.locator("[data-testid=outcome]")
    assert rows.count() == 1
    row = rows.first.inner_text()
    called_on = str(outcome["called_on"])[:10]
    assert (_ru_date(called_on) if lang == "ru" else called_on) in row
    assert words["reached"] in row and words["callback"] in row and OUTCOME_NOTE in row
    assert page.locator("[data-testid=outcomes-empty]").is_hidden()

    # a long-standing client is not marked; a new one is
    assert explanation["evidence"] == "full"
    assert page.locator("[data-testid=evidence-badge]").is_hidden()
    _open_client(page, world.short_client)
    short = _post(world, "/explain", {"client_id": world.short_client, "top_k": 5, "lang": lang})
    assert short["evidence"] == "limited"
    badge = page.locator("[data-testid=evidence-badge]")
    badge.wait_for(state="visible")
    assert badge.inner_text() == words["limited"]
    assert page.locator("[data-testid=outcome]").count() == 0
    assert page.locator("[data-testid=outcomes-empty]").is_visible()
    assert page.js_errors == []
    if shot := os.environ.get("CHURN_UI_SCREENSHOT"):  # for a person to look at (CI artefact)
        _open_client(page, world.long_client)
        page.screenshot(path=shot.replace(".png", f"-{lang}.png"), full_page=True)


# ------------------------------------------------------------- call list and explain --


def _open_call_list(page: Any, world: StoredWorld, capacity: int) -> Any:
    page.goto(f"{world.url}/ui/?lang=en")
    page.fill("[data-testid=capacity]", str(capacity))
    with page.expect_response(
        lambda r: (
            r.url.endswith("/call_list") and f'"capacity":{capacity}' in (r.request.post_data or "")
        )
    ):
        page.click("[data-testid=load-call-list]")
    rows = page.locator("[data-testid=call-list] tbody tr")
    rows.first.wait_for()
    return rows


def test_call_list_click_shows_what_the_api_says(page: Any, world: StoredWorld) -> None:
    rows = _open_call_list(page, world, capacity=5)
    api_list = _post(world, "/call_list", {"capacity": 5})["clients"]
    expected = [str(c["client_id"]) for c in api_list]
    shown: list[str | None] = []
    for _ in range(50):  # the open-page load may still be drawing: wait for this answer
        shown = [rows.nth(i).get_attribute("data-client-id") for i in range(rows.count())]
        if shown == expected:
            break
        page.wait_for_timeout(100)
    assert rows.count() == len(api_list) == 5
    assert shown == expected, "page must keep the API's ranking"
    # the money column is the expected loss over the model's label horizon, and says so
    horizon = _get_version(world)["horizon_days"]
    header = page.locator("[data-testid=call-list] th[data-i18n=th_money]")
    assert header.inner_text() == f"Expected loss over {horizon} days, RUB"

    client_id = int(shown[0])
    rows.first.click()
    page.locator("[data-testid=card-client-id]").filter(has_text=str(client_id)).wait_for()
    page.locator("[data-testid=client-card]").wait_for(state="visible")
    explanation = _post(world, "/explain", {"client_id": client_id, "top_k": 5, "lang": "en"})
    score = _post(world, "/score", {"client_ids": [client_id]})["scores"][0]

    assert page.input_value("[data-testid=client-id]") == str(client_id)
    assert page.inner_text("[data-testid=card-client-id]") == str(client_id)
    probability = page.inner_text("[data-testid=probability]")
    assert re.fullmatch(r"\d{1,3}\.\d %", probability)
    assert probability == f"{explanation['probability'] * 100:.1f} %"
    assert page.inner_text("[data-testid=risk-band]") == BAND_TEXT["en"][score["risk_band"]]
    assert (
        page.inner_text("[data-testid=rule-band]")
        == BAND_TEXT["en"][explanation["rule"]["rule_band"]]
    )
    assert page.inner_text("[data-testid=contact-index]") == (
        f"{explanation['rule']['contact_index']:.2f}"
    )
    assert page.locator("[data-testid=sub-indicator]").count() >= 3

    drivers = page.locator("[data-testid=driver]")
    assert drivers.count() == len(explanation["drivers"]) >= 1
    assert explanation["drivers"][0]["text"] in drivers.first.inner_text()

    bars = page.locator("[data-testid=shap-bar]")
    assert 1 <= bars.count() <= 10
    by_feature = {c["feature"]: c["contribution"] for c in explanation["contributions"]}
    strongest = max(explanation["contributions"], key=lambda c: abs(c["contribution"]))
    first_bar = bars.first
    assert first_bar.get_attribute("data-feature") == strongest["feature"]
    for i in range(bars.count()):
        bar = bars.nth(i)
        colour = "up" if by_feature[bar.get_attribute("data-feature")] > 0 else "down"
        assert colour in (bar.get_attribute("class") or "").split()
        assert bar.bounding_box()["width"] > 0
    assert page.js_errors == []


def test_the_page_says_when_probabilities_were_recalibrated(
    page: Any, world: StoredWorld, session_config: Config
) -> None:
    """Next to the model version: "probabilities recalibrated on DATE", the day the served
    calibrator was fitted (the champion's metadata, as /version gives it)."""
    from serving.loading import load_model

    calibration = _get_version(world)["calibration"]
    day = calibration["recalibrated_on"]
    champion = load_model(session_config, "champion").model  # what the service loaded
    assert day == champion.metadata["calibrated_at"]
    assert calibration["method"] == champion.calibrator.method
    note = page.locator("[data-testid=model-calibration]")
    note.filter(has_text="recalibrated").wait_for()
    assert note.inner_text() == f"probabilities recalibrated on {day}"
    assert "fitted on the test block" in (note.get_attribute("title") or "")
    assert page.js_errors == []


def test_unknown_client_gives_a_message_naming_it(page: Any, world: StoredWorld) -> None:
    page.goto(f"{world.url}/ui/?lang=en")
    unknown = "987654321"
    page.fill("[data-testid=client-id]", unknown)
    page.click("[data-testid=explain]")
    # the "Looking up client …" status names it too: wait for the error, not just the id
    message = page.locator("[data-testid=client-message].error")
    message.wait_for()
    assert unknown in message.inner_text()
    assert page.locator("[data-testid=client-card]").is_hidden()
    assert page.js_errors == []


def test_segment_filter_narrows_the_list(page: Any, world: StoredWorld) -> None:
    capacity = 50
    everyone = _post(world, "/call_list", {"capacity": capacity})["clients"]
    large = _post(world, "/call_list", {"capacity": capacity, "segment": "large"})["clients"]
    page.goto(f"{world.url}/ui/?lang=en")
    page.fill("[data-testid=capacity]", str(capacity))
    page.select_option("[data-testid=segment]", "large")
    # the page loads the whole list on open: wait for the answer to *this* request, then
    # for the page to render it, not for the first message that happens to say "as of"
    with page.expect_response(
        lambda r: r.url.endswith("/call_list") and '"large"' in (r.request.post_data or "")
    ):
        page.click("[data-testid=load-call-list]")
    page.locator("[data-testid=call-list-message]").filter(has_text="as of").or_(
        page.locator("[data-testid=call-list-message]").filter(has_text="No clients")
    ).wait_for()
    rows = page.locator("[data-testid=call-list] tbody tr")
    expected = [str(c["client_id"]) for c in large]
    shown: list[str | None] = []
    for _ in range(50):  # rendering follows the response within a frame or two
        shown = [rows.nth(i).get_attribute("data-client-id") for i in range(rows.count())]
        if shown == expected:
            break
        page.wait_for_timeout(100)
    assert shown == expected
    assert len(large) <= len(everyone) == capacity
    assert all(c.get("segment", "large") == "large" for c in large)


def test_names_in_the_list_the_card_and_the_search(page: Any, world: StoredWorld) -> None:
    """The list and the card show the client's name from the export; the search box finds a
    client of the week by id or by part of its name (one match opens it, several offer a
    choice), listed or not."""
    _open_call_list(page, world, capacity=12)
    api_list = _post(world, "/call_list", {"capacity": 12})["clients"]
    assert all(c["name"] == client_name(c["client_id"]) for c in api_list)
    first = api_list[0]
    row = page.locator(f"[data-testid=call-list] tr[data-client-id='{first['client_id']}']")
    assert client_name(first["client_id"]) in row.inner_text()
    assert _post(world, "/history", {"client_id": first["client_id"]})["name"] == client_name(
        first["client_id"]
    )
    # part of one name, in other case: that client's card
    target = api_list[-1]
    page.fill("[data-testid=client-id]", f'строй {target["client_id"]}"')
    page.click("[data-testid=explain]")
    page.locator("[data-testid=card-client-id]").filter(
        has_text=str(target["client_id"])
    ).wait_for()
    assert page.inner_text("[data-testid=card-client-name]") == client_name(target["client_id"])
    explanation = _post(world, "/explain", {"client_id": target["client_id"], "lang": "en"})
    assert explanation["name"] == client_name(target["client_id"])
    # a client of the week that is not on the list: found by name all the same (POST /find)
    listed = {c["client_id"] for c in api_list}
    week = _post(world, "/find", {"query": "строй", "limit": 100})["clients"]
    other = next(c for c in week if c["client_id"] not in listed)
    assert other["name"] == client_name(other["client_id"])
    page.fill("[data-testid=client-id]", f'Строй {other["client_id"]}"')
    page.click("[data-testid=explain]")
    page.locator("[data-testid=card-client-id]").filter(has_text=str(other["client_id"])).wait_for()
    # a part every name has: a choice, one click opens that client
    page.fill("[data-testid=client-id]", "Строй")
    page.click("[data-testid=explain]")
    choices = page.locator("[data-testid=client-message] button.choice")
    choices.first.wait_for()
    assert choices.count() == 10
    second = week[1]["client_id"]
    choices.nth(1).click()
    page.locator("[data-testid=card-client-id]").filter(has_text=str(second)).wait_for()
    # no listed client has this in its name: said so, no card
    page.fill("[data-testid=client-id]", "Рога и копыта")
    page.click("[data-testid=explain]")
    page.locator("[data-testid=client-message].error").filter(has_text="Рога и копыта").wait_for()
    assert page.js_errors == []


@pytest.mark.parametrize("width", [1280, 1400, 1920])
def test_the_list_shows_every_column(browser: Any, world: StoredWorld, width: int) -> None:
    """At 1280 px and up every column of the list, the reason and action last, lies inside
    the panel: nothing to scroll sideways to, nothing cut off."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    try:
        _sign_in(pg, world, world.supervisor_key, "ru")
        _open_call_list(pg, world, capacity=25)
        wrap = pg.locator("[data-testid=call-list]").locator("xpath=..")
        box = wrap.bounding_box()
        sizes = wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
        assert sizes[0] <= sizes[1], f"the list scrolls sideways at {width} px: {sizes}"
        headers = pg.locator("[data-testid=call-list] thead th")
        assert headers.count() == 7
        for i in range(headers.count()):
            th = headers.nth(i).bounding_box()
            assert th["x"] >= box["x"] - 1 and th["x"] + th["width"] <= box["x"] + box["width"] + 1
        reason = pg.locator("[data-testid=call-list] tbody td.reason").first.bounding_box()
        assert reason["x"] + reason["width"] <= box["x"] + box["width"] + 1
    finally:
        context.close()


def test_page_has_no_remote_assets() -> None:
    """The box has no internet: the page must not load anything from another origin."""
    static = Path(__file__).resolve().parents[2] / "serving" / "static"
    for name in ("index.html", "app.js", "style.css"):
        text = (static / name).read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), name
        assert "@import" not in text and "cdn" not in text.lower(), name


def test_ru_and_en_dictionaries_have_the_same_labels() -> None:
    """Every page label exists in both languages (a missing one would show its key)."""
    text = (Path(__file__).resolve().parents[2] / "serving/static/app.js").read_text("utf-8")
    block = text[text.index("const I18N = {") : text.index("// Names the page shows")]
    ru_part, en_part = block.split("\n  en: {")
    keys = re.compile(r"^    (\w+):", re.M)
    assert set(keys.findall(ru_part)) == set(keys.findall(en_part))
    html = (Path(__file__).resolve().parents[2] / "serving/static/index.html").read_text("utf-8")
    used = set(re.findall(r'data-i18n(?:-title|-placeholder)?="(\w+)"', html))
    assert used <= set(keys.findall(en_part)), used - set(keys.findall(en_part))


def test_without_lang_the_page_follows_the_configured_language(
    fresh_page: Any, world: StoredWorld
) -> None:
    """``serving.language: en`` (as /version says it) turns the page English unless the URL
    says ``?lang=``; the test server is configured ru, so its real /version answer is
    passed through with only ``language`` rewritten (one server start saved)."""
    page = fresh_page

    def english(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "language": "en"})

    page.route("**/version", english)
    _sign_in(page, world, world.supervisor_key, None)
    page.wait_for_function("document.documentElement.lang === 'en'")
    with page.expect_request(lambda r: r.url.endswith("/explain")) as asked:
        page.fill("[data-testid=client-id]", str(world.long_client))
        page.click("[data-testid=explain]")
    assert '"lang":"en"' in (asked.value.post_data or "")
    page.locator("[data-testid=client-card]").wait_for(state="visible")
    assert WORDS["en"]["changes_title"] in page.inner_text("[data-testid=client-card]")

    page.goto(f"{world.url}/ui/?lang=ru")  # the URL wins over the config
    # the list loads after /version's answer: once it says "as of" in Russian, it was read
    page.locator("[data-testid=call-list-message]").filter(has_text="данные на").wait_for()
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert page.js_errors == []


def test_labels_and_bands_come_from_the_catalog(fresh_page: Any, world: StoredWorld) -> None:
    """The page names signals and bands from ``GET /catalog`` (the spec, rules.yaml, the
    model), not from constants: a label changed in the catalog's answer is what it shows,
    in either language, and its rule bands are the catalog's."""
    import json

    page = fresh_page
    catalog = httpx.get(
        f"{world.url}/catalog",
        headers={"Authorization": f"Bearer {world.supervisor_key}"},
        timeout=30,
    ).json()
    assert catalog["rule_bands"]["high"] == pytest.approx(0.34)
    client_id = int(_post(world, "/call_list", {"capacity": 1})["clients"][0]["client_id"])
    explanation = _post(world, "/explain", {"client_id": client_id, "top_k": 5, "lang": "en"})
    strongest = max(explanation["contributions"], key=lambda c: abs(c["contribution"]))
    edited = json.loads(json.dumps(catalog))
    for s in edited["signals"]:
        if s["name"] == strongest["feature"]:
            s["label"] = {"en": "Label from the catalog", "ru": "Подпись из каталога"}
    edited["rule_bands"] = {"high": 0.9, "dynamic": 0.8, "no_threat": 0.2}

    def serve(route: Any) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(edited))

    page.route("**/catalog", serve)
    for lang, label in (("en", "Label from the catalog"), ("ru", "Подпись из каталога")):
        with page.expect_response(lambda r: r.url.endswith("/catalog")):
            _sign_in(page, world, world.supervisor_key, lang)
        _open_client(page, client_id)
        first = page.locator("[data-testid=shap-bar]").first
        assert first.get_attribute("data-feature") == strongest["feature"]
        names = page.locator("#chart .row .name").first.inner_text()
        assert names.startswith(label), names
        assert page.evaluate("state.ruleBands.high") == 0.9
        assert page.evaluate("ruleBandOf(0.85)") == "dynamic"
        page.evaluate("sessionStorage.clear()")
    assert page.js_errors == []


def test_without_a_rule_the_page_hides_it_and_shows_the_sentence(
    fresh_page: Any, world: StoredWorld
) -> None:
    """Where the source lacks the rule's inputs the service says so (``rule_indicator`` in
    /catalog, ``rule: null`` and ``rule_note`` in /explain, null rule bands in the list):
    the page shows no empty rule column, box or agreement line, and the service's sentence
    instead (the answers are this world's, re-shaped as such a service gives them; the
    real one is tests/test_rule_free.py)."""
    import json

    from rule_free_helpers import SAID

    page = fresh_page
    lang = "en"

    def reshape(route: Any, change: Any) -> None:
        answer = route.fetch()
        body = change(answer.json())
        route.fulfill(response=answer, body=json.dumps(body))

    def catalog(c: dict) -> dict:
        return {**c, "rule_indicator": {"available": False, "reason": SAID}}

    def call_list(c: dict) -> dict:
        rows = [{**r, "rule_band": None, "contact_index": None} for r in c["clients"]]
        return {**c, "clients": rows}

    def explain(c: dict) -> dict:
        return {**c, "rule": None, "rule_note": SAID[lang]}

    page.route("**/catalog", lambda r: reshape(r, catalog))
    page.route("**/call_list", lambda r: reshape(r, call_list))
    page.route("**/explain", lambda r: reshape(r, explain))
    with page.expect_response(lambda r: r.url.endswith("/call_list")):
        _sign_in(page, world, world.supervisor_key, lang)
    rows = page.locator("[data-testid=call-list] tbody tr")
    rows.first.wait_for()
    header = page.locator("[data-testid=call-list] thead th")
    visible = sum(header.nth(i).is_visible() for i in range(header.count()))
    assert visible == header.count() - 1 and rows.first.locator("td").count() == visible
    assert not page.locator("th[data-i18n=th_rule]").is_visible()
    note = page.locator("[data-testid=list-rule-note]")
    assert note.is_visible() and note.inner_text() == SAID[lang]
    client_id = int(rows.first.get_attribute("data-client-id"))
    _open_client(page, client_id)
    assert not page.locator("[data-testid=rule-box]").is_visible()
    assert not page.locator("[data-testid=agreement]").is_visible()
    missing = page.locator("[data-testid=rule-missing]")
    assert missing.is_visible() and missing.inner_text() == SAID[lang]
    assert page.locator("[data-testid=driver]").count() >= 1  # the model's part is whole
    assert page.js_errors == []


def test_with_the_rule_the_page_shows_its_column_and_box(page: Any, world: StoredWorld) -> None:
    rows = _open_call_list(page, world, capacity=3)
    header = page.locator("[data-testid=call-list] thead th")
    assert all(header.nth(i).is_visible() for i in range(header.count()))
    assert rows.first.locator("td").count() == header.count()
    assert not page.locator("[data-testid=list-rule-note]").is_visible()
    _open_client(page, int(rows.first.get_attribute("data-client-id")))
    assert page.locator("[data-testid=rule-box]").is_visible()
    assert not page.locator("[data-testid=rule-missing]").is_visible()
