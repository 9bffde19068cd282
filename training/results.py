"""Typed results passed between the training stages: evaluation -> gate -> registry -> report.

Each stage reads named fields instead of digging into nested dicts by string keys, and each
object serialises with ``to_dict()`` to exactly the JSON the report and MLflow held before
(``report/train.json``, ``gate`` inside it, the ``test_*`` metrics). Numbers are finite floats
or ``None`` (JSON has no ``inf``), as :func:`training.evaluate._num` makes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval; ``observed`` is the point value it brackets, when there is one."""

    mean: float | None
    ci_low: float | None
    ci_high: float | None
    rounds: int
    requested_rounds: int | None = None  # None: no finite round (nothing to resample)
    observed: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mean": self.mean,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "rounds": self.rounds,
        }
        if self.requested_rounds is not None:
            out["requested_rounds"] = self.requested_rounds
        if self.observed is not None:
            out["observed"] = self.observed
        return out


@dataclass(frozen=True)
class ProfitMetrics:
    """Expected maximum profit / benefit of one score (:mod:`training.profit`)."""

    empc_rub: float | None
    empc_share: float | None
    empb_rub: float | None
    empb_share: float | None


@dataclass(frozen=True)
class ScoreMetrics:
    """Every headline metric of one score (model, rule or reference) on one block."""

    roc_auc: float | None
    pr_auc: float | None
    brier: float | None
    log_loss: float | None
    probability_source: str | None
    lift_top_decile: float | None
    recall_at_capacity: float | None
    precision_at_capacity: float | None
    recall_at_capacity_pooled: float | None
    precision_at_capacity_pooled: float | None
    recall_first_week: float | None
    precision_first_week: float | None
    capacity_ranking: str
    base_rate: float | None
    profit: ProfitMetrics | None = None
    roc_auc_ci_low: float | None = None
    roc_auc_ci_high: float | None = None

    @property
    def empc_rub(self) -> float | None:
        return self.profit.empc_rub if self.profit is not None else None

    def get(self, key: str) -> Any:
        """One metric by name (a table row), profit figures included; None when absent."""
        if self.profit is not None and key in ProfitMetrics.__dataclass_fields__:
            return getattr(self.profit, key)
        return getattr(self, key, None) if key != "profit" else None

    def numbers(self) -> dict[str, float]:
        """The finite numeric metrics by name (what MLflow logs)."""
        out = {}
        for key, value in self.to_dict().items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and np.isfinite(value):
                out[key] = float(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "profit"}
        ci = {k: out.pop(k) for k in ("roc_auc_ci_low", "roc_auc_ci_high")}
        if self.profit is not None:
            out.update(asdict(self.profit))
        return {**out, **ci}


@dataclass(frozen=True)
class CalibrationBin:
    """Mean predicted vs observed churn rate in one decile of the model's probability."""

    decile: int
    mean_predicted: float | None
    observed_rate: float | None
    count: int


@dataclass(frozen=True)
class BlockInfo:
    """What was evaluated: the block's rows and dates, and the call policy replayed on it."""

    rows: int
    clients: int
    as_of_dates: int
    first_as_of: str
    last_as_of: str
    positives: int
    base_rate: float | None
    capacity_per_week: int
    ranking: str
    recall_after_days: int
    horizon_days: int
    weeks_per_snapshot: float | None
    calls_per_snapshot: float | None
    bootstrap_seed: int


@dataclass(frozen=True)
class ReferenceInfo:
    """What the reference score measures and where it came from."""

    measures: str
    source: str
    paths: int
    horizon_days: int
    rows_without_reference: int


