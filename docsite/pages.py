"""Every generated page of the docs site, rendered from the code: name -> Markdown.

- ``reference/cli.md``: every command and option of the Typer app ``cli.main:app``;
- ``reference/config.md``: every key of the pydantic config models with type, default,
  range and meaning, and the ``CHURN_*`` environment variables;
- ``reference/http-api.md`` and ``reference/openapi.json``: the service's OpenAPI with the
  roles per endpoint from ``serving.auth``;
- ``reference/contract.md``: the raw-data contract (``features/contract.py``);
- ``reference/signals.md``: the signal catalog (``features/README.md``, itself generated
  from the catalog);
- ``reference/modules.md``: every module with its docstring's first paragraph;
- ``reference/packages/*.md``: the package READMEs; ``changelog.md``: ``CHANGELOG.md``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from docsite import api_reference, code_reference, config_reference
from docsite.markdown import cell, code, table

# bottom layer first: tests/test_layering.py enforces this order; packages not named here
# follow in name order
ROOT = Path(__file__).resolve().parents[1]
LAYER_ORDER = [
    "churn",
    "features",
    "importing",
    "simulator",
    "training",
    "store",
    "monitoring",
    "serving",
    "loop",
    "cli",
]
PACKAGE_READMES = {
    "features": "features/README.md",
    "adding-signals": "features/ADDING_SIGNALS.md",
    "training": "training/README.md",
    "serving": "serving/README.md",
    "simulator": "simulator/README.md",
}
SOURCES = {
    "reference/cli.md": "cli/main.py",
    "reference/config.md": "churn/config.py",
    "reference/http-api.md": "serving/service.py",
    "reference/contract.md": "features/contract.py",
    "reference/signals.md": "features/README.md",
    "reference/modules.md": "docsite/code_reference.py",
    "changelog.md": "CHANGELOG.md",
    **{f"reference/packages/{p}.md": path for p, path in PACKAGE_READMES.items()},
}


def packages(root: Path) -> list[str]:
    """The program's packages (``pyproject.toml``'s package list), bottom layer first."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    found = project["tool"]["setuptools"]["packages"]["find"]["include"]
    names = {n.rstrip("*").rstrip(".") for n in found if (root / n.rstrip("*")).is_dir()}
    order = {name: i for i, name in enumerate(LAYER_ORDER)}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def cli_page() -> str:
    import typer.main

    from cli.main import app

    return code_reference.render_cli(typer.main.get_command(app))


def _settings_models() -> dict[str, Any]:
    """The root settings models, titled by the YAML file each one reads."""
    from churn.config import Config

    models: dict[str, Any] = {"`configs/default.yaml` (`churn.config.Config`)": Config}
    optional = (  # settings files with their own model, where the code has them
        ("simulator.config", "SimulateConfig", "`configs/simulate.yaml`"),
        ("features.spec", "SignalSpec", "`configs/signals.yaml`: the signal spec"),
        ("importing.mapping", "Mapping", "`configs/mappings/*.yaml`: the CRM import mapping"),
    )
    for module_name, model_name, title in optional:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        root = getattr(module, model_name, None)
        if root is not None:
            models[f"{title} (`{module_name}.{model_name}`)"] = root
    return models


def _rst_table(doc: str) -> list[tuple[str, str]] | None:
    """The rows of the first simple reStructuredText table in ``doc`` (two columns)."""
    lines = doc.splitlines()
    rules = [i for i, line in enumerate(lines) if re.fullmatch(r"=+ +=+", line.strip())]
    if len(rules) < 3:
        return None
    width = len(lines[rules[0]].split()[0]) + 1
    rows: list[tuple[str, str]] = []
    for line in lines[rules[1] + 1 : rules[2]]:
        name, meaning = line[:width].strip(), line[width:].strip()
        if name:
            rows.append((name, meaning))
        elif rows:
            rows[-1] = (rows[-1][0], f"{rows[-1][1]} {meaning}")
    return rows


def environment_section() -> str:
    try:
        env = importlib.import_module("churn.environment")
    except ImportError:
        return ""
    doc = env.__doc__ or ""
    rows = _rst_table(doc)
    if not rows:
        return ""
    tail = doc.split("=" * 20)[-1]
    tail = " ".join(tail.split("\n\n", 1)[-1].split()) if "\n\n" in tail else ""
    parts = [
        "## Environment variables",
        "",
        "Read in one place, `churn/environment.py`; they say where the program runs, the YAML "
        "says what it does.",
        "",
        table(["variable", "meaning"], ((code(n), cell(m)) for n, m in rows)),
        "",
    ]
    if tail:
        parts += [tail, ""]
    return "\n".join(parts)


