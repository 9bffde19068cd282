"""The quality check of ``test_quality_slow.py`` on the session's small base, in make test.

draft
"""

from __future__ import annotations


def test_model_beats_rule_and_stays_below_reference(trained: dict) -> None:
    test = trained["test"]
    model, rule, ref = (test[k]["roc_auc"] for k in ("model", "rule", "reference"))
    print(
        f"model {model:.4f} rule {rule:.4f} reference {ref:.4f} gap {trained['gap_closed']:.3f} "
        f"gain CI {trained['auc_gain']['ci_low']:.4f}..{trained['auc_gain']['ci_high']:.4f} "
        f"ref-model {trained['reference_minus_model']}"
    )
    for k in ("brier", "recall_at_capacity", "precision_at_capacity", "recall_first_week"):
        print(k, [test[n][k] for n in ("model", "rule", "reference")])
    print(trained["block"])
