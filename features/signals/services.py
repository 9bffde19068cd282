"""Use of services: webinars, personal cabinet, hotline, consultation centre, newsletters,
VideoConsultant, kit updates (seeds 002, 004). All are event counts in a window."""

from __future__ import annotations

import ibis.expr.types as ir

from churn.config import FeaturesConfig
from features.windows import days_before, visible


def _count(j: ir.Table, days: int, cond: ir.BooleanValue | None = None) -> ir.IntegerScalar:
    recent = j.ts >= days_before(j.as_of, days)
    return (recent if cond is None else recent & cond).sum().cast("int64")


def webinar_signals(webinars: ir.Table, dates: ir.Table, cfg: FeaturesConfig) -> ir.Table:
    n = cfg.webinar_window_days
    j = visible(webinars, dates, n)
    return j.group_by(["client_id", "as_of"]).aggregate(**{f"webinars_{n}d": _count(j, n)})


def request_signals(requests: ir.Table, dates: ir.Table, cfg: FeaturesConfig) -> ir.Table:
    """cabinet_requests_{N}d, hotline_requests_{M}d, consultation_requests_{M}d."""
    cab, hot = cfg.cabinet_window_days, cfg.hotline_window_days
    j = visible(requests, dates, max(cab, hot))
    return j.group_by(["client_id", "as_of"]).aggregate(
        **{
            f"cabinet_requests_{cab}d": _count(j, cab, j.channel == "personal_cabinet"),
            f"hotline_requests_{hot}d": _count(j, hot, j.channel == "hotline"),
            f"consultation_requests_{hot}d": _count(j, hot, j.channel == "consultation_centre"),
        }
    )


def newsletter_signals(events: ir.Table, dates: ir.Table, cfg: FeaturesConfig) -> ir.Table:
    """newsletter_clicks_{N}d for each window, plus sent / bounced counts over the longest."""
    windows = cfg.newsletter_windows_days
    longest = max(windows)
    j = visible(events, dates, longest)
    clicks = {f"newsletter_clicks_{n}d": _count(j, n, j.event == "clicked") for n in windows}
    return j.group_by(["client_id", "as_of"]).aggregate(
        **clicks,
        _sent=_count(j, longest, j.event == "sent"),
        _bounced=_count(j, longest, j.event == "bounced"),
    )


def video_signals(clicks: ir.Table, dates: ir.Table, cfg: FeaturesConfig) -> ir.Table:
    n = cfg.video_window_days
    j = visible(clicks, dates, n)
    return j.group_by(["client_id", "as_of"]).aggregate(**{f"video_clicks_{n}d": _count(j, n)})


def kit_update_signals(updates: ir.Table, dates: ir.Table, cfg: FeaturesConfig) -> ir.Table:
    n = cfg.kit_update_window_days
    j = visible(updates, dates, n)
    return j.group_by(["client_id", "as_of"]).aggregate(**{f"kit_updates_{n}d": _count(j, n)})
