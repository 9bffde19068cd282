"""Every aggregate of the spec compiles to the value a plain pandas reading gives.

The shipped spec uses count, distinct_count, any, share, trend, days_since_last and last;
this adds entries with sum, mean, min, max, a windowed last and a windowed
days_since_last over the hand-built base (tiny_base.py) and checks each against pandas
over the raw tables, with the point-in-time rule (``ts`` in ``[as_of - N, as_of)``).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from tiny_base import AS_OF, write_tiny_base

from churn.config import Config, load_config
from features.snapshot import build_snapshots

EXTRA = [
    {"name": "paid_sum_365d", "table": "invoices", "column": "amount_rub", "aggregate": "sum"},
    {"name": "paid_mean_365d", "table": "invoices", "column": "amount_rub", "aggregate": "mean"},
    {"name": "paid_min_365d", "table": "invoices", "column": "amount_rub", "aggregate": "min"},
    {"name": "paid_max_365d", "table": "invoices", "column": "amount_rub", "aggregate": "max"},
    {
        "name": "competitor_365d",
        "table": "competitor_checks",
        "column": "competitor_present",
        "aggregate": "last",
        "kind": "category",
    },
    {
        "name": "days_since_webinar_365d",
        "table": "webinars",
        "aggregate": "days_since_last",
        "kind": "days",
    },
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    work = tmp_path_factory.mktemp("compile")
    raw = write_tiny_base(work / "raw")
    cfg: Config = load_config()
    data = yaml.safe_load(Path(cfg.features.signals).read_text(encoding="utf-8"))
    for e in EXTRA:
        data["signals"].append(
            {
                "kind": "money",
                "window": 365,
                "group": "profile",
                "label": {"ru": e["name"], "en": e["name"]},
                "definition": e["name"],
                **e,
            }
        )
    spec = work / "signals.yaml"
    spec.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    cfg = cfg.override(features__signals=spec)
    return build_snapshots(raw, [AS_OF], cfg).set_index("client_id"), raw


def _window(raw: Path, table: str, days: int = 365) -> pd.DataFrame:
    t = pd.read_parquet(raw / f"{table}.parquet")
    d = pd.Timestamp(AS_OF, tz="UTC")
    return t[(t["ts"] < d) & (t["ts"] >= d - pd.Timedelta(days=days))]


def _same(got: object, want: object) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or (isinstance(got, float) and math.isnan(got)) or pd.isna(got)
    if isinstance(want, str):
        return got == want
    return got == pytest.approx(want, abs=1e-9)


def test_sum_mean_min_max_over_a_window(built: tuple[pd.DataFrame, Path]) -> None:
    snap, raw = built
    inv = _window(raw, "invoices").groupby("client_id")["amount_rub"]
    for agg in ("sum", "mean", "min", "max"):
        want = getattr(inv, agg)()
        col = f"paid_{agg}_365d"
        assert want.size >= 1
        for cid in snap.index:
            assert _same(snap.loc[cid, col], want.get(cid)), (col, cid)


def test_last_value_and_days_since_last_within_a_window(
    built: tuple[pd.DataFrame, Path],
) -> None:
    snap, raw = built
    checks = _window(raw, "competitor_checks").sort_values("ts")
    last = checks.groupby("client_id")["competitor_present"].last()
    web = _window(raw, "webinars").groupby("client_id")["ts"].max()
    d = pd.Timestamp(AS_OF, tz="UTC")
    since = (d.normalize() - web.dt.normalize()).dt.days.astype(float)
    assert web.size >= 1
    for cid in snap.index:
        assert _same(snap.loc[cid, "competitor_365d"], last.get(cid)), cid
        assert _same(snap.loc[cid, "days_since_webinar_365d"], since.get(cid)), cid
