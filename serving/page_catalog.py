"""What the supervisor page needs to name things: ``GET /catalog``.

Why: the page used to carry its own copies of the signals' labels and the rule bands
(0.34 / 0.30), which drifted from the spec and from ``configs/rules.yaml``. It now asks
the service, which answers from the same sources everything else reads: the signal spec
(labels, kinds, units, risk direction, reason group), the reasons files (group words per
language), the rules config (bands and weights) and the served model (its inputs and its
own band thresholds). ``rule_indicator`` says whether the source has the rule indicator
at all, and if not, why in every language (the page hides the rule and shows that).
"""

from __future__ import annotations

from typing import Any

from churn.config import Config
from features import rules
from features.spec import SignalSpec


def page_catalog(
    cfg: Config, spec: SignalSpec, model_features: list[str], risk_thresholds: dict[str, float]
) -> dict[str, Any]:
    """The JSON of ``GET /catalog``."""
    languages = cfg.languages()
    return {
        "languages": languages,
        "signals": [
            {
                "name": s.name,
                "kind": s.kind,
                "unit": s.unit,
                "risk": s.risk,
                "group": s.group,
                "label": {"ru": s.label.ru, "en": s.label.en},
                "model_input": s.name in model_features,
            }
            for s in spec.signals
        ],
        "groups": {
            lang: {k: g.label for k, g in cfg.reasons_in(lang).groups.items()} for lang in languages
        },
        "rule_indicator": rules.status(cfg, spec).to_dict(),
        "rule_bands": cfg.rules.bands.model_dump(),
        "rule_weights": cfg.rules.contact_index.model_dump(),
        "risk_thresholds": {k: float(v) for k, v in risk_thresholds.items()},
    }
