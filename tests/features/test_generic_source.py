"""The source spec and the import of a subscription + activity export: every problem named,
nothing written unless clean (features/generic/spec.py, features/generic/load.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from churn.errors import InputError, ValidationFailed
from features.generic.load import import_source
from features.generic.spec import load_spec

SPEC = Path(__file__).resolve().parents[2] / "configs" / "sources" / "generic_demo.yaml"
TODAY = datetime(2025, 1, 1, tzinfo=UTC)


def write_export(d: Path, *, subs=None, events=None, customers=None, fmt="csv") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    subs = (
        subs
        if subs is not None
        else pd.DataFrame(
            {
                "sub_key": [1, 2, 3],
                "customer_id": [10, 10, 11],
                "start_date": ["2024-01-01", "2024-02-01", "2024-01-15"],
                "end_date": ["2024-02-01", "", "2024-07-15"],
                "price": [9.5, 9.5, 120.0],
                "billing": [1, 1, 12],
            }
        )
    )
    events = (
        events
        if events is not None
        else pd.DataFrame(
            {
                "customer_id": [10, 11, 10],
                "event_time": ["2024-03-01 10:00", "2024-03-02 11:30", "2024-03-03 09:00"],
                "event_type": ["login", "export", "login"],
                "amount": [None, 12.0, None],
                "user_id": [1, 2, 1],
            }
        )
    )
    customers = (
        customers
        if customers is not None
        else pd.DataFrame(
            {
                "customer_id": [10, 11],
                "customer_name": ["Ромашка", "Лютик"],
                "plan": ["basic", "team"],
                "country": ["RU", "KZ"],
            }
        )
    )
    for name, frame in (("subscriptions", subs), ("events", events), ("customers", customers)):
        if fmt == "csv":
            frame.to_csv(d / f"{name}.csv", index=False, sep=";")
        else:
            frame.to_parquet(d / f"{name}.parquet", index=False)
    return d


def csv_spec(tmp_path: Path) -> Path:
    text = SPEC.read_text(encoding="utf-8").replace(".parquet", ".csv")
    out = tmp_path / "spec.yaml"
    out.write_text(text, encoding="utf-8")
    return out


def test_clean_csv_export_imports_into_canonical_tables(tmp_path):
    src = write_export(tmp_path / "src")
    rows = import_source(load_spec(csv_spec(tmp_path)), src, tmp_path / "raw", today=TODAY)
    assert rows == {"subscriptions": 3, "activities": 3, "customers": 2}
    subs = pd.read_parquet(tmp_path / "raw" / "subscriptions.parquet")
    assert str(subs["start_ts"].dtype) == "datetime64[us, UTC]"
    assert subs["end_ts"].isna().tolist() == [False, True, False]
    cust = pd.read_parquet(tmp_path / "raw" / "customers.parquet")
    assert cust["name"].tolist() == ["Ромашка", "Лютик"]


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (
            ("subs", lambda f: f.assign(start_date=["2024-01-01", "not a date", "2024-01-15"])),
            "subscriptions.start_ts: type",
        ),
        (("subs", lambda f: f.assign(price=["9.5", "abc", "1"])), "subscriptions.amount: type"),
        (("subs", lambda f: f.assign(sub_key=[1, 1, 3])), "subscriptions.subscription_id: unique"),
        (
            ("subs", lambda f: f.assign(end_date=["2023-12-01", "", "2024-07-15"])),
            "subscriptions.end_ts: end_after_start",
        ),
        (
            ("events", lambda f: f.assign(customer_id=[10, 99, 10])),
            "activities.client_id: unknown_customer",
        ),
        (
            ("events", lambda f: f.assign(event_time=["2024-03-01", "2031-01-01", "2024-03-03"])),
            "activities.ts: future",
        ),
        (("subs", lambda f: f.drop(columns=["price"])), "subscriptions.price: missing_column"),
        (("customers", lambda f: f.assign(customer_id=[10, 10])), "customers.client_id: unique"),
    ],
)
def test_each_problem_is_named_and_nothing_is_written(tmp_path, break_it, expected):
    src = write_export(tmp_path / "ok")
    frames = {
        "subs": pd.read_csv(src / "subscriptions.csv", sep=";", keep_default_na=False),
        "events": pd.read_csv(src / "events.csv", sep=";"),
        "customers": pd.read_csv(src / "customers.csv", sep=";"),
    }
    table, change = break_it
    frames[table] = change(frames[table])
    bad = write_export(tmp_path / "bad", **frames)
    raw = tmp_path / "raw"
    import_source(load_spec(csv_spec(tmp_path)), write_export(tmp_path / "good"), raw, today=TODAY)
    before = {p.name: p.read_bytes() for p in raw.iterdir()}
    with pytest.raises(ValidationFailed) as err:
        import_source(load_spec(csv_spec(tmp_path)), bad, raw, today=TODAY)
    assert any(line.startswith(expected) for line in err.value.violations), err.value.violations
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == before  # untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".raw")] == []


def test_bad_value_names_row_and_value(tmp_path):
    src = write_export(tmp_path / "ok")
    s = pd.read_csv(src / "subscriptions.csv", sep=";", keep_default_na=False)
    bad = write_export(tmp_path / "bad", subs=s.assign(price=["9.5", "abc", "1"]))
    with pytest.raises(ValidationFailed) as err:
        import_source(load_spec(csv_spec(tmp_path)), bad, tmp_path / "raw", today=TODAY)
    line = next(v for v in err.value.violations if "amount" in v)
    assert "row=3" in line and "value=abc" in line and "'price'" in line


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda t: t.replace("  key: sub_key\n", ""), "subscriptions.key"),
        (lambda t: t.replace("grid: month", "grid: fortnight"), "churn.grid"),
        (lambda t: t.replace("windows_days: [30, 90]", "windows_days: [30, -1]"), "windows_days"),
        (lambda t: t.replace("trend_days: [30, 90]", "trend_days: [90, 30]"), "trend_days"),
        (lambda t: t.replace("kind: subscriptions", "kind: subscriptions\nbogus: 1"), "bogus"),
        (lambda t: t.replace("    type: event_type\n", ""), "activities.0"),
    ],
)
def test_bad_spec_is_refused_naming_the_entry(tmp_path, edit, where):
    path = tmp_path / "spec.yaml"
    path.write_text(edit(SPEC.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(InputError, match=where.replace(".", r"\.")):
        load_spec(path)
