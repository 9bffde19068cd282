"""Every ``churn`` command quoted in the README and the docs names a real command with real
options, parsed by the CLI's own parser, so examples cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from cli.main import app
from docsite.commands import check_command, commands_in, commands_in_file

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


@pytest.fixture(scope="module")
def root():
    return typer.main.get_command(app)


def test_every_quoted_command_parses(root) -> None:
    quoted = [q for doc in DOCUMENTS for q in commands_in_file(doc, REPO)]
    assert len(quoted) >= 60, "the extractor lost the docs' commands"
    bad = [f"{q} -> {problem}" for q in quoted if (problem := check_command(root, q.argv))]
    assert bad == [], "\n".join(bad)


def test_the_readme_quotes_commands(root) -> None:
    quoted = commands_in_file(REPO / "README.md", REPO)
    assert {q.argv[0] for q in quoted if q.argv} >= {"weekly", "serve", "monitor", "retrain"}


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (("weekli", "--raw", "d"), "no such command 'weekli'"),
        (("weekly", "--raw", "d", "--bogus", "1"), "No such option: --bogus"),
        (("keys", "add", "--nam", "anna"), "No such option: --nam"),
        (("weekly", "--revalidate=yes"), "does not take a value"),
        (("weekly", "--raw"), "requires an argument"),
        (("validate", "a", "b"), "unexpected argument"),
        (("--bogus", "weekly"), "No such option: --bogus"),
    ],
)
def test_a_wrong_command_is_caught(root, argv, why) -> None:
    problem = check_command(root, argv)
    assert problem is not None and why in problem


def test_placeholders_and_global_options_pass(root) -> None:
    for argv in (
        ("weekly", "--raw", "DIR", "--capacity", "K", "--as-of", "D"),
        ("--config", "my.yaml", "weekly", "--raw", "d"),
        ("keys",),
        ("weekly", "--help"),
        ("weekly", "--raw", "d", "--revalidate"),
    ):
        assert check_command(root, argv) is None, argv


def test_commands_are_found_in_shell_cron_systemd_and_inline_code() -> None:
    text = "\n".join(
        [
            "Run `churn validate data/raw` first; `churn-risk` is the project, not a command.",
            "```bash",
            ".venv/bin/churn weekly --raw data/raw \\",
            "    --capacity 100   # a comment",
            "CHURN_STORE_URL=postgresql+psycopg://x/y .venv/bin/churn keys list",
            "```",
            "```cron",
            "30 5 * * 1  cd /srv && .venv/bin/churn weekly --raw /d && .venv/bin/churn monitor",
            "```",
            "```ini",
            "ExecStart=/srv/.venv/bin/churn retrain --json r.json",
            "```",
            "```python",
            "churn = 'not a command'",
            "```",
        ]
    )
    found = [q.argv for q in commands_in(text)]
    assert found == [
        ("validate", "data/raw"),
        ("weekly", "--raw", "data/raw", "--capacity", "100"),
        ("keys", "list"),
        ("weekly", "--raw", "/d"),
        ("monitor",),
        ("retrain", "--json", "r.json"),
    ]


def test_every_config_key_named_in_the_docs_exists() -> None:
    """A key quoted as `section.key` (e.g. `serving.recall_after_days`) is a real key of the
    configuration, so a renamed or removed setting cannot linger in the docs."""
    import re

    from churn.config import Config
    from docsite.config_reference import walk

    sections = set(Config.model_fields)
    known = [k.path for _, _, k in walk(Config)]
    known += [p[: p.index("<name>") + 6] for p in known if "<name>" in p]  # the entry itself
    patterns = [re.compile("^" + re.escape(p).replace("<name>", "[^.]+") + "$") for p in known]
    alternatives = "|".join(sorted(sections))
    quoted = re.compile(rf"`((?:{alternatives})\.[a-z_][a-z0-9_.]*)`")

    def python_name(name: str) -> bool:  # `store.weeks.held_out_since` is code, not a key
        import importlib.util

        try:
            return importlib.util.find_spec(".".join(name.split(".")[:2])) is not None
        except ModuleNotFoundError:
            return False

    unknown = []
    for doc in DOCUMENTS:
        for name in quoted.findall(doc.read_text(encoding="utf-8")):
            if re.search(r"\.(ya?ml|py|md|json|csv|parquet)$", name):
                continue  # a file such as reasons.ru.yaml, not a key
            if not any(p.match(name) for p in patterns) and not python_name(name):
                unknown.append(f"{doc.relative_to(REPO)}: {name}")
    assert unknown == [], "\n".join(unknown)
