"""Numbers and tables the guides quote, taken from the configuration when a page is built.

A guide says "clients reached within 28 days are left out" or lists the reason groups with
their first actions; those facts live in the config (``serving.recall_after_days``,
``configs/reasons.ru.yaml``), so the pages name them with a placeholder and get the value
here, in the docs site (``docsite/hooks.py``) and in the guides the service serves
(``docsite/guides.py``) alike:

- ``{{ cfg.serving.recall_after_days }}``: a config value as written (``28``);
- ``{{ pct cfg.retention.holdout_share }}``: a share as a percentage (``10 %``);
- ``{{ pct_between cfg.training.risk_high_share cfg.training.risk_dynamic_share }}``: the
  difference of two shares as a percentage (``15 %``);
- ``{{ reason_groups ru }}``: the reason groups and their first actions as a table;
- ``{{ role_endpoints supervisor }}``: the endpoints a role may call (``serving.auth``).

An unknown placeholder fails the build, naming it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


@cache
def _config() -> Any:
    from churn.config import load_config

    return load_config()


def _value(path: str) -> Any:
    if not path.startswith("cfg."):
        raise KeyError(path)
    node: Any = _config()
    for part in path.removeprefix("cfg.").split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _number(value: float) -> str:
    text = f"{value:g}"
    return text.replace(".", ",")


def _reason_groups(lang: str) -> str:
    reasons = _config().reasons_in(lang)
    header = (
        "| группа причин | первое действие |" if lang == "ru" else "| reason group | first action |"
    )
    rows = [header, "|---|---|"]
    for group in reasons.groups.values():
        rows.append(f"| {group.label} | {group.action} |")
    return "\n".join(rows)


def _role_endpoints(role: str) -> str:
    from serving.auth import ENDPOINT_ROLES, ROLES

    if role not in ROLES:
        raise KeyError(role)
    paths = [p for p, roles in ENDPOINT_ROLES.items() if role in roles and p != "/score_batch"]
    return ", ".join(f"`{p}`" for p in paths)


def fact(expression: str) -> str:
    """The text one placeholder stands for."""
    words = expression.split()
    try:
        if words[0] == "role_endpoints" and len(words) == 2:
            return _role_endpoints(words[1])
        if words[0] == "reason_groups" and len(words) == 2:
            return _reason_groups(words[1])
        if words[0] == "pct" and len(words) == 2:
            return f"{_number(round(float(_value(words[1])) * 100, 2))} %"
        if words[0] == "pct_between" and len(words) == 3:
            share = float(_value(words[2])) - float(_value(words[1]))
            return f"{_number(round(share * 100, 2))} %"
        if len(words) == 1:
            value = _value(words[0])
            return _number(value) if isinstance(value, float) else str(value)
    except (KeyError, AttributeError) as exc:
        raise ValueError(f"unknown placeholder {{{{ {expression} }}}}: {exc}") from None
    raise ValueError(f"unknown placeholder {{{{ {expression} }}}}")


def expand(text: str) -> str:
    """``text`` with every placeholder replaced by its value."""
    return PLACEHOLDER.sub(lambda m: fact(m.group(1)), text)
