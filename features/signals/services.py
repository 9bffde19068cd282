"""Use of services: webinars, personal cabinet, hotline, consultation centre, newsletters,
VideoConsultant, kit updates (seeds 002, 004). All are event counts in a window."""

from __future__ import annotations

import ibis.expr.types as ir

from churn.config import FeaturesConfig
from features.windows import AsOf, known, within


def _count(j: ir.Table, as_of: AsOf, days: int, cond: ir.BooleanValue | None = None) -> ir.Value:
    recent = within(j.ts, as_of, days)
    return j.count(where=recent if cond is None else recent & cond)


def _simple_count(events: ir.Table, as_of: AsOf, days: int, name: str) -> ir.Table:
    j = known(events, as_of, days)
    return j.group_by("client_id").aggregate(**{name: j.count()})


def webinar_signals(webinars: ir.Table, as_of: AsOf, cfg: FeaturesConfig) -> ir.Table:
    n = cfg.webinar_window_days
    return _simple_count(webinars, as_of, n, f"webinars_{n}d")


def request_signals(requests: ir.Table, as_of: AsOf, cfg: FeaturesConfig) -> ir.Table:
    """cabinet_requests_{N}d, hotline_requests_{M}d, consultation_requests_{M}d."""
    cab, hot = cfg.cabinet_window_days, cfg.hotline_window_days
    j = known(requests, as_of, max(cab, hot))
    return j.group_by("client_id").aggregate(
        **{
            f"cabinet_requests_{cab}d": _count(j, as_of, cab, j.channel == "personal_cabinet"),
            f"hotline_requests_{hot}d": _count(j, as_of, hot, j.channel == "hotline"),
            f"consultation_requests_{hot}d": _count(
                j, as_of, hot, j.channel == "consultation_centre"
            ),
        }
    )


def newsletter_signals(events: ir.Table, as_of: AsOf, cfg: FeaturesConfig) -> ir.Table:
    """newsletter_clicks_{N}d for each window, plus sent / bounced counts over the longest."""
    windows = cfg.newsletter_windows_days
    longest = max(windows)
    j = known(events, as_of, longest)
    clicks = {f"newsletter_clicks_{n}d": _count(j, as_of, n, j.event == "clicked") for n in windows}
    return j.group_by("client_id").aggregate(
        **clicks,
        _sent=j.count(where=j.event == "sent"),
        _bounced=j.count(where=j.event == "bounced"),
    )


def video_signals(clicks: ir.Table, as_of: AsOf, cfg: FeaturesConfig) -> ir.Table:
    n = cfg.video_window_days
    return _simple_count(clicks, as_of, n, f"video_clicks_{n}d")


def kit_update_signals(updates: ir.Table, as_of: AsOf, cfg: FeaturesConfig) -> ir.Table:
    n = cfg.kit_update_window_days
    return _simple_count(updates, as_of, n, f"kit_updates_{n}d")
