"""The supervisor page, driven in a real headless Chromium against the real service.

What is checked is what a supervisor would see: the call list fills in, clicking a client
shows the same probability, bands, driver sentences and SHAP drivers the JSON API returns,
and an unknown id gives a readable message naming it. Uses Debian's chromium (installed by
``make browser``); Playwright's own browser download is never used.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

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
BAND_TEXT = {"high": "High risk", "dynamic": "Dynamic risk", "no_threat": "No threat"}
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (run `make browser`); UI test skipped"
)


@pytest.fixture(scope="module")
def supervisor_headers(service_keys: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {service_keys['supervisor']}"}


@pytest.fixture(scope="module")
def page(service_url: str, supervisor_headers: dict[str, str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        # every request of the page carries a supervisor's key (the service refuses others)
        pg = browser.new_page(
            viewport={"width": 1400, "height": 1000}, extra_http_headers=supervisor_headers
        )
        pg.set_default_timeout(TIMEOUT_MS)
        pg.js_errors = []  # type: ignore[attr-defined]
        pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))  # type: ignore[attr-defined]
        yield pg
        browser.close()


_HEADERS: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _api_key(supervisor_headers: dict[str, str]) -> None:
    _HEADERS.update(supervisor_headers)


def _post(service_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{service_url}{path}", json=body, timeout=30, headers=_HEADERS)
    response.raise_for_status()
    return response.json()


def _open_call_list(page: Any, service_url: str, capacity: int) -> Any:
    page.goto(f"{service_url}/ui")
    page.fill("[data-testid=capacity]", str(capacity))
    page.click("[data-testid=load-call-list]")
    rows = page.locator("[data-testid=call-list] tbody tr")
    rows.first.wait_for()
    return rows


def test_call_list_click_shows_what_the_api_says(page: Any, service_url: str) -> None:
    rows = _open_call_list(page, service_url, capacity=5)
    api_list = _post(service_url, "/call_list", {"capacity": 5})["clients"]
    assert rows.count() == len(api_list) == 5
    shown_ids = [rows.nth(i).get_attribute("data-client-id") for i in range(rows.count())]
    assert shown_ids == [str(c["client_id"]) for c in api_list], "page must keep the API's ranking"

    client_id = int(shown_ids[0])
    rows.first.click()
    page.locator("[data-testid=client-card]").wait_for(state="visible")
    explanation = _post(service_url, "/explain", {"client_id": client_id, "top_k": 5})
    score = _post(service_url, "/score", {"client_ids": [client_id]})["scores"][0]

    assert page.input_value("[data-testid=client-id]") == str(client_id)
    assert page.inner_text("[data-testid=card-client-id]") == str(client_id)
    probability = page.inner_text("[data-testid=probability]")
    assert re.fullmatch(r"\d{1,3}\.\d %", probability)
    assert probability == f"{explanation['probability'] * 100:.1f} %"
    assert page.inner_text("[data-testid=risk-band]") == BAND_TEXT[score["risk_band"]]
    assert page.inner_text("[data-testid=rule-band]") == BAND_TEXT[explanation["rule"]["rule_band"]]
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
    if shot := os.environ.get("CHURN_UI_SCREENSHOT"):  # for a person to look at (CI artefact)
        page.screenshot(path=shot, full_page=True)


def test_unknown_client_gives_a_message_naming_it(page: Any, service_url: str) -> None:
    page.goto(f"{service_url}/ui")
    unknown = "987654321"
    page.fill("[data-testid=client-id]", unknown)
    page.click("[data-testid=explain]")
    # the "Looking up client …" status names it too: wait for the error, not just the id
    message = page.locator("[data-testid=client-message].error")
    message.wait_for()
    assert unknown in message.inner_text()
    assert page.locator("[data-testid=client-card]").is_hidden()
    assert page.js_errors == []


def test_segment_filter_narrows_the_list(page: Any, service_url: str) -> None:
    capacity = 50
    everyone = _post(service_url, "/call_list", {"capacity": capacity})["clients"]
    large = _post(service_url, "/call_list", {"capacity": capacity, "segment": "large"})["clients"]
    page.goto(f"{service_url}/ui")
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
