"""The generated reference pages cover what the code has: every CLI command and option,
every configuration key, every endpoint with its roles, every contract column, every
module. Checked against the code itself, so a page that silently loses a section fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from cli.main import app
from docsite import config_reference, pages

REPO = Path(__file__).resolve().parents[2]


def _commands(command, path):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, [*path, name])


def test_cli_page_has_every_command_and_option() -> None:
    text = pages.cli_page()
    for path, command in _commands(typer.main.get_command(app), ["churn"]):
        assert f"## {' '.join(path)} {{#" in text, path
        for param in command.params:
            if getattr(param, "param_type_name", "") == "argument":
                assert f"`{param.name.upper()}`" in text, (path, param.name)
            else:
                for opt in param.opts:
                    assert f"`{opt}`" in text, (path, opt)


def test_config_page_has_every_key_with_type_and_default() -> None:
    text = pages.config_page()
    for _, root in pages._settings_models().items():
        for _, sub, key in config_reference.walk(root):
            if sub is None:
                assert f"| `{key.path}` | " in text, key.path
    # a known key with its default and the meaning written beside it in churn/config.py
    line = next(ln for ln in text.splitlines() if ln.startswith("| `serving.recall_after_days` |"))
    assert "`28`" in line and "≥ 0" in line


def test_config_meaning_is_read_from_the_source() -> None:
    from pydantic import BaseModel, Field

    class Example(BaseModel):
        """An example section."""

        a: int = 1  # the comment on its line
        b: float = Field(0.5, ge=0, description="from the description")
        c: str = "x"
        """From an attribute docstring."""
        d: int = 0
        # a note over a group of settings,
        # two lines long: it covers both fields below
        e: int = 0
        f: int = 0
        # one line: this field only
        g: int = 0
        h: int = 0

    keys = {k.path: k for _, _, k in config_reference.walk(Example)}
    group = "a note over a group of settings, two lines long: it covers both fields below"
    assert keys["e"].meaning == keys["f"].meaning == group
    assert keys["g"].meaning == "one line: this field only" and keys["h"].meaning == ""
    assert keys["a"].meaning == "the comment on its line"
    assert keys["b"].meaning == "from the description" and keys["b"].constraint == "≥ 0"
    assert keys["c"].meaning == "From an attribute docstring."
    assert keys["d"].meaning == ""
    assert config_reference.undocumented(Example) == ["d", "h"]


@pytest.fixture(scope="module")
def api_page() -> str:
    return pages.api_pages()["reference/http-api.md"]


def test_api_page_has_every_endpoint_with_its_roles(api_page: str) -> None:
    from serving.auth import ROLES, allowed_roles

    spec = pages.openapi_spec()
    for path, ops in spec["paths"].items():
        if path == "/score_batch":
            continue
        allowed = allowed_roles(path)
        who = "open (no key)" if allowed is None else ", ".join(r for r in ROLES if r in allowed)
        for method in ops:
            assert f"## `{method.upper()} {path}`\n\n**Roles:** {who}\n" in api_page, path
    assert "**Roles:** supervisor, admin" in api_page  # /explain is not the scheduler's


def test_contract_page_has_every_table_and_column() -> None:
    from features.contract import TABLES

    text = pages.contract_page()
    for table in TABLES.values():
        assert f"## {table.name} " in text
        for column in table.columns:
            assert f"| `{column.name}` |" in text, (table.name, column.name)


def test_modules_page_lists_every_module() -> None:
    from docsite.code_reference import render_modules

    names = pages.packages(REPO)
    assert {"churn", "features", "serving", "cli"} <= set(names)
    text = render_modules(REPO, names)
    for package in names:
        for path in (REPO / package).glob("*.py"):
            if path.name != "__init__.py":
                assert f"`{path.relative_to(REPO).as_posix()}`" in text


def test_every_alert_has_a_line_in_the_alerts_how_to() -> None:
    import re

    import monitoring.alerts

    names = re.findall(r"^\* ``([a-z_]+:[a-z_:<>]+)``", monitoring.alerts.__doc__ or "", re.M)
    assert len(names) >= 4, names
    for doc in ("docs/how-to/monitoring-alerts.md", "docs/ru/operator.md"):
        page = (REPO / doc).read_text(encoding="utf-8")
        missing = [n for n in names if f"| `{n.replace('<name>', '<')}" not in page]
        assert missing == [], f"{doc} lacks {missing}"


def test_every_setting_has_a_meaning() -> None:
    """Each key of every settings file says what it means where it is declared (the field's
    comment, attribute docstring or description, or the shipped YAML's comment)."""
    text = pages.config_page()
    missing = [
        line.split("|")[1].strip()
        for line in text.splitlines()
        if line.startswith("| `") and line.rstrip().endswith("| — |")
    ]
    assert missing == [], f"settings without a meaning: {missing}"
