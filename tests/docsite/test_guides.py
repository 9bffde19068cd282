"""The Russian guides reach the people who use the page: rendered into the service's static
files, up to date with ``docs/ru/``, linked from the page's header and open without a key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docsite import facts, guides
from serving.auth import decide

REPO = Path(__file__).resolve().parents[2]
INDEX = REPO / "serving" / "static" / "index.html"


def test_served_guides_are_rendered_from_the_docs() -> None:
    for path, text in guides.rendered(REPO).items():
        assert path.read_text(encoding="utf-8") == text, "run: python -m docsite.guides"


def test_the_page_header_links_to_both_guides() -> None:
    html = INDEX.read_text(encoding="utf-8")
    header = html[html.index("<header") : html.index("</header>")]
    for served in guides.GUIDES.values():
        assert f'href="/ui/{served}"' in header
        assert (guides.STATIC / served).is_file()


def test_guides_are_open_without_a_key_and_served_by_the_service() -> None:
    from starlette.testclient import TestClient

    from serving.service import web

    client = TestClient(web)
    for served in guides.GUIDES.values():
        path = f"/ui/{served}"
        assert decide(path, presented=False, role=None) is None
        answer = client.get(path)
        assert answer.status_code == 200
        assert "text/html" in answer.headers["content-type"]
        assert "<h1" in answer.text and 'lang="ru"' in answer.text


def test_guides_quote_the_configured_numbers() -> None:
    from churn.config import load_config

    cfg = load_config()
    supervisor = (guides.STATIC / "guide-supervisor.html").read_text(encoding="utf-8")
    assert f"последние {cfg.serving.recall_after_days} дней" in supervisor
    for group in cfg.reasons_in("ru").groups.values():
        assert group.label in supervisor
    assert "{{" not in supervisor
    # links to pages the service does not serve are plain text, links between guides stay
    assert not re.search(r'href="\.\./', supervisor)
    operator = (guides.STATIC / "guide-operator.html").read_text(encoding="utf-8")
    assert 'href="/ui/guide-supervisor.html"' in operator


def test_an_unknown_placeholder_fails_naming_it() -> None:
    with pytest.raises(ValueError, match="serving.no_such_key"):
        facts.expand("{{ cfg.serving.no_such_key }}")
    assert facts.expand("{{ pct cfg.retention.holdout_share }}").endswith("%")


def test_role_tables_come_from_the_enforced_table() -> None:
    from serving.auth import ENDPOINT_ROLES

    supervisor = facts.expand("{{ role_endpoints supervisor }}")
    scheduler = facts.expand("{{ role_endpoints scheduler }}")
    for path, roles in ENDPOINT_ROLES.items():
        if path == "/score_batch":
            continue
        assert (f"`{path}`" in supervisor) == ("supervisor" in roles), path
        assert (f"`{path}`" in scheduler) == ("scheduler" in roles), path
