"""A hand-built raw base of five clients with events placed around AS_OF = 2025-06-01.

Each event's comment says which window it falls in, so the expected values written out
in ``test_snapshot.py`` can be checked by reading this file. Events exactly ON as_of
(00:00 UTC or later that day) must never count; events at exactly "as_of - N days 00:00"
are inside an N-day window.

Clients: 1 (A, busy), 2 (B, new and quiet), 3 (churned before as_of: excluded),
4 (churns exactly on as_of: still active, no events at all), 5 (contract starts on as_of:
excluded).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import TABLES

AS_OF = date(2025, 6, 1)
ARROW = {
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "ts": pa.timestamp("us", tz="UTC"),
}


def ts(text: str) -> datetime:
    """'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM' in UTC."""
    fmt = "%Y-%m-%d %H:%M" if " " in text else "%Y-%m-%d"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def _client(
    cid: int,
    cat: str,
    fee: float,
    mode: str,
    start: str,
    adv: int | None,
    region: str | None,
    centre: str | None = None,
) -> dict[str, Any]:
    seg = "large" if fee > 15_000 else "small_medium"
    return dict(
        client_id=cid,
        category=cat,
        monthly_fee_rub=fee,
        segment=seg,
        service_mode=mode,
        contract_start=start,
        first_advance_months=adv,
        region=region,
        centre_id=centre,
    )


ROWS: dict[str, list[dict[str, Any]]] = {
    "clients": [
        _client(1, "A", 20_000.0, "in_person", "2024-01-15", 3, "North", "C01"),
        _client(2, "B", 10_000.0, "remote", "2025-03-01", None, None, "C02"),
        _client(3, "C", 8_000.0, "remote", "2024-01-01", 1, "South"),
        _client(4, "C", 9_000.0, "remote", "2024-06-01", 12, "South", "C01"),
        _client(5, "B", 9_000.0, "remote", "2025-06-01", 1, "South"),
    ],
    "users": [
        dict(client_id=1, user_id=11, role="key_user", ts="2024-01-15"),
        dict(client_id=1, user_id=12, role="decision_maker", ts="2024-01-20"),
        dict(client_id=1, user_id=13, role="other", ts="2025-01-01"),
        dict(client_id=1, user_id=14, role="other", ts="2025-06-01 00:00"),  # on as_of: not yet
        dict(client_id=1, user_id=15, role="other", ts="2025-05-31 23:59"),
        dict(client_id=2, user_id=21, role="key_user", ts="2025-03-01"),
        dict(client_id=2, user_id=22, role="other", ts="2025-03-02"),
        dict(client_id=3, user_id=31, role="key_user", ts="2024-01-01"),
        dict(client_id=5, user_id=51, role="key_user", ts="2025-05-20"),
    ],
    "trainings": [
        dict(client_id=1, user_id=11, ts="2023-06-01"),  # 731 days old: certificate expired
        dict(client_id=1, user_id=12, ts="2024-02-01"),  # valid
        dict(client_id=1, user_id=13, ts="2025-05-31 12:00"),  # valid, the last one: 1 day
        dict(client_id=1, user_id=14, ts="2025-05-01"),  # valid, but user 14 not registered yet
        dict(client_id=1, user_id=15, ts="2025-06-01 09:00"),  # on as_of: not yet
        dict(client_id=2, user_id=21, ts="2025-03-10"),  # key user, 83 days
        dict(client_id=3, user_id=31, ts="2025-01-10"),
    ],
    "logins": [
        dict(client_id=1, user_id=11, ts="2025-05-31 23:59"),  # 7d
        dict(client_id=1, user_id=12, ts="2025-05-25 00:00"),  # exactly 7 days: 7d
        dict(client_id=1, user_id=12, ts="2025-05-24 23:59"),  # 30d
        dict(client_id=1, user_id=13, ts="2025-05-02 00:00"),  # exactly 30 days: 30d
        dict(client_id=1, user_id=11, ts="2025-05-01 12:00"),  # 90d, trend base
        dict(client_id=1, user_id=11, ts="2025-03-03 00:00"),  # exactly 90 days: 90d, base
        dict(client_id=1, user_id=11, ts="2025-03-02 23:00"),  # outside 90d
        dict(client_id=1, user_id=15, ts="2025-06-01 00:00"),  # on as_of
        dict(client_id=1, user_id=15, ts="2025-06-05"),  # after
        dict(client_id=2, user_id=21, ts="2025-04-15"),  # 90d, trend base only
        dict(client_id=3, user_id=31, ts="2025-05-10"),
    ],
    "webinars": [
        dict(client_id=1, user_id=11, ts="2024-12-03 00:00"),  # exactly 180 days: in
        dict(client_id=1, user_id=11, ts="2024-12-02 23:59"),  # out
        dict(client_id=1, user_id=12, ts="2025-06-01 08:00"),  # on as_of
        dict(client_id=2, user_id=21, ts="2025-04-01"),
        dict(client_id=2, user_id=None, ts="2025-05-01"),
    ],
    "service_requests": [
        dict(client_id=1, user_id=11, ts="2025-03-03 00:00", channel="personal_cabinet"),  # 90d in
        dict(client_id=1, user_id=11, ts="2025-03-02 12:00", channel="personal_cabinet"),  # out
        dict(client_id=1, user_id=12, ts="2025-04-02 00:00", channel="hotline"),  # exactly 60d: in
        dict(client_id=1, user_id=12, ts="2025-04-01 23:00", channel="hotline"),  # out
        dict(client_id=1, user_id=None, ts="2025-05-31", channel="consultation_centre"),  # in
        dict(client_id=1, user_id=None, ts="2025-06-01 10:00", channel="consultation_centre"),
        dict(client_id=2, user_id=21, ts="2025-06-02", channel="hotline"),  # after
    ],
    "newsletter_events": [
        dict(client_id=1, user_id=11, ts="2025-05-10", campaign_id=7, event="sent"),
        dict(client_id=1, user_id=12, ts="2025-05-10", campaign_id=7, event="sent"),
        dict(client_id=1, user_id=12, ts="2025-05-10 00:01", campaign_id=7, event="bounced"),
        dict(client_id=1, user_id=11, ts="2025-03-10", campaign_id=5, event="sent"),
        dict(client_id=1, user_id=12, ts="2025-03-10", campaign_id=5, event="sent"),
        dict(client_id=1, user_id=11, ts="2025-05-20", campaign_id=7, event="clicked"),  # 30d
        dict(client_id=1, user_id=11, ts="2025-04-01", campaign_id=5, event="clicked"),  # 90d
        dict(client_id=1, user_id=11, ts="2025-06-01 07:00", campaign_id=8, event="clicked"),
        dict(client_id=1, user_id=11, ts="2025-06-01 06:00", campaign_id=8, event="sent"),
        dict(client_id=1, user_id=11, ts="2025-02-01", campaign_id=3, event="sent"),  # out
    ],
    "video_clicks": [
        dict(client_id=1, user_id=11, ts="2025-05-01"),
        dict(client_id=1, user_id=11, ts="2025-02-01"),  # out of 90d
    ],
    "kit_updates": [
        dict(client_id=1, ts="2025-05-15"),
        dict(client_id=2, ts="2025-02-15"),  # out of 90d
    ],
    "invoices": [
        dict(
            invoice_id=1,
            client_id=1,
            ts="2025-01-01",
            due_ts="2025-01-15",
            paid_ts="2025-01-10",
            amount_rub=60_000.0,
            period_start="2025-01-01",
            period_end="2025-03-31",
        ),
        # paid ON as_of: still unpaid and overdue (since 04-15: 47 days) on as_of
        dict(
            invoice_id=2,
            client_id=1,
            ts="2025-04-01",
            due_ts="2025-04-15",
            paid_ts="2025-06-01 10:00",
            amount_rub=60_000.0,
            period_start="2025-04-01",
            period_end="2025-06-30",
        ),
        # open, not yet due
        dict(
            invoice_id=3,
            client_id=1,
            ts="2025-05-20",
            due_ts="2025-06-10",
            paid_ts=None,
            amount_rub=5_000.0,
            period_start="2025-07-01",
            period_end="2025-07-31",
        ),
        # issued on as_of: does not exist yet
        dict(
            invoice_id=4,
            client_id=1,
            ts="2025-06-01 00:00",
            due_ts="2025-05-01",
            paid_ts=None,
            amount_rub=999.0,
            period_start="2025-06-01",
            period_end="2025-12-31",
        ),
        # client 2: paid, period ends 31 days after as_of: renewal not yet
        dict(
            invoice_id=5,
            client_id=2,
            ts="2025-03-01",
            due_ts="2025-03-10",
            paid_ts="2025-03-05",
            amount_rub=30_000.0,
            period_start="2025-03-01",
            period_end="2025-07-02",
        ),
    ],
    "competitor_checks": [
        dict(client_id=1, ts="2024-12-01", competitor_present="yes", competitor="Garant"),
        dict(client_id=1, ts="2025-05-01", competitor_present="unknown", competitor=None),
        dict(client_id=1, ts="2025-06-01 00:00", competitor_present="no", competitor=None),
        dict(client_id=2, ts="2025-07-01", competitor_present="yes", competitor="Garant"),
    ],
    "contacts": [
        dict(client_id=1, ts="2025-05-20", kind="call", outcome="reached"),  # last contact: 12 d
        dict(client_id=1, ts="2025-05-28", kind="call", outcome="no_answer"),  # not a contact
        dict(client_id=1, ts="2024-12-03 00:00", kind="key_user_change", outcome=None),  # 180d in
        dict(client_id=1, ts="2024-12-02 23:59", kind="decision_maker_change", outcome=None),
        dict(client_id=1, ts="2025-06-01 00:00", kind="visit", outcome="reached"),  # on as_of
        dict(client_id=2, ts="2025-03-15", kind="visit", outcome=None),  # 78 days
        dict(client_id=2, ts="2025-06-15", kind="decision_maker_change", outcome=None),  # after
    ],
    "churn_events": [
        dict(client_id=3, ts="2025-05-20", churn_type="termination", reason_group="relocation"),
        dict(client_id=4, ts="2025-06-01 00:00", churn_type="suspension", reason_group=None),
        dict(client_id=1, ts="2025-08-01", churn_type="termination", reason_group="other"),
    ],
}


def _column(values: list[Any], typ: str) -> pa.Array:
    if typ == "ts":
        values = [ts(v) if isinstance(v, str) else v for v in values]
    return pa.array(values, type=ARROW[typ])


def write_table(raw_dir: Path, name: str, rows: list[dict[str, Any]]) -> None:
    """Write rows (missing keys = null) with the contract's column order and types."""
    spec = TABLES[name]
    data = {c.name: _column([r.get(c.name) for r in rows], c.type) for c in spec.columns}
    pq.write_table(pa.table(data), raw_dir / f"{name}.parquet")


def write_tiny_base(raw_dir: Path, rows: dict[str, list[dict[str, Any]]] | None = None) -> Path:
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, table_rows in (rows or ROWS).items():
        write_table(raw_dir, name, table_rows)
    return raw_dir
