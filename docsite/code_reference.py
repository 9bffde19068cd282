"""Reference pages read straight from code: the raw-data contract, the module map and the
CLI (every command and option of the Typer app)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

from docsite.markdown import cell, code, table

TYPE_NAMES = {"int": "int64", "float": "float64", "str": "text", "ts": "timestamp (UTC, µs)"}


def render_contract(tables: dict[str, Any], module_doc: str) -> str:
    """The raw-data contract: one section per table, one row per column."""
    parts = [
        "# Raw-data contract",
        "",
        module_doc.strip().split("\n\n", 1)[-1],
        "",
        "Check an export against it with `churn validate DIR` (every violation listed, exit 1 "
        "if any).",
        "",
        table(
            ["table", "kind", "key", "columns"],
            (
                (
                    f"[`{t.name}`](#{t.name.replace('_', '-')})",
                    "event" if t.is_event else "entity",
                    cell(", ".join(t.key)),
                    str(len(t.columns)),
                )
                for t in tables.values()
            ),
        ),
        "",
    ]
    for t in tables.values():
        parts += [f"## {t.name} {{#{t.name.replace('_', '-')}}}", ""]
        if getattr(t, "doc", ""):
            parts += [t.doc, ""]
        facts = [f"File `{t.name}.parquet`", "event table" if t.is_event else "one row per key"]
        if t.key:
            facts.append("key " + ", ".join(f"`{k}`" for k in t.key))
        parts += ["; ".join(facts) + ".", ""]
        rows = []
        for c in t.columns:
            rules = []
            if c.unique:
                rules.append("unique")
            if c.min_value is not None:
                rules.append(f"≥ {c.min_value:g}")
            if getattr(c, "optional", False):
                rules.append("optional column")
            rows.append(
                (
                    code(c.name),
                    TYPE_NAMES.get(c.type, c.type),
                    "yes" if c.nullable else "no",
                    cell(", ".join(f"`{a}`" for a in c.allowed) if c.allowed else ""),
                    cell(", ".join(rules)),
                    cell(getattr(c, "doc", "")),
                )
            )
        parts.append(
            table(["column", "type", "nullable", "allowed values", "rules", "meaning"], rows)
        )
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def module_summary(path: Path) -> str:
    """The first line of a module's docstring (empty when it has none)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def render_modules(root: Path, packages: list[str]) -> str:
    """Every module of every package with the first paragraph of its docstring."""
    parts = [
        "# Modules",
        "",
        "Every module of the program, bottom layer first, with the first paragraph of its "
        "docstring. Data flows down this list: a package imports only the packages above it.",
        "",
    ]
    for package in packages:
        folder = root / package
        if not folder.is_dir():
            continue
        init = folder / "__init__.py"
        parts += [f"## `{package}/`", ""]
        if init.exists() and module_summary(init):
            parts += [module_summary(init), ""]
        rows = []
        for path in sorted(folder.rglob("*.py")):
            if path.name == "__init__.py" or "migrations" in path.parts:
                continue
            rows.append((code(path.relative_to(root).as_posix()), cell(module_summary(path))))
        parts += [table(["module", "what it is for"], rows), ""]
    return "\n".join(parts).rstrip() + "\n"


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands") and hasattr(command, "resolve_command")


def _param_row(param: Any) -> tuple[str, ...]:
    is_argument = getattr(param, "param_type_name", "") == "argument"
    if is_argument:
        name = code(param.name.upper())
    else:
        names = list(param.opts) + list(getattr(param, "secondary_opts", []) or [])
        name = " / ".join(code(n) for n in names)
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if getattr(param, "is_flag", False):
        kind = "flag"
    elif annotation is not None:
        kind = getattr(annotation, "__name__", str(annotation)).replace("Path", "path")
    else:
        kind = getattr(getattr(param, "type", None), "name", "text")
    default = param.default
    if getattr(param, "required", False):
        shown = "required"
    elif default is None or callable(default):
        shown = "—"
    else:
        shown = code(str(default).lower() if isinstance(default, bool) else default)
    return (name, cell(kind), shown, cell(getattr(param, "help", "") or ""))


def _commands(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, command)]
    if _is_group(command):
        for name in sorted(command.commands):
            sub = command.commands[name]
            if getattr(sub, "hidden", False):
                continue
            found += _commands(sub, [*path, name])
    return found


def _usage(command: Any, path: list[str]) -> str:
    words = [" ".join(path)]
    for param in command.params:
        if getattr(param, "param_type_name", "") == "argument":
            words.append(param.name.upper())
    if any(getattr(p, "param_type_name", "") == "option" for p in command.params):
        words.append("[OPTIONS]")
    if _is_group(command):
        words.append("COMMAND [ARGS]...")
    return " ".join(words)


def render_cli(root: Any) -> str:
    """Every command and option of the CLI, from the Click command the Typer app builds."""
    parts = [
        "# Command line: `churn`",
        "",
        "One command, installed into the virtual environment by `make install` "
        "(`.venv/bin/churn`). The options before the command apply to every command; exit "
        "codes: 0 done, 1 failed (or contract violations), 2 bad input, 3 not found, and the "
        "codes each command lists below.",
        "",
    ]
    commands = _commands(root, ["churn"])
    parts.append(
        table(
            ["command", "what it does"],
            (
                (
                    f"[`{' '.join(p)}`](#{'-'.join(p)})",
                    cell((c.help or "").strip().split("\n")[0]),
                )
                for p, c in commands[1:]
                if not _is_group(c)
            ),
        )
    )
    parts.append("")
    for path, command in commands:
        if path == ["churn"]:
            title = "churn"
        elif _is_group(command):
            title = " ".join(path)
        else:
            title = " ".join(path)
        parts += [f"## {title} {{#{'-'.join(path)}}}", ""]
        text = inspect.cleandoc(command.help or "")
        if text:
            parts += [text, ""]
        parts += ["```text", _usage(command, path), "```", ""]
        if command.params:
            parts.append(
                table(
                    ["option", "type", "default", "meaning"],
                    (_param_row(p) for p in command.params),
                )
            )
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"
