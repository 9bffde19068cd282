"""The promotion gate's decision: does the challenger beat the champion by more than noise?

Pure functions of arrays; :func:`training.registry.gate` feeds them the test block, moves the
alias and records the decision. The rule (``training.gate`` in the config):

* **Against a champion that can score the test block**: the paired client-bootstrap 95 %
  interval of the ROC-AUC gain (challenger minus champion, the same resampled clients for
  both, as in :mod:`training.evaluate`) must have its lower end above ``min_gain``. A point
  gain of 0.0001 is not a gain: a retrain with only the seed changed lands inside the
  interval and keeps the champion; an identical model has a gain of exactly 0 in every
  round and keeps it too. The challenger's Brier score may not exceed the champion's by
  more than ``brier_tolerance`` (a better ranking that is badly calibrated would print
  wrong probabilities), and when both have an expected-profit figure (``empc_rub``) the
  challenger's may not be lower by more than ``profit_tolerance`` of the champion's.
* **Against a champion that cannot** (its features are gone from the snapshot, or it was
  trained on the very rows of this test block): the champion is reported ``incompatible``
  with the reason, and the challenger is judged on its own test figures against the rule
  indicator with the same thresholds (the model-minus-rule gain interval of the evaluation,
  its Brier against the rule's validation-mapped Brier). A catalog change therefore never
  freezes promotion, and it never lets a model that loses to the rule through either.
  A source without the rule indicator (its inputs are this centre's CRM tables:
  :func:`features.rules.available`) is judged against the logistic baseline on the same
  signals instead (the model-minus-baseline interval, the baseline's Brier), with the same
  thresholds; the decision's ``comparison.against`` says which comparator it used.
* **No champion yet**: the challenger is promoted (the service needs a model to load); the
  decision still records its figures against the rule (or the baseline, without a rule).

Every number in the decision is a finite float or ``None`` (JSON has no ``inf``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from churn.config import GateConfig
from training.evaluate import _interval, _num, bootstrap_auc, brier_and_log_loss, roc_auc
from training.results import Comparison, Evaluation, Interval, Pair, ProfitCheck, Tolerated

Status = Literal["none", "compared", "incompatible"]


@dataclass
class GateDecision:
    promote: bool
    reason: str
    champion_version: str | None
    champion_status: Status
    champion_detail: str | None = None  # why incompatible, or which artefact was re-scored
    comparison: Comparison | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "reason": self.reason,
            "champion_version": self.champion_version,
            "champion_status": self.champion_status,
            "champion_detail": self.champion_detail,
            "comparison": self.comparison.to_dict() if self.comparison is not None else {},
        }


def _fmt(value: float | None, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)


def _profit_check(
    new: float | None, old: float | None, tolerance: float
) -> tuple[bool, ProfitCheck | None]:
    """(passes, figures): passes when either figure is missing (profit not evaluated)."""
    if new is None or old is None:
        return True, None
    floor = old - tolerance * abs(old)
    return new >= floor, ProfitCheck(_num(new), _num(old), tolerance, _num(floor))


def _verdict(c: Comparison, profit_ok: bool, gate: GateConfig) -> tuple[bool, str]:
    gain = c.auc_gain or Interval(None, None, None, 0)
    low = gain.ci_low
    auc_ok = low is not None and low > gate.min_gain
    b_new, b_old = c.brier.challenger, c.brier.reference
    brier_ok = b_new is None or b_old is None or b_new <= b_old + gate.brier_tolerance
    ok = auc_ok and brier_ok and profit_ok
    against = {"champion": "champion", "baseline": "logistic baseline"}.get(
        c.against, "rule indicator"
    )
    parts = [
        f"ROC-AUC gain over the {against} {_fmt(gain.observed)} "
        f"(95 % CI {_fmt(low)} .. {_fmt(gain.ci_high)}; needs lower end > {gate.min_gain:g})"
        f"{'' if auc_ok else ' - not beyond noise'}",
        f"Brier {_fmt(b_new)} vs {_fmt(b_old)} (tolerance {gate.brier_tolerance:g})"
        f"{'' if brier_ok else ' - worse'}",
    ]
    if c.profit is not None:
        parts.append(
            f"expected profit {_fmt(c.profit.challenger, '.1f')} vs "
            f"{_fmt(c.profit.reference, '.1f')} RUB/client{'' if profit_ok else ' - lower'}"
        )
    return ok, ("promoted: " if ok else "not promoted: ") + "; ".join(parts)


def against_champion(
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    client_id: np.ndarray,
    *,
    gate: GateConfig,
    rounds: int,
    seed: int,
    profit: tuple[float | None, float | None] = (None, None),
) -> tuple[bool, str, Comparison]:
    """Paired comparison of two probability vectors on the same rows."""
    y = np.asarray(y, dtype=float)
    boot = bootstrap_auc(
        y, {"new": challenger, "old": champion}, client_id, rounds=rounds, seed=seed
    )
    new_auc, old_auc = roc_auc(y, challenger), roc_auc(y, champion)
    profit_ok, profit_fig = _profit_check(*profit, gate.profit_tolerance)
    comparison = Comparison(
        against="champion",
        rows=int(len(y)),
        roc_auc=Pair(_num(new_auc), _num(old_auc)),
        auc_gain=_interval(boot["new"] - boot["old"], rounds, _num(new_auc - old_auc)),
        brier=Tolerated(
            _num(brier_and_log_loss(y, challenger)[0]),
            _num(brier_and_log_loss(y, champion)[0]),
            gate.brier_tolerance,
        ),
        profit=profit_fig,
    )
    ok, reason = _verdict(comparison, profit_ok, gate)
    return ok, reason, comparison


def against_own_figures(result: Evaluation, *, gate: GateConfig) -> tuple[bool, str, Comparison]:
    """The challenger's own test figures against the rule indicator, or, where the source
    has none (:func:`features.rules.available`), against the logistic baseline on the same
    signals (same thresholds); ``comparison.against`` says which."""
    if result.rule is None and result.baseline is not None:
        return against_baseline(result, gate=gate)
    return against_rule(result, gate=gate)


def against_baseline(result: Evaluation, *, gate: GateConfig) -> tuple[bool, str, Comparison]:
    """The challenger's own test figures against the logistic baseline (same thresholds)."""
    return _against_score(result, "baseline", result.baseline_gain, gate=gate)


def against_rule(result: Evaluation, *, gate: GateConfig) -> tuple[bool, str, Comparison]:
    """The challenger's own test figures against the rule indicator (same thresholds)."""
    return _against_score(result, "rule", result.auc_gain, gate=gate)


def _against_score(
    result: Evaluation, name: str, gain: Interval | None, *, gate: GateConfig
) -> tuple[bool, str, Comparison]:
    """The challenger's test figures against another score of the same evaluation."""
    model, rule = result.model, result.scores.get(name)

    def figure(m: Any, key: str) -> float | None:
        return getattr(m, key) if m is not None else None

    profit_ok, profit_fig = _profit_check(
        figure(model, "empc_rub"), figure(rule, "empc_rub"), gate.profit_tolerance
    )
    comparison = Comparison(
        against=name,
        rows=result.block.rows,
        roc_auc=Pair(figure(model, "roc_auc"), figure(rule, "roc_auc")),
        auc_gain=gain,
        brier=Tolerated(figure(model, "brier"), figure(rule, "brier"), gate.brier_tolerance),
        profit=profit_fig,
    )
    ok, reason = _verdict(comparison, profit_ok, gate)
    return ok, reason, comparison
