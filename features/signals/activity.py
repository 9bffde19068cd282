"""Online activity: logins over several windows, their trend, active users (seed 002, 004)."""

from __future__ import annotations

import ibis.expr.types as ir

from churn.config import FeaturesConfig
from features.windows import days_before, visible


def login_signals(logins: ir.Table, dates: ir.Table, cfg: FeaturesConfig) -> ir.Table:
    """logins_{N}d, the two trend parts and active_users_30d per (client_id, as_of).

    The trend is finished in the snapshot (it needs NaN when the base is 0), so this
    returns the raw counts ``_trend_recent`` and ``_trend_base``.
    """
    recent, base = cfg.trend_recent_days, cfg.trend_base_days
    lookback = max([*cfg.login_windows_days, recent + base, cfg.active_users_window_days])
    j = visible(logins, dates, lookback)
    since = {n: j.ts >= days_before(j.as_of, n) for n in cfg.login_windows_days}
    counts = {f"logins_{n}d": cond.sum().cast("int64") for n, cond in since.items()}
    in_recent = j.ts >= days_before(j.as_of, recent)
    in_base = (j.ts >= days_before(j.as_of, recent + base)) & ~in_recent
    return j.group_by(["client_id", "as_of"]).aggregate(
        **counts,
        _trend_recent=in_recent.sum().cast("int64"),
        _trend_base=in_base.sum().cast("int64"),
        active_users_30d=j.user_id.nunique(
            where=j.ts >= days_before(j.as_of, cfg.active_users_window_days)
        ).cast("int64"),
    )
