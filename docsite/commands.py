"""Every ``churn`` command quoted in the docs must parse against the real Typer app.

Examples rot quietly: an option is renamed, a command is merged into another, and the
README still shows the old spelling. :func:`commands_in` finds the ``churn`` invocations in
Markdown (fenced code blocks, including shell lines after ``cd ... &&``, cron lines and
systemd ``ExecStart=``, and inline code spans that start with ``churn``), and
:func:`check_command` parses each one with the CLI's own parser (``make_context`` with
resilient parsing: values are not converted, so placeholders such as ``--as-of D`` pass,
but an unknown command, an unknown option, a flag given a value or a stray argument fail).
``tests/docsite/test_commands.py`` runs it over ``README.md`` and every page in ``docs/``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # Typer >= 0.20 vendors its own click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older Typer on PyPI click
    from click import exceptions as click_exceptions

FENCE = re.compile(r"^(\s*)(```+|~~~+)(.*)$")
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
SHELL_SPLIT = re.compile(r"\s*(?:&&|\|\||;|\|)\s*")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# lines of a code block that are not plain shell: cron's schedule fields, systemd's Exec*= keys
CRON_FIELD = re.compile(r"^[\d*/,\-]+$")
SYSTEMD_EXEC = re.compile(r"^\s*Exec\w*=-?")
SKIP_LANGUAGES = {"python", "py", "yaml", "yml", "json", "mermaid", "text", "csv", "sql"}


@dataclass(frozen=True)
class Quoted:
    """One ``churn`` invocation found in a document."""

    source: str  # file name
    line: int  # 1-based line where the command starts
    argv: tuple[str, ...]  # the words after ``churn``

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: churn {' '.join(self.argv)}"


def _is_churn(word: str) -> bool:
    return word == "churn" or word.endswith("/churn")


def _invocations(command_line: str) -> list[tuple[str, ...]]:
    """The argument vectors of every ``churn`` call in one logical shell line."""
    found: list[tuple[str, ...]] = []
    for segment in SHELL_SPLIT.split(command_line):
        segment = SYSTEMD_EXEC.sub("", segment.strip())
        try:
            words = shlex.split(segment, comments=True)
        except ValueError:  # an unbalanced quote: not a shell line
            continue
        while words and ENV_ASSIGNMENT.match(words[0]):
            words = words[1:]
        if words and words[0] in {"$", "sudo", "exec", "time"}:
            words = words[1:]
        if words and _is_churn(words[0]):
            found.append(tuple(words[1:]))
    return found


def _logical_lines(block: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join backslash-continued lines; keep the number of the first."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, text in block:
        if pending is not None:
            number, text = pending[0], pending[1] + " " + text.strip()
            pending = None
        if text.rstrip().endswith("\\"):
            pending = (number, text.rstrip()[:-1])
            continue
        out.append((number, text))
    if pending is not None:
        out.append(pending)
    return out


def _shell_line(text: str) -> str:
    """A code-block line as shell: comments dropped, cron's schedule fields dropped."""
    stripped = text.strip()
    if stripped.startswith("#"):
        return ""
    words = stripped.split(None, 5)
    if len(words) == 6 and all(CRON_FIELD.match(w) for w in words[:5]):
        return words[5]
    if stripped.startswith("@") and " " in stripped:  # @reboot, @weekly ...
        return stripped.split(None, 1)[1]
    return stripped


def commands_in(text: str, source: str = "<text>") -> list[Quoted]:
    """Every ``churn`` invocation in a Markdown document, in order."""
    quoted: list[Quoted] = []
    lines = text.splitlines()
    block: list[tuple[int, str]] | None = None
    language = ""
    fence = ""
    for number, line in enumerate(lines, start=1):
        match = FENCE.match(line)
        if block is None and match:
            fence, language = match.group(2), match.group(3).strip().split(" ")[0].lower()
            block = []
            continue
        if block is not None:
            if match and match.group(2).startswith(fence[0]) and len(match.group(2)) >= len(fence):
                if language not in SKIP_LANGUAGES:
                    for start, logical in _logical_lines(block):
                        for argv in _invocations(_shell_line(logical)):
                            quoted.append(Quoted(source, start, argv))
                block = None
                continue
            block.append((number, line))
            continue
        for span in INLINE.findall(line):
            if span.startswith("churn ") or span == "churn":
                for argv in _invocations(span):
                    quoted.append(Quoted(source, number, argv))
    return quoted


def commands_in_file(path: Path, root: Path | None = None) -> list[Quoted]:
    name = str(path.relative_to(root)) if root else str(path)
    return commands_in(path.read_text(encoding="utf-8"), name)


def _is_group(command: Any) -> bool:
    return hasattr(command, "resolve_command") and hasattr(command, "commands")


def _leftover(command: Any, name: str, args: list[str]) -> list[str]:
    """Parse ``args`` with ``command``'s own option parser, strictly but without converting
    values or checking required options; return the positional words left over."""
    ctx = command.context_class(command, info_name=name, resilient_parsing=False)
    parser = command.make_parser(ctx)
    if _is_group(command):
        parser.allow_interspersed_args = False  # options of the group stop at its subcommand
    _, leftover, _ = parser.parse_args(args=list(args))
    return list(leftover)


def check_command(root: Any, argv: tuple[str, ...] | list[str]) -> str | None:
    """None when ``churn argv`` names a real command with real options; else why not.

    ``root`` is the Click command of the Typer app (``typer.main.get_command(app)``).
    Values are not converted, so ``--capacity K`` passes; an unknown command or option, a
    flag given a value, an option missing its value or a stray argument do not.
    """
    command, path, args = root, ["churn"], list(argv)
    try:
        while True:
            rest = _leftover(command, path[-1], args)
            if not _is_group(command):
                if rest:
                    return f"{' '.join(path)}: unexpected argument(s) {' '.join(rest)!r}"
                return None
            if not rest:
                return None  # the group alone, e.g. `churn keys` in prose
            ctx = command.context_class(command, info_name=path[-1])
            sub = command.get_command(ctx, rest[0])
            if sub is None:
                return f"{' '.join(path)}: no such command {rest[0]!r}"
            command, args = sub, rest[1:]
            path.append(rest[0])
    except click_exceptions.ClickException as exc:
        return f"{' '.join(path)}: {exc.format_message()}"
