"""Drivers in plain words: one feature's value and sign -> a sentence a specialist acts on.

A signal's reason group, label and kind are declared once, in the signal spec
(``configs/signals.yaml``); the wording (templates by kind, per-signal overrides) and the
retention action per reason group live in ``configs/reasons.yaml`` (specialists own
them). This module only picks the template case for a value and fills it in. A column the
spec does not know still reads as something ("logins_30d = 3 — raises risk") rather than
failing an explanation.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from typing import Any

from churn.config import ReasonsConfig, RuleBands
from features.catalog import SPEC
from features.rules import band

_SIGNALS = SPEC.by_name()


def signal_label(feature: str, reasons: ReasonsConfig) -> str:
    """The signal's short name in the reasons' language (the spec's label), or its name."""
    s = _SIGNALS.get(feature)
    if s is None:
        return feature
    return s.label.ru if reasons.language == "ru" else s.label.en


def signal_group(feature: str) -> str | None:
    """The signal's reason group key (the spec's), None for a column the spec lacks."""
    s = _SIGNALS.get(feature)
    return s.group if s is not None else None


def is_missing(value: Any) -> bool:
    """None, NaN and pandas' NA/NaT all mean "not known"."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT, pd.NA (raises TypeError for NA)
    except TypeError:
        return True


def json_value(value: Any) -> Any:
    """A JSON-safe scalar: NaN -> None, numpy scalars -> Python, timestamps -> ISO text."""
    if is_missing(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def plural_form(n: int) -> str:
    """Which plural form a count takes: "one", "few" or "many" (Russian rules; English uses
    only one / many, and its few form says the same as many)."""
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def days_text(n: int, reasons: ReasonsConfig) -> str:
    """ "1 day" / "5 days"; "1 день" / "3 дня" / "11 дней" by the reasons' language."""
    form = plural_form(n) if reasons.language == "ru" else ("one" if n == 1 else "many")
    template = reasons.days.get(form) or reasons.days.get("many") or "{n}"
    return template.format(n=n)


class _Formatter(string.Formatter):
    """str.format with the specs the templates use: int, rub, pct, days, 2f, band; the
    words for unknown values, days, bands and category values come from ``reasons``."""

    def __init__(self, reasons: ReasonsConfig) -> None:
        super().__init__()
        self.reasons = reasons

    def format_field(self, value: Any, format_spec: str) -> str:
        if is_missing(value):
            return self.reasons.unknown
        if isinstance(value, str):
            return self.reasons.values.get(value, value) if format_spec == "word" else value
        x = float(value)
        if format_spec == "int":
            return str(int(round(x)))
        if format_spec == "rub":
            return f"{x:,.0f}".replace(",", " ")
        if format_spec == "pct":
            return f"{100 * x:.0f} %"
        if format_spec == "days":
            return days_text(int(round(x)), self.reasons)
        if format_spec == "2f":
            return f"{x:.2f}".replace(".", self.reasons.decimal)
        if format_spec == "band":
            name = band(x, RuleBands())
            return self.reasons.bands.get(name, name.replace("_", " "))
        return super().format_field(value, format_spec)


def formatter(reasons: ReasonsConfig) -> _Formatter:
    """The template formatter for one language (cheap: no state beyond ``reasons``)."""
    return _Formatter(reasons)


def case_of(value: Any, templates: Mapping[str, str]) -> str:
    """Which template case a value falls in: missing, category value, zero, one, default."""
    if is_missing(value):
        return "missing" if "missing" in templates else "default"
    if isinstance(value, str):
        return value if value in templates else "default"
    x = float(value)
    if x == 0 and "zero" in templates:
        return "zero"
    if x == 1 and "one" in templates:
        return "one"
    return "default"


def describe(feature: str, value: Any, row: Mapping[str, Any], reasons: ReasonsConfig) -> str:
    """The sentence for a feature's value, without the raises/lowers suffix."""
    fmt = formatter(reasons)
    own = reasons.features.get(feature)
    signal = _SIGNALS.get(feature)
    if own is not None and own.text:
        templates = own.text
    elif signal is not None:  # the template of its kind
        templates = reasons.kinds.get(signal.kind, {})
    else:
        templates = {}
    template = templates.get(case_of(value, templates)) or templates.get("default")
    if template is None:  # no wording, or e.g. a flag with only zero/one cases got a 2
        return f"{feature} = {fmt.format_field(value, '')}"
    try:
        label = signal_label(feature, reasons)
        return fmt.vformat(template, (), {**row, "label": label, "value": value})
    except (KeyError, IndexError, ValueError):
        return f"{feature} = {fmt.format_field(value, '')}"


def sentence(
    feature: str, value: Any, contribution: float, row: Mapping[str, Any], reasons: ReasonsConfig
) -> str:
    """ "No logins in the last 30 days — raises risk"."""
    direction = reasons.raises if contribution > 0 else reasons.lowers
    return f"{describe(feature, value, row, reasons)}{reasons.separator}{direction}"


def group_and_action(
    feature: str, contribution: float, reasons: ReasonsConfig
) -> tuple[str, str | None]:
    """Reason group label and the suggested action (none for a driver that lowers risk):
    the group is the spec's, its words and action this language's; a signal's own action
    (``features.<name>.action``) overrides its group's."""
    key = signal_group(feature)
    group = reasons.groups.get(key) if key is not None else None
    if group is None:
        return "other", None
    if contribution <= 0:
        return group.label, None
    own = reasons.features.get(feature)
    return group.label, (own.action if own is not None else None) or group.action
