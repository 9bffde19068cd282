"""Uplift ranking: whom a call *changes*, learnt from the logged calls and the holdout.

A risk ranking calls the clients most likely to leave; the retention literature (Ascarza
2018) finds those are often not the ones a call saves. With a randomised holdout the
effect of a call can be learnt: this is the two-model ("T-learner") estimate. Each arm
(called, held out) gets its own model of churn within the horizon from what was known
when the client was listed; the predicted uplift of a client is
``p_holdout(x) - p_called(x)``, the drop in churn probability a call buys, and the list
is ranked by it.

Why so small a model: the holdout is 10 % of the listings, a few hundred rows with a few
dozen churners after half a year; a boosted tree on forty signals would rank by noise.
Each arm is an L2-regularised logistic regression on a handful of listing-time features:
the logit of the risk model's probability (how likely to leave), the call list's reason
group (what a call can address: the documented actions, and the simulated effect, differ
by reason), overdue debt yes/no, logins in the last 30 days and a competitor seen. The
features are standardised on the pooled rows so both arms share one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from churn.errors import InputError

NUMERIC = ("probability", "overdue_debt_rub", "logins_30d", "competitor_present")
REQUIRED = ("assignment", "reason_group", *NUMERIC)
EPS = 1e-4


def _numeric(frame: pd.DataFrame) -> np.ndarray:
    p = np.clip(frame["probability"].to_numpy(dtype=float), EPS, 1 - EPS)
    debt = frame["overdue_debt_rub"].fillna(0).to_numpy(dtype=float) > 0
    logins = np.log1p(frame["logins_30d"].fillna(0).to_numpy(dtype=float))
    competitor = frame["competitor_present"].astype("str").to_numpy() == "yes"
    return np.column_stack([np.log(p / (1 - p)), debt, logins, competitor]).astype(float)


@dataclass
class TwoModelUplift:
    """Two logistic regressions (called, held out) over the same standardised features."""

    called: LogisticRegression
    held_out: LogisticRegression
    reasons: list[str]
    mean: np.ndarray
    scale: np.ndarray

    def design(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in ("reason_group", *NUMERIC) if c not in frame.columns]
        if missing:
            raise InputError(f"uplift model: missing column(s) {', '.join(missing)}")
        x = (_numeric(frame) - self.mean) / self.scale
        reason = frame["reason_group"].astype("str").to_numpy()
        onehot = np.column_stack([reason == r for r in self.reasons]).astype(float)
        return np.hstack([x, onehot]) if self.reasons else x

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted drop in churn probability if called (positive = the call helps)."""
        x = self.design(frame)
        return self.held_out.predict_proba(x)[:, 1] - self.called.predict_proba(x)[:, 1]


def fit_two_model(frame: pd.DataFrame, *, label: str = "churned", c: float = 1.0) -> TwoModelUplift:
    """Fit both arms on logged listings: ``assignment``, ``label`` and the features."""
    missing = [col for col in (*REQUIRED, label) if col not in frame.columns]
    if missing:
        raise InputError(f"uplift model: missing column(s) {', '.join(missing)}")
    x = _numeric(frame)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    counts = frame["reason_group"].astype("str").value_counts()
    reasons = sorted(counts.index[counts >= 20])  # rare groups fold into the baseline
    shell = TwoModelUplift(LogisticRegression(), LogisticRegression(), reasons, mean, scale)
    design = shell.design(frame)
    y = frame[label].to_numpy(dtype=int)
    models = {}
    for arm in ("call", "holdout"):
        rows = (frame["assignment"] == arm).to_numpy()
        if len(np.unique(y[rows])) < 2:
            raise InputError(f"uplift model: the {arm} arm needs churners and stayers")
        models[arm] = LogisticRegression(C=c, max_iter=1000).fit(design[rows], y[rows])
    return TwoModelUplift(models["call"], models["holdout"], reasons, mean, scale)
