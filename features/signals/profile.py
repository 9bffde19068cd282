"""Who is active on each as_of, and their profile (category, segment, fee, tenure, users)."""

from __future__ import annotations

import ibis.expr.types as ir

from features.windows import days_between, visible


def active_clients(clients: ir.Table, churn_events: ir.Table, dates: ir.Table) -> ir.Table:
    """(client_id, as_of) for clients under contract before as_of and not churned before it.

    A churn event on or after as_of does not exist yet on as_of, so that client is active.
    """
    first_churn = churn_events.group_by("client_id").aggregate(first_churn=churn_events.ts.min())
    c = clients.left_join(first_churn, "client_id").drop("client_id_right")
    grid = c.join(dates, c.contract_start < dates.as_of)
    grid = grid.filter(grid.first_churn.isnull() | (grid.first_churn >= grid.as_of))
    return grid.select(
        "client_id",
        "as_of",
        "category",
        "segment",
        "service_mode",
        "region",
        monthly_fee_rub=grid.monthly_fee_rub.cast("float64"),
        tenure_days=days_between(grid.as_of, grid.contract_start),
        first_advance_months=grid.first_advance_months.cast("float64"),
    )


def registered_users(users: ir.Table, dates: ir.Table) -> ir.Table:
    """Users registered before as_of, one row per (user, as_of), with their role."""
    u = visible(users, dates)
    return u.select("client_id", "as_of", "user_id", "role")


def user_counts(users_at: ir.Table) -> ir.Table:
    """n_users per (client_id, as_of)."""
    return users_at.group_by(["client_id", "as_of"]).aggregate(n_users=users_at.count())
