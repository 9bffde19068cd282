"""A signal spec without the rule indicator: the shape of a source that lacks its inputs
(a subscription + activity log). Built from the centre's spec, every other entry kept."""

from __future__ import annotations

import pytest
import yaml

from churn.config import REPO_ROOT
from features.rules import RULE_COLUMNS
from features.spec import SignalSpec, parse_spec

SAID = {  # configs/reasons*.yaml `no_rule`: the sentence every layer shows
    "en": "no rule indicator: this source lacks its inputs",
    "ru": "нет индикатора правил: у этого источника нет его входных данных",
}


def rule_free_text(spec_text: str) -> str:
    """The spec's YAML without its ``function: rule_indicator`` entries."""
    data = yaml.safe_load(spec_text)
    data["signals"] = [s for s in data["signals"] if s.get("function") != "rule_indicator"]
    assert not {s["name"] for s in data["signals"]} & set(RULE_COLUMNS)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def rule_free_spec() -> SignalSpec:
    text = rule_free_text((REPO_ROOT / "configs" / "signals.yaml").read_text(encoding="utf-8"))
    return parse_spec(yaml.safe_load(text), "rule-free signals.yaml")


@pytest.fixture
def rule_free(monkeypatch: pytest.MonkeyPatch) -> SignalSpec:
    """The configured spec (``features.catalog.SPEC``) is the rule-free one for one test."""
    spec = rule_free_spec()
    monkeypatch.setattr("features.catalog.SPEC", spec)
    return spec
