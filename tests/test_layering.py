"""Data flows one way and the CLI sits on top: no layer imports a layer above it.

The order, bottom to top: ``churn`` (config, errors, tracking) → ``features`` (the raw
contract and signals) → ``importing`` (CRM reports into that contract) → ``simulator``
(writes in that contract, stands in for the CRM) →
``training`` → ``store`` → ``monitoring`` → ``serving`` → ``loop`` (the closed loop in
simulation: drives the weekly run over the simulator's base) → ``cli``. A module may import its
own layer and any layer below it, never above; checked on the source, so it fails on any
new upward import, including one hidden inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from docsite.pages import LAYER_ORDER

ROOT = Path(__file__).resolve().parents[1]
LAYERS = LAYER_ORDER  # bottom layer first; declared once, beside the docs page that shows it
# The simulator is a data source, not a consumer: model code never reads it.
SIBLINGS = {
    ("training", "simulator"),
    ("store", "simulator"),
    ("monitoring", "simulator"),
    ("serving", "simulator"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules() -> list[tuple[str, Path]]:
    return [(pkg, p) for pkg in LAYERS if (ROOT / pkg).is_dir() for p in (ROOT / pkg).rglob("*.py")]


@pytest.mark.parametrize(("pkg", "path"), _modules(), ids=lambda v: str(v))
def test_no_upward_import(pkg: str, path: Path) -> None:
    level = LAYERS.index(pkg)
    bad = sorted(
        name
        for name in _imports(path) & set(LAYERS)
        if LAYERS.index(name) > level or (pkg, name) in SIBLINGS
    )
    assert not bad, f"{path.relative_to(ROOT)} ({pkg}) imports layer(s) above it: {bad}"


def test_cli_is_not_imported_by_library_code() -> None:
    offenders = [
        str(p.relative_to(ROOT)) for pkg, p in _modules() if pkg != "cli" and "cli" in _imports(p)
    ]
    assert offenders == []


# The edge: only cli/ talks to the terminal. Library packages log (``logging``) or return
# values; cli/ parses arguments, calls a library function and prints what it returns.
LIBRARY = [layer for layer in LAYERS if layer != "cli"]


def _talks_to_the_terminal(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in {"print", "input", "breakpoint"}:
                found.append(f"{node.func.id}() at line {node.lineno}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            found += [
                f"imports {n} at line {node.lineno}"
                for n in names
                if n.split(".")[0] in {"typer", "click"}
            ]
    return found


@pytest.mark.parametrize(
    "path",
    [p for pkg in LIBRARY if (ROOT / pkg).is_dir() for p in sorted((ROOT / pkg).rglob("*.py"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_library_code_neither_prints_nor_imports_typer(path: Path) -> None:
    assert _talks_to_the_terminal(path) == [], f"{path.relative_to(ROOT)}: log or return instead"


def test_the_terminal_check_catches_a_print_and_a_typer_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import typer\n\ndef f():\n    print('x')\n", encoding="utf-8")
    assert _talks_to_the_terminal(bad) == ["imports typer at line 1", "print() at line 4"]