@dataclass(frozen=True)
class Evaluation:
    """Side-by-side metrics of model, rule and reference on one held-out block."""

    scores: dict[str, ScoreMetrics | None]  # model, rule, reference (+ any other), in order
    profit: dict[str, Any] | None  # the call economics and the perfect-information ceiling
    auc_gain: Interval | None  # model minus rule ROC-AUC
    baseline_gain: Interval | None  # model minus the logistic baseline's ROC-AUC
    gap_closed: float | None  # (model - 0.5) / (reference - 0.5)
    gap_closed_ci: Interval | None
    reference_minus_model: Interval | None
    calibration: list[CalibrationBin]
    block: BlockInfo
    reference_info: ReferenceInfo | None = None
    by_centre: dict[str, Any] | None = None  # the headline metrics centre by centre
    # the served recipe replayed on the newest monthly blocks (training.backtest)
    calibration_backtest: dict[str, Any] | None = None
    # whether the source has the rule indicator, and why not (features.rules.RuleStatus)
    rule_indicator: dict[str, Any] | None = None

    @property
    def model(self) -> ScoreMetrics | None:
        return self.scores.get("model")

    @property
    def rule(self) -> ScoreMetrics | None:
        return self.scores.get("rule")

    @property
    def reference(self) -> ScoreMetrics | None:
        return self.scores.get("reference")

    @property
    def baseline(self) -> ScoreMetrics | None:
        return self.scores.get("baseline")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            name: m.to_dict() if m is not None else None for name, m in self.scores.items()
        }
        out.update(
            {
                "profit": self.profit,
                "auc_gain": _dict(self.auc_gain),
                "baseline_gain": _dict(self.baseline_gain),
                "rule_indicator": self.rule_indicator,
                "gap_closed": self.gap_closed,
                "gap_closed_ci": _dict(self.gap_closed_ci),
                "reference_minus_model": _dict(self.reference_minus_model),
                "calibration": [asdict(b) for b in self.calibration],
                "block": asdict(self.block),
                "reference_info": asdict(self.reference_info) if self.reference_info else None,
                "by_centre": self.by_centre,
                "calibration_backtest": self.calibration_backtest,
            }
        )
        return out


def _dict(value: Any) -> Any:
    return value.to_dict() if value is not None else None


@dataclass(frozen=True)
class Pair:
    """One figure of the challenger beside the same figure of what it is judged against."""

    challenger: float | None
    reference: float | None


@dataclass(frozen=True)
class Tolerated(Pair):
    """A pair with the tolerance the challenger is allowed to lose by."""

    tolerance: float = 0.0


@dataclass(frozen=True)
class ProfitCheck(Tolerated):
    floor: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "challenger": self.challenger,
            "reference": self.reference,
            "floor": self.floor,
            "tolerance": self.tolerance,
        }


@dataclass(frozen=True)
class Comparison:
    """The figures the gate judged: the challenger against the champion or the rule."""

    against: str  # "champion", "rule" or "baseline" (no rule indicator in this source)
    rows: int | None
    roc_auc: Pair
    auc_gain: Interval | None
    brier: Tolerated
    profit: ProfitCheck | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "rows": self.rows,
            "roc_auc": asdict(self.roc_auc),
            "auc_gain": self.auc_gain.to_dict() if self.auc_gain is not None else {},
            "brier": asdict(self.brier),
            "profit": self.profit.to_dict() if self.profit is not None else None,
        }


@dataclass(frozen=True)
class TrainingReport:
    """``churn train``'s report: held-out figures, provenance, the registry's decision."""

    evaluation: Evaluation
    provenance: dict[str, Any] | None
    split: dict[str, Any]
    rows: dict[str, int]
    tuning: dict[str, Any]
    dataset_digest: str
    run_id: str
    model_version: str
    alias: str
    promoted: bool
    gate: Any  # training.gate.GateDecision | None
    champion_before: dict[str, Any] | None
    labels: dict[str, Any] | None = None  # which churn types are positives, rows left out

    def to_dict(self) -> dict[str, Any]:
        ev = self.evaluation.to_dict()
        out = {
            "test": {name: ev.get(name) for name in ("model", "rule", "baseline", "reference")},
            "rule_indicator": ev["rule_indicator"],
            "provenance": self.provenance,
            **{
                key: ev[key]
                for key in (
                    "auc_gain",
                    "baseline_gain",
                    "gap_closed",
                    "gap_closed_ci",
                    "reference_info",
                )
            },
            "reference_minus_model": ev["reference_minus_model"],
            "by_centre": ev["by_centre"],
            "profit": ev["profit"],
            "calibration": ev["calibration"],
            "calibration_backtest": ev["calibration_backtest"],
            "block": ev["block"],
            "split": self.split,
            "rows": self.rows,
            "tuning": self.tuning,
            "dataset_digest": self.dataset_digest,
            "run_id": self.run_id,
            "model_version": self.model_version,
            "alias": self.alias,
            "promoted": self.promoted,
            "gate": self.gate.to_dict() if self.gate is not None else None,
            "champion_before": self.champion_before,
        }
        if self.labels is not None:
            out["labels"] = self.labels
        return out
