"""GET /catalog's content: whether the source has the rule indicator, and why not."""

from __future__ import annotations

from rule_free_helpers import SAID, rule_free_spec

from churn.config import load_config
from features.spec import load_spec
from serving.page_catalog import page_catalog


def test_the_catalog_says_whether_the_rule_exists_and_why_not() -> None:
    cfg = load_config()
    centre = page_catalog(cfg, load_spec(cfg.features.signals), ["logins_30d"], {"high": 0.2})
    assert centre["rule_indicator"] == {"available": True, "reason": None}
    bare = page_catalog(cfg, rule_free_spec(), ["logins_30d"], {"high": 0.2})
    assert bare["rule_indicator"] == {"available": False, "reason": SAID}
    assert not {"contact_index", "rule_band"} & {s["name"] for s in bare["signals"]}
