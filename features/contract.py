"""The raw-data contract: what a regional centre's CRM export must look like.

One Parquet file per table, named ``<table>.parquet``, in one directory. This module
is the single source of truth for table and column names, types and allowed values:
the generator writes it, ``features/schema.py`` validates it, the feature layer reads it.

Types: ``int`` = int64, ``float`` = float64, ``str`` = text (pandas ``str`` dtype),
``ts`` = ``datetime64[us, UTC]``. ``nullable`` columns may hold missing values the way a
real CRM has them; the rest may not. ``optional`` columns may be absent from a file
altogether (read as all-missing): they were added to the contract later, and exports
written before them stay valid. Every event table has ``client_id`` and ``ts``.

Churn and its end: a ``churn_events`` row is in effect from ``ts`` on. A suspension (at the
client's request or for debt) may end: ``resumed_ts`` is the day the client was active
again. A client is *active* at an instant t when no churn event is in effect at t: every
churn event with ``ts < t`` has ``resumed_ts < t``. Termination never ends.

Several centres: a network of centres sends one export with the optional
``clients.centre_id`` column (the centre each client belongs to; every event reaches its
centre through ``client_id``, so client ids are unique across the network). One export per
centre, without the column, is the same contract for a single centre: its snapshots,
scores and call lists have ``centre_id`` missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

CATEGORIES = ("A", "B", "C")
SEGMENTS = ("small_medium", "large")
SERVICE_MODES = ("in_person", "remote")
USER_ROLES = ("key_user", "decision_maker", "deputy_decision_maker", "other")
REQUEST_CHANNELS = ("hotline", "consultation_centre", "personal_cabinet")
NEWSLETTER_EVENTS = ("sent", "delivered", "bounced", "clicked")
COMPETITOR_PRESENT = ("yes", "no", "unknown")
CONTACT_KINDS = ("call", "visit", "key_user_change", "decision_maker_change")
CONTACT_OUTCOMES = ("reached", "no_answer", "refused", "callback")
CHURN_TYPES = ("termination", "suspension", "debt_suspension")
RESUMABLE_CHURN_TYPES = ("suspension", "debt_suspension")  # may carry a resumed_ts
REASON_GROUPS = (
    "uncontrollable",
    "not_decision_maker",
    "relocation",
    "service_quality",
    "product_quality",
    "financial_difficulties",
    "changed_preferences",
    "other",
)
LARGE_SEGMENT_FEE_RUB = 15_000.0  # seed 002/004: large > 15 000 RUB/month


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # "int" | "float" | "str" | "ts"
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    unique: bool = False
    doc: str = ""
    optional: bool = False  # the file may lack the column (read as all-missing)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    is_event: bool = True
    doc: str = ""
    time_columns: tuple[str, ...] = field(default=())  # ts-typed columns checked vs contract/future

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        """The columns every file of this table must have (all but the optional ones)."""
        return [c.name for c in self.columns if not c.optional]


def _cid() -> Column:
    return Column("client_id", "int", doc="client id, must exist in clients")


def _ts(doc: str = "event time (UTC)") -> Column:
    return Column("ts", "ts", doc=doc)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "clients",
            (
                Column("client_id", "int", unique=True, doc="client id"),
                Column("category", "str", allowed=CATEGORIES, doc="A, B or C"),
                Column("monthly_fee_rub", "float", min_value=0, doc="monthly service fee"),
                Column("segment", "str", allowed=SEGMENTS, doc="large if fee > 15 000"),
                Column("service_mode", "str", allowed=SERVICE_MODES),
                Column("contract_start", "ts", doc="first day of the contract"),
                Column("first_advance_months", "int", nullable=True, min_value=0),
                Column("region", "str", nullable=True),
                Column(
                    "centre_id",
                    "str",
                    nullable=True,
                    optional=True,
                    doc="centre (РИЦ) serving the client, in a network export; optional",
                ),
                Column(
                    "name",
                    "str",
                    nullable=True,
                    optional=True,
                    doc="the client's name as the CRM shows it (an id column, never a model "
                    "input); optional",
                ),
            ),
            key=("client_id",),
            is_event=False,
            time_columns=("contract_start",),
        ),
        Table(
            "users",
            (
                _cid(),
                Column("user_id", "int", unique=True),
                Column("role", "str", allowed=USER_ROLES),
                Column("email", "str", nullable=True),
                _ts("when the user was registered"),
            ),
            key=("user_id",),
            time_columns=("ts",),
        ),
        Table(
            "trainings",
            (
                _cid(),
                Column("user_id", "int"),
                _ts("training completed; certificate valid 2 years from here"),
                Column("course", "str", nullable=True),
            ),
            time_columns=("ts",),
        ),
        Table("logins", (_cid(), Column("user_id", "int"), _ts()), time_columns=("ts",)),
        Table(
            "service_requests",
            (
                _cid(),
                Column("user_id", "int", nullable=True),
                _ts(),
                Column("channel", "str", allowed=REQUEST_CHANNELS),
            ),
            time_columns=("ts",),
        ),
        Table(
            "webinars",
            (
                _cid(),
                Column("user_id", "int", nullable=True),
                _ts(),
                Column("topic", "str", nullable=True),
            ),
            time_columns=("ts",),
        ),
        Table(
            "newsletter_events",
            (
                _cid(),
                Column("user_id", "int", nullable=True),
                _ts(),
                Column("campaign_id", "int"),
                Column("event", "str", allowed=NEWSLETTER_EVENTS),
            ),
            time_columns=("ts",),
        ),
        Table(
            "video_clicks",
            (_cid(), Column("user_id", "int", nullable=True), _ts()),
            time_columns=("ts",),
        ),
        Table("kit_updates", (_cid(), _ts()), time_columns=("ts",)),
        Table(
            "invoices",
            (
                Column("invoice_id", "int", unique=True),
                _cid(),
                _ts("invoice issued"),
                Column("due_ts", "ts", doc="payment due; unpaid after this = overdue"),
                Column("paid_ts", "ts", nullable=True, doc="paid; missing = not paid yet"),
                Column("amount_rub", "float", min_value=0),
                Column("period_start", "ts", doc="service period this invoice pays for"),
                Column("period_end", "ts"),
            ),
            key=("invoice_id",),
            time_columns=("ts", "due_ts", "paid_ts"),
        ),
        Table(
            "competitor_checks",
            (
                _cid(),
                _ts("diagnostics date"),
                Column("competitor_present", "str", allowed=COMPETITOR_PRESENT),
                Column("competitor", "str", nullable=True),
            ),
            time_columns=("ts",),
        ),
        Table(
            "contacts",
            (
                _cid(),
                _ts(),
                Column("kind", "str", allowed=CONTACT_KINDS),
                Column("outcome", "str", nullable=True, allowed=CONTACT_OUTCOMES),
            ),
            time_columns=("ts",),
        ),
        Table(
            "churn_events",
            (
                _cid(),
                _ts("date the client left (suspended or terminated)"),
                Column("churn_type", "str", allowed=CHURN_TYPES),
                Column("reason_group", "str", nullable=True, allowed=REASON_GROUPS),
                Column(
                    "resumed_ts",
                    "ts",
                    nullable=True,
                    optional=True,
                    doc="day a suspension ended (active again); missing = not resumed; "
                    "suspension and debt_suspension only, after ts",
                ),
            ),
            time_columns=("ts", "resumed_ts"),
        ),
    )
}

ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "ts": pa.timestamp("us", tz="UTC"),
}


def written_columns(table: Table, *, optional: bool = False) -> tuple[Column, ...]:
    """The contract columns a file gets: the required ones, plus the optional ones if asked."""
    return tuple(c for c in table.columns if optional or not c.optional)


def arrow_schema(table: Table, *, optional: bool = False) -> pa.Schema:
    """The Arrow schema of a contract file (the generator and ``churn import`` write it)."""
    return pa.schema(
        [
            pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable)
            for c in written_columns(table, optional=optional)
        ]
    )
