"""The configuration reference: every key of the pydantic config models, with its type,
default and meaning, read from the models themselves.

The meaning of a key is, in order: the field's ``description``, the string right after it
(an attribute docstring), the comment on its line(s), or the comment above it (a block of
two or more lines also covers the fields right below it, as a note over a group of settings
does); a section's meaning is its class docstring. So a key documented where it is declared is
documented here, and nothing is written twice.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import re
import textwrap
import tokenize
import types
import typing
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from docsite.markdown import cell, code, table


@dataclass(frozen=True)
class Key:
    """One configuration key as the reference shows it."""

    path: str  # dotted, e.g. training.gate.min_gain; <name> for a dict's keys
    type: str
    default: str
    meaning: str
    constraint: str
    raw: Any = None  # the model's default itself, to compare with a shipped value


@cache
def _comments(path: str) -> dict[int, str]:
    """Line number -> the comment on that line, for one source file."""
    found: dict[int, str] = {}
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            found[tok.start[0]] = tok.string.lstrip("#").strip()
    return found


@cache
def _field_notes(cls: type) -> dict[str, str]:
    """Field name -> the meaning written next to it in the class's source."""
    try:
        path = inspect.getsourcefile(cls)
        lines, start = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    if path is None:
        return {}
    tree = ast.parse(textwrap.dedent("".join(lines)))
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    comments = _comments(path)
    notes: dict[str, str] = {}
    body = node.body
    group = ""  # a comment block above a field also covers the fields right below it
    previous_end = -1
    for i, stmt in enumerate(body):
        first = stmt.lineno + start - 1
        last = (stmt.end_lineno or stmt.lineno) + start - 1
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            group, previous_end = "", last
            continue
        name = stmt.target.id
        above: list[str] = []
        n = first - 1
        while n >= start and n in comments and lines[n - start].lstrip().startswith("#"):
            above.insert(0, comments[n])
            n -= 1
        own = " ".join(above)
        if len(above) > 1:  # a block of two or more lines reads as a note over a group
            group = own
        elif above or previous_end != first - 1:
            group = ""
        previous_end = last
        after = body[i + 1] if i + 1 < len(body) else None
        inline = [comments[n] for n in range(first, last + 1) if n in comments]
        if (
            isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            notes[name] = " ".join(after.value.value.split())
            previous_end = (after.end_lineno or after.lineno) + start - 1
        elif inline:
            notes[name] = " ".join(inline)
        elif own or group:
            notes[name] = own or group
    return notes


def _type_name(annotation: Any) -> str:
    """A short readable type: ``int``, ``float | None``, ``list[str]``, ``dict[str, X]``."""
    origin = typing.get_origin(annotation)
    if annotation is type(None):
        return "None"
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is tuple and typing.get_args(annotation)[-1:] == (Ellipsis,):
        return f"list[{_type_name(typing.get_args(annotation)[0])}]"
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{args}]" if args else name
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return " | ".join(json.dumps(m.value) for m in annotation)
        if annotation is Path:
            return "path"
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        try:
            return field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    return None if field.default is PydanticUndefined else field.default


def _show(value: Any) -> str:
    """A default as it would be written in the YAML file."""
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, Path):
        return code(value.as_posix())
    if isinstance(value, Enum):
        return code(value.value)
    if value is None:
        return code("null")
    if isinstance(value, bool):
        return code(str(value).lower())
    if isinstance(value, dict | list | tuple):
        if not value:
            return code("{}" if isinstance(value, dict) else "[]")
        plain = json.loads(json.dumps(value, default=_jsonable))
        text = json.dumps(plain, ensure_ascii=False)
        return code(text if len(text) <= 120 else text[:117] + "...")
    if isinstance(value, str):
        return code(json.dumps(value, ensure_ascii=False))
    return code(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Path):
        return value.as_posix()
    return str(value)


def _constraint(field: FieldInfo) -> str:
    words = []
    for item in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            bound = getattr(item, attr, None)
            if bound is not None:
                words.append(f"{sign} {bound}")
        for attr in ("min_length", "max_length"):
            bound = getattr(item, attr, None)
            if bound is not None:
                words.append(f"{attr.replace('_', ' ')} {bound}")
    return ", ".join(words)


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The model a field holds directly (``''``) or as dict values (``'dict'``) or list items."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            model, how = _model_in(arg)
            if model is not None:
                return model, how
    if origin is dict and len(args) == 2:
        model, _ = _model_in(args[1])
        if model is not None:
            return model, "dict"
    if origin in (list, tuple) and args:
        model, _ = _model_in(args[0])
        if model is not None:
            return model, "list"
    return None, ""


