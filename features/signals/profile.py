"""Who is active on as_of, and their profile (category, segment, fee, tenure, users)."""

from __future__ import annotations

import ibis.expr.types as ir

from features.windows import AsOf, at, days_since, known


def churn_in_effect(churn_events: ir.Table, as_of: AsOf) -> ir.Table:
    """Churn events in effect at as_of: known (``ts < as_of``) and not known to have ended.

    A suspension resumed on day R ends for snapshots after R: ``resumed_ts < as_of``, the
    same strictly-before rule as every other event (a resumption stamped on the as_of day
    is not seen yet, so a client suspended on D1 and resumed on D2 is out of the snapshots
    of (D1, D2] and back from D2 + 1 day on).
    """
    events = known(churn_events, as_of)
    return events.filter(events.resumed_ts.isnull() | (events.resumed_ts >= at(as_of)))


def active_clients(clients: ir.Table, churn_events: ir.Table, as_of: AsOf) -> ir.Table:
    """Clients under contract before as_of with no churn in effect at as_of, with profile.

    A churn event on or after as_of does not exist yet on as_of, so that client is active;
    a suspension resumed before as_of no longer holds, so that client is active again.
    """
    churned = churn_in_effect(churn_events, as_of).select("client_id").distinct()
    started = clients.filter(clients.contract_start < at(as_of))
    active = started.anti_join(churned, "client_id")
    return active.select(
        "client_id",
        "centre_id",
        "name",
        "category",
        "segment",
        "service_mode",
        "region",
        monthly_fee_rub=active.monthly_fee_rub.cast("float64"),
        tenure_days=days_since(as_of, active.contract_start),
        first_advance_months=active.first_advance_months.cast("float64"),
    )


def registered_users(users: ir.Table, as_of: AsOf) -> ir.Table:
    """Users registered before as_of: (client_id, user_id, role)."""
    return known(users, as_of).select("client_id", "user_id", "role")


def user_counts(users_at: ir.Table) -> ir.Table:
    """n_users per client."""
    return users_at.group_by("client_id").aggregate(n_users=users_at.count())
