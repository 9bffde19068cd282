"""The canonical tables of a subscription + activity source.

The same :class:`features.contract.Table` / ``Column`` declarations as the centre's
contract, so the same checks (types, keys, unknown customers, future dates) apply. Source
files are mapped onto these names by the source spec (:mod:`features.generic.spec`).

Time convention (as for the centre's contract): a subscription covers ``[start_ts,
end_ts)``; ``end_ts`` missing means open-ended (still running). Every instant is UTC.
"""

from __future__ import annotations

from features.contract import Column, Table

SUBSCRIPTIONS = Table(
    "subscriptions",
    (
        Column("subscription_id", "int", unique=True, doc="subscription key"),
        Column("client_id", "int", doc="customer, must exist in customers when given"),
        Column("start_ts", "ts", doc="first instant the subscription covers"),
        Column(
            "end_ts", "ts", nullable=True, doc="first instant it no longer covers; missing = open"
        ),
        Column("amount", "float", min_value=0, doc="price per billing period"),
        Column("billing_period_months", "int", min_value=1, doc="1 = monthly, 12 = yearly"),
    ),
    key=("subscription_id",),
    is_event=False,
    doc="one row per subscription (a renewal may be a new row or extend end_ts)",
    time_columns=("start_ts",),
)

ACTIVITIES = Table(
    "activities",
    (
        Column("client_id", "int", doc="customer"),
        Column("ts", "ts", doc="when it happened (UTC)"),
        Column("activity_type", "str", doc="what happened: login, export, ticket ..."),
        Column("value", "float", nullable=True, optional=True, doc="optional amount"),
        Column("user_id", "int", nullable=True, optional=True, doc="optional user"),
    ),
    doc="one row per activity event",
    time_columns=("ts",),
)

CUSTOMERS = Table(
    "customers",
    (
        Column("client_id", "int", unique=True, doc="customer id"),
        Column(
            "name", "str", nullable=True, optional=True, doc="display name, never a model input"
        ),
    ),
    key=("client_id",),
    is_event=False,
    doc="optional: one row per customer; further columns are attributes the spec declares",
)

GENERIC_TABLES: dict[str, Table] = {t.name: t for t in (CUSTOMERS, SUBSCRIPTIONS, ACTIVITIES)}