def walk(
    model: type[BaseModel], prefix: str = "", seen: dict[type, str] | None = None
) -> list[tuple[str, type[BaseModel] | None, Key]]:
    """Every key under ``model``: (section path, section model or None, key), depth first.

    A model met a second time (``reasons_by_language.<name>`` holds what ``reasons`` holds)
    is one row saying so, not its keys again.
    """
    seen = {} if seen is None else seen
    out: list[tuple[str, type[BaseModel] | None, Key]] = []
    notes = _field_notes(model)
    for name, field in model.model_fields.items():
        key_name = field.alias or name
        path = f"{prefix}{key_name}"
        sub, how = _model_in(field.annotation)
        meaning = field.description or notes.get(name, "")
        if sub is not None and sub in seen:
            same = f"the same keys as `{seen[sub]}`"
            key = Key(
                path,
                _type_name(field.annotation),
                _show(_default(field)) if not field.is_required() else "(required)",
                f"{meaning}; {same}" if meaning else same[0].upper() + same[1:],
                _constraint(field),
            )
            out.append((prefix.rstrip("."), None, key))
            continue
        if sub is not None and how == "":
            seen[sub] = path
            section_doc = meaning or sub.__dict__.get("__doc__") or ""
            out.append((path, sub, Key(path, "section", "", _first_paragraph(section_doc), "")))
            out.extend(walk(sub, prefix=f"{path}.", seen=seen))
            continue
        key = Key(
            path=path,
            type=_type_name(field.annotation),
            default=_show(_default(field)) if not field.is_required() else "(required)",
            meaning=meaning,
            constraint=_constraint(field),
            raw=None if field.is_required() else _default(field),
        )
        out.append((prefix.rstrip("."), None, key))
        if sub is not None:
            inner = f"{path}.<name>" if how == "dict" else f"{path}[]"
            seen[sub] = inner
            out.extend(walk(sub, prefix=f"{inner}.", seen=seen))
    return out


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def undocumented(model: type[BaseModel]) -> list[str]:
    """Keys without a meaning anywhere in the source (what the reference shows as a dash)."""
    return [key.path for _, _, key in walk(model) if not key.meaning]


YAML_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w-]*):(?P<rest>.*)$")


def _trailing_comment(rest: str) -> str:
    """The ``# comment`` after a YAML value (outside quotes), or ''."""
    quote = ""
    for i, ch in enumerate(rest):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or rest[i - 1] in " \t"):
            return rest[i + 1 :].strip()
    return ""


def yaml_notes(path: Path) -> dict[str, str]:
    """Dotted key -> the comment beside it (or the comment lines right above it) in a YAML
    settings file: what the shipped file says a key means, where the model does not."""
    notes: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    above: list[str] = []
    seen = False  # the comment block above the first key is the file's header, not its note
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        match = YAML_KEY.match(line)
        if not match:
            above = []
            continue
        indent = len(match.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group("key")))
        dotted = ".".join(k for _, k in stack)
        header = not notes and len(stack) == 1 and dotted == match.group("key") and not seen
        note = _trailing_comment(match.group("rest")) or ("" if header else " ".join(above))
        if note:
            notes[dotted] = note
        above = []
        seen = True
    return notes


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, BaseModel) or isinstance(b, BaseModel):
        return _jsonable(a) == _jsonable(b) if type(a) is type(b) else False
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return float(a) == float(b)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable values differ
        return False


def shipped_value(settings: BaseModel, path: str) -> Any:
    """The value at a dotted ``path`` of a loaded settings object (KeyError when absent)."""
    node: Any = settings
    for part in path.split("."):
        if isinstance(node, BaseModel) and part in type(node).model_fields:
            node = getattr(node, part)
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node


def render(
    models: dict[str, type[BaseModel]],
    intro: str = "",
    shipped: dict[str, tuple[str, BaseModel]] | None = None,
    file_notes: dict[str, dict[str, str]] | None = None,
) -> str:
    """The reference page: one table per section of each file's root model.

    ``shipped`` maps a title to (file name, the settings loaded from the shipped file): where
    the file sets a key to something else than the model's default, the default column says
    both, since that is what a fresh checkout runs with. ``file_notes`` maps a title to the
    comments of its shipped YAML file (:func:`yaml_notes`), the meaning of a key the model
    leaves undocumented.
    """
    shipped = shipped or {}
    file_notes = file_notes or {}
    parts = ["# Configuration reference", "", intro] if intro else ["# Configuration reference"]
    for title, root in models.items():
        parts += ["", f"## {title}", ""]
        doc = root.__dict__.get("__doc__")
        if doc:
            parts += [_first_paragraph(doc), ""]
        rows_by_section: dict[str, list[Key]] = {}
        section_docs: dict[str, str] = {}
        for section, sub, key in walk(root):
            if sub is not None:
                section_docs[key.path] = key.meaning
                rows_by_section.setdefault(key.path, [])
                continue
            rows_by_section.setdefault(section, []).append(key)
        for section, keys in rows_by_section.items():
            if not keys:
                continue
            heading = section or "top level"
            parts += [f"### `{heading}`" if section else "### top level", ""]
            if section_docs.get(section):
                parts += [section_docs[section], ""]
            rows = []
            for k in keys:
                default = k.default
                if title in shipped and "<name>" not in k.path and not k.path.endswith("[]"):
                    file_name, loaded = shipped[title]
                    try:
                        value = shipped_value(loaded, k.path)
                    except KeyError:
                        value = k.raw
                    if default != "(required)" and not _same(value, k.raw):
                        shown = _show(value)
                        if len(shown) > 60:
                            shown = "set there"
                        default = f"{default}; {file_name}: {shown}"
                meaning = cell(k.meaning or file_notes.get(title, {}).get(k.path, ""))
                rows.append((code(k.path), cell(k.type), default, cell(k.constraint), meaning))
            parts.append(table(["key", "type", "default", "range", "meaning"], rows))
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"
