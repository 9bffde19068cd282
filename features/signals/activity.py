"""Online activity: logins over several windows, their trend, active users (seed 002, 004)."""

from __future__ import annotations

import ibis.expr.types as ir

from churn.config import FeaturesConfig
from features.windows import AsOf, known, within


def login_signals(logins: ir.Table, as_of: AsOf, cfg: FeaturesConfig) -> ir.Table:
    """logins_{N}d and the two trend parts per client.

    The trend is finished in the snapshot (it needs NaN when the base is 0), so this
    returns the raw counts ``_trend_recent`` and ``_trend_base``.
    """
    recent, base = cfg.trend_recent_days, cfg.trend_base_days
    lookback = max([*cfg.login_windows_days, recent + base])
    j = known(logins, as_of, lookback)
    counts = {f"logins_{n}d": j.count(where=within(j.ts, as_of, n)) for n in cfg.login_windows_days}
    in_recent = within(j.ts, as_of, recent)
    in_base = within(j.ts, as_of, recent + base) & ~in_recent
    return j.group_by("client_id").aggregate(
        **counts,
        _trend_recent=j.count(where=in_recent),
        _trend_base=j.count(where=in_base),
    )


def active_user_signals(logins: ir.Table, as_of: AsOf, cfg: FeaturesConfig) -> ir.Table:
    """active_users_30d: distinct users who logged in during the window.

    A separate, narrower scan: a distinct count next to the plain counts above makes
    DuckDB fan the whole 90-day stream out to two aggregations, which cost more than
    reading the 30 days again.
    """
    n = cfg.active_users_window_days
    recent = known(logins, as_of, n)
    pairs = recent.filter(recent.user_id.notnull()).select("client_id", "user_id").distinct()
    return pairs.group_by("client_id").aggregate(**{f"active_users_{n}d": pairs.count()})
