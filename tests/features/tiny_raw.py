"""A hand-built, contract-valid raw base of three clients, small enough to read by eye.

Tests copy it, break one thing, and check that ``churn validate`` names exactly that.
Every table of ``features.contract.TABLES`` is written with the contract's dtypes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.contract import TABLES

NAN = None


def _ts(*values: str | None) -> list[str | None]:
    return list(values)


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Raw tables as plain columns; :func:`typed` gives them the contract dtypes."""
    raw = {
        "clients": {
            "client_id": [1, 2, 3],
            "category": ["A", "B", "C"],
            "monthly_fee_rub": [20_000.0, 9_000.0, 15_000.0],
            "segment": ["large", "small_medium", "small_medium"],
            "service_mode": ["in_person", "remote", "remote"],
            "contract_start": _ts("2024-01-01", "2024-02-01", "2024-03-15"),
            "first_advance_months": [12, NAN, 3],
            "region": ["Sevastopol", NAN, "Simferopol"],
        },
        "users": {
            "client_id": [1, 1, 2, 3],
            "user_id": [10, 11, 20, 30],
            "role": ["key_user", "decision_maker", "key_user", "other"],
            "email": ["a@x.ru", NAN, "b@y.ru", "c@z.ru"],
            "ts": _ts("2024-01-01", "2024-01-05", "2024-02-01", "2024-03-15"),
        },
        "trainings": {
            "client_id": [1, 2],
            "user_id": [10, 20],
            "ts": _ts("2024-02-10", "2024-04-01"),
            "course": ["basics", NAN],
        },
        "logins": {
            "client_id": [1, 1, 2, 3, 3],
            "user_id": [10, 11, 20, 30, 30],
            "ts": _ts("2024-03-01", "2024-03-02", "2024-03-03", "2024-04-01", "2024-05-01"),
        },
        "service_requests": {
            "client_id": [1, 2, 3],
            "user_id": [10, NAN, 30],
            "ts": _ts("2024-03-05", "2024-03-06", "2024-04-07"),
            "channel": ["hotline", "personal_cabinet", "consultation_centre"],
        },
        "webinars": {
            "client_id": [1, 2],
            "user_id": [11, NAN],
            "ts": _ts("2024-04-10", "2024-04-11"),
            "topic": ["tax", NAN],
        },
        "newsletter_events": {
            "client_id": [1, 1, 3],
            "user_id": [10, 10, NAN],
            "ts": _ts("2024-04-01", "2024-04-02", "2024-04-03"),
            "campaign_id": [5, 5, 5],
            "event": ["sent", "clicked", "bounced"],
        },
        "video_clicks": {
            "client_id": [2],
            "user_id": [20],
            "ts": _ts("2024-05-01"),
        },
        "kit_updates": {
            "client_id": [1, 2, 3],
            "ts": _ts("2024-02-01", "2024-03-01", "2024-04-01"),
        },
        "invoices": {
            "invoice_id": [100, 101, 102],
            "client_id": [1, 2, 3],
            "ts": _ts("2024-01-01", "2024-02-01", "2024-03-15"),
            "due_ts": _ts("2024-01-15", "2024-02-15", "2024-03-29"),
            "paid_ts": _ts("2024-01-10", NAN, "2024-03-20"),
            "amount_rub": [240_000.0, 27_000.0, 45_000.0],
            "period_start": _ts("2024-01-01", "2024-02-01", "2024-03-15"),
            "period_end": _ts("2024-12-31", "2024-04-30", "2024-06-14"),
        },
        "competitor_checks": {
            "client_id": [1, 3],
            "ts": _ts("2024-06-01", "2024-06-02"),
            "competitor_present": ["no", "unknown"],
            "competitor": [NAN, NAN],
        },
        "contacts": {
            "client_id": [1, 2, 3],
            "ts": _ts("2024-03-10", "2024-03-11", "2024-04-12"),
            "kind": ["call", "visit", "key_user_change"],
            "outcome": ["reached", NAN, NAN],
        },
        "churn_events": {
            "client_id": [2],
            "ts": _ts("2024-06-30"),
            "churn_type": ["debt_suspension"],
            "reason_group": ["financial_difficulties"],
        },
    }
    return {name: typed(name, pd.DataFrame(cols)) for name, cols in raw.items()}


def typed(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Cast every contract column of ``df`` to its contract dtype."""
    out = df.copy()
    for col in TABLES[name].columns:
        if col.optional and col.name not in out.columns:
            continue  # an optional column may be absent (an export from before it existed)
        s = out[col.name]
        if col.type == "int":
            out[col.name] = s.astype("Int64" if s.isna().any() else "int64")
        elif col.type == "float":
            out[col.name] = s.astype("float64")
        elif col.type == "str":
            out[col.name] = s.astype("str")
        else:
            out[col.name] = pd.to_datetime(s, utc=True).astype("datetime64[us, UTC]")
    return out


def write_tables(tables: dict[str, pd.DataFrame], raw_dir: Path) -> Path:
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(raw_dir / f"{name}.parquet", index=False)
    return raw_dir


def write_tiny_raw(raw_dir: Path) -> Path:
    """Write the valid tiny base to ``raw_dir`` (one Parquet file per table)."""
    return write_tables(tiny_tables(), raw_dir)
