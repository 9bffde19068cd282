"""What the calls achieved: churn of called vs held-out clients (the randomised holdout).

Input: one row per (week, client) that the list would have called, with its
``assignment`` ('call' | 'holdout', drawn at random within risk deciles by
``serving.holdout``), its ``rank`` on that week's list, ``risk_decile``, optionally a
``reason_group``, and ``churned`` (1 if the client churned within the horizon after the
week's ``as_of``). Because the assignment is random, ``churn(holdout) - churn(called)``
estimates the average effect of a call on the clients the list picks; ×100 it is the
number of clients retained per 100 calls.

Intervals: a percentile bootstrap that resamples rows within each arm (the arms' sizes
are fixed by the design), ``rounds`` times, seeded; for 0/1 outcomes that is a binomial
draw of each arm's churners. Rows are taken as independent: a client assigned in two
weeks counts twice (the weekly loop should not re-assign a client within the horizon).
The Qini curve orders the list by rank and gives, for the top k listed,
``churners_holdout(k) x n_called(k) / n_holdout(k) - churners_called(k)``: clients
retained among the first k calls; its value at the capacity is the uplift a list of that
length delivers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churn.errors import InputError

if TYPE_CHECKING:
    from churn.config import Config

REQUIRED = ("assignment", "churned")


def _arm_rates(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    called = frame.loc[frame["assignment"] == "call", "churned"].to_numpy(dtype=float)
    held = frame.loc[frame["assignment"] == "holdout", "churned"].to_numpy(dtype=float)
    return called, held


def difference(frame: pd.DataFrame, *, rounds: int, seed: int) -> dict[str, Any]:
    """Churn rates of both arms, their difference (holdout - called) and its bootstrap CI."""
    called, held = _arm_rates(frame)
    out: dict[str, Any] = {
        "n_called": int(len(called)),
        "n_holdout": int(len(held)),
        "churn_called": float(called.mean()) if len(called) else None,
        "churn_holdout": float(held.mean()) if len(held) else None,
        "difference": None,
        "ci_low": None,
        "ci_high": None,
        "retained_per_100_calls": None,
    }
    if not len(called) or not len(held):
        return out
    rng = np.random.default_rng(seed)
    boot_c = rng.binomial(len(called), called.mean(), rounds) / len(called)
    boot_h = rng.binomial(len(held), held.mean(), rounds) / len(held)
    diff = held.mean() - called.mean()
    low, high = np.percentile(boot_h - boot_c, [2.5, 97.5])
    out.update(
        difference=float(diff),
        ci_low=float(low),
        ci_high=float(high),
        retained_per_100_calls=float(100 * diff),
    )
    return out


def qini(frame: pd.DataFrame) -> pd.DataFrame:
    """Clients retained among the top-k listed (by week and rank), k = 1..n."""
    order = frame.sort_values(
        [c for c in ("rank", "as_of", "client_id") if c in frame.columns], kind="mergesort"
    )
    is_call = (order["assignment"] == "call").to_numpy()
    y = order["churned"].to_numpy(dtype=float)
    n_t, n_c = np.cumsum(is_call), np.cumsum(~is_call)
    y_t, y_c = np.cumsum(y * is_call), np.cumsum(y * ~is_call)
    with np.errstate(divide="ignore", invalid="ignore"):
        retained = np.where(n_c > 0, y_c * n_t / np.maximum(n_c, 1), 0.0) - y_t
    return pd.DataFrame({"listed": np.arange(1, len(order) + 1), "called": n_t, "qini": retained})


def controls_sent(frame: pd.DataFrame, window_days: int) -> dict[str, Any]:
    """How many controls (holdout rows) had been sent to the scheduler: the same client
    assigned 'call' in a week within ``window_days`` before the control's week, or during
    its own outcome window after it. Must be 0: such a control may have been called, and
    it pulls the measured effect of calls towards zero (issue 18, item 11). None when the
    rows do not say which client and week they are."""
    if not {"client_id", "as_of", "assignment"} <= set(frame.columns):
        return {"controls_sent_to_scheduler": None, "window_days": int(window_days)}
    rows = frame[["client_id", "as_of", "assignment"]].assign(
        as_of=pd.to_datetime(frame["as_of"]).dt.tz_localize(None).astype("datetime64[us]")
    )
    held = rows[rows["assignment"] == "holdout"].reset_index(drop=True)
    sent = rows[rows["assignment"] == "call"]
    both = held.reset_index().merge(sent, on="client_id", suffixes=("", "_sent"))
    gap = (both["as_of_sent"] - both["as_of"]).dt.days
    hit = both.loc[(gap > -window_days) & (gap < window_days), "index"].unique()
    return {"controls_sent_to_scheduler": int(len(hit)), "window_days": int(window_days)}


def uplift_report(
    frame: pd.DataFrame, *, capacity: int | None = None, rounds: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Overall, by risk decile and by reason group, plus the Qini curve and uplift at capacity."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(f"uplift: missing column(s) {', '.join(missing)}")
    bad = set(frame["assignment"].dropna()) - {"call", "holdout"}
    if bad:
        raise InputError(f"assignment: unknown value(s) {sorted(bad)}; expected call | holdout")
    frame = frame[frame["assignment"].isin(["call", "holdout"])]
    report: dict[str, Any] = {"overall": difference(frame, rounds=rounds, seed=seed)}
    for key, column in (("by_risk_decile", "risk_decile"), ("by_reason_group", "reason_group")):
        if column in frame.columns:
            report[key] = {
                str(value): difference(part, rounds=rounds, seed=seed)
                for value, part in frame.groupby(column, sort=True)
            }
    curve = qini(frame)
    report["qini"] = curve.iloc[:: max(1, len(curve) // 100)].to_dict("records")
    if capacity is not None and len(curve):
        k = int(min(capacity, len(curve)))
        report["uplift_at_capacity"] = {"listed": k, "retained": float(curve["qini"].iloc[k - 1])}
    return report


def measure_uplift(
    cfg: Config, assignments: Path, raw: Path, *, capacity: int | None = None
) -> dict[str, Any]:
    """``churn uplift``: the logged assignments (CSV or Parquet) labelled from ``raw``'s
    churn events, only rows whose whole horizon is observed; the :func:`uplift_report`
    with the rows used and waiting, and the controls ever sent (:func:`controls_sent`)."""
    from training.labels import LABEL, data_end_of, label_snapshots, read_churn_events

    assignments = Path(assignments)
    if not assignments.exists():
        raise InputError(f"--assignments: file not found: {assignments}")
    frame = (
        pd.read_parquet(assignments)
        if assignments.suffix == ".parquet"
        else pd.read_csv(assignments)
    )
    horizon = cfg.training.horizon_days
    labelled = label_snapshots(
        frame,
        read_churn_events(raw),
        horizon,
        data_end_of(raw),
        churn_types=cfg.training.churn_types,
    )
    if labelled.empty:
        raise InputError(f"--assignments: no row has its {horizon}-day horizon observed yet")
    out = uplift_report(
        labelled.rename(columns={LABEL: "churned"}),
        capacity=capacity,
        rounds=cfg.training.bootstrap_rounds,
        seed=cfg.retention.holdout_seed,
    )
    out["rows_used"], out["rows_waiting_for_horizon"] = len(labelled), len(frame) - len(labelled)
    out["controls"] = controls_sent(frame, horizon)
    return out