def config_page() -> str:
    intro = (
        "Every key of the configuration, read from the pydantic models that validate it "
        "(`churn/config.py`), with its type, its default, the range it must lie in and what "
        "it means; where the shipped files (`configs/default.yaml`, `rules.yaml`, "
        "`reasons*.yaml`) set another value than the model's default, both are shown. A "
        "YAML file names only the keys it changes; `--config FILE` (before the command: "
        "`churn --config my.yaml weekly --raw data/raw`) picks another file. An unknown key "
        "or a value out of range fails at start-up with the key's name. Dotted names are YAML "
        "sections: `training.gate.min_gain` is `min_gain` under `gate` under `training`; "
        "`<name>` stands for a key you choose."
    )
    from churn.config import load_config

    models = _settings_models()
    main_title = next(iter(models))
    shipped = {main_title: ("shipped", load_config())}
    notes = {main_title: config_reference.yaml_notes(ROOT / "configs" / "default.yaml")}
    for title in models:
        if "simulate.yaml" in title and (ROOT / "configs" / "simulate.yaml").exists():
            notes[title] = config_reference.yaml_notes(ROOT / "configs" / "simulate.yaml")
    text = config_reference.render(models, intro=intro, shipped=shipped, file_notes=notes)
    env = environment_section()
    return text + ("\n" + env if env else "")


def openapi_spec() -> dict[str, Any]:
    """What the service serves at ``/docs.json`` (``serving.openapi.service_spec``)."""
    from serving.openapi import service_spec

    return service_spec()


def api_pages() -> dict[str, str]:
    from serving.auth import ROLES, allowed_roles

    spec = openapi_spec()
    return {
        "reference/http-api.md": api_reference.render(spec, allowed_roles, tuple(ROLES)),
        "reference/openapi.json": json.dumps(spec, indent=2, ensure_ascii=False, default=str)
        + "\n",
    }


def contract_page() -> str:
    import features.contract as contract

    return code_reference.render_contract(contract.TABLES, contract.__doc__ or "")


LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def _site_links(text: str, source_dir: Path, page: str, root: Path) -> str:
    """Relative links of a file outside ``docs/`` rewritten for its place in the site: a
    link into ``docs/`` points at that page, a link to code becomes the path in code."""
    docs = (root / "docs").resolve()
    here = (docs / page).parent

    def replace(match: re.Match[str]) -> str:
        label, target = match.group(1), match.group(2)
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = (source_dir / path).resolve()
        if resolved.is_relative_to(docs):
            rel = os.path.relpath(resolved, here)
            return f"[{label}]({rel}{'#' + anchor if anchor else ''})"
        where = resolved.relative_to(root.resolve()).as_posix()
        return label if label.strip("`") == where else f"{label} (`{where}`)"

    return LINK.sub(replace, text)


def _demote_title(text: str, title: str) -> str:
    """A package README as a site page: its own first heading replaced by ``title``."""
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return f"# {title}\n" + "\n".join(lines).rstrip() + "\n"


def all_pages(root: Path) -> dict[str, str]:
    pages: dict[str, str] = {
        "reference/cli.md": cli_page(),
        "reference/config.md": config_page(),
        "reference/contract.md": contract_page(),
        "reference/modules.md": code_reference.render_modules(root, packages(root)),
    }
    pages.update(api_pages())
    signals = (root / "features/README.md").read_text(encoding="utf-8")
    pages["reference/signals.md"] = _demote_title(signals, "Signal catalog")
    for package, path in PACKAGE_READMES.items():
        page = f"reference/packages/{package}.md"
        readme = _site_links(
            (root / path).read_text(encoding="utf-8"), (root / path).parent, page, root
        )
        title = f"Package notes: `{package}/`" if "/" not in package else package
        if package == "adding-signals":
            title = "Adding a signal or a table: the walk-through"
        pages[page] = _demote_title(readme, title)
    changelog = root / "CHANGELOG.md"
    pages["changelog.md"] = _site_links(
        changelog.read_text(encoding="utf-8"), root, "changelog.md", root
    )
    return pages
