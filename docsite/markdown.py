"""Small Markdown helpers shared by the reference renderers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

CODE_SPAN = re.compile(r"(`+[^`]*`+)")


def cell(value: object) -> str:
    """One table cell: pipes escaped, newlines folded, ``<`` and ``>`` outside code spans
    escaped (``reasons.<lang>.yaml`` is text, not a tag), empty shown as a dash."""
    text = " ".join(str(value).split()) if value is not None else ""
    parts = CODE_SPAN.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(parts).replace("|", "\\|") or "—"


def code(value: object) -> str:
    """Inline code that survives backticks inside the value (pipes escaped for tables)."""
    text = str(value).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table of formatted cells (pass text through :func:`cell` or :func:`code`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(" ".join(str(v).split()) or "—" for v in row) + " |")
    return "\n".join(lines)


GENERATED = (
    "<!-- Generated at build time by docsite/gen_pages.py from {source}: edit that, not this. -->"
)


def generated_note(source: str) -> str:
    """The line every generated page opens with, naming where its facts live."""
    return (
        GENERATED.format(source=source)
        + "\n\n"
        + (
            f'!!! note "Generated from the code"\n    This page is generated from {source} '
            "every time the site is built, so it always matches the code it documents.\n"
        )
    )
