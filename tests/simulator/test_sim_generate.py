"""The generator writes the raw-data contract, deterministically, with plausible marginals,
no events outside each client's life, and a hidden hazard that really drives churn."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sim_helpers import read_tables, small_cfg
from sklearn.metrics import roc_auc_score

from features.contract import LARGE_SEGMENT_FEE_RUB, TABLES
from simulator.config import SimulateConfig
from simulator.generate import simulate
from simulator.truth import TRUTH_DIR, TRUTH_HAZARD_FILE

PANDAS_DTYPES = {"int": "int64", "float": "float64", "str": "str", "ts": "datetime64[us, UTC]"}
ARROW_TYPES = {"int": "int64", "float": "double", "str": "string", "ts": "timestamp[us, tz=UTC]"}


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def _window_end(cfg: SimulateConfig) -> pd.Timestamp:
    start = pd.Timestamp(cfg.start_date.replace(day=1), tz="UTC")
    return start + pd.DateOffset(months=cfg.months)


def test_same_seed_same_bytes_other_seed_other_bytes(
    base_sim: SimulateConfig, tmp_path: Path
) -> None:
    cfg = small_cfg(base_sim, clients=300, months=8, seed=5)
    simulate(cfg, tmp_path / "a")
    simulate(cfg, tmp_path / "b")
    simulate(small_cfg(base_sim, clients=300, months=8, seed=6), tmp_path / "c")
    a, b, c = _hashes(tmp_path / "a"), _hashes(tmp_path / "b"), _hashes(tmp_path / "c")
    assert len(a) == len(TABLES) + 2  # plus _truth/hazard and _truth/horizon_probability
    assert a == b
    assert a["logins.parquet"] != c["logins.parquet"]
    assert a[f"{TRUTH_DIR}/{TRUTH_HAZARD_FILE}"] != c[f"{TRUTH_DIR}/{TRUTH_HAZARD_FILE}"]


def test_every_table_has_exactly_the_contract_columns_and_types(small_raw: Path) -> None:
    for name, table in TABLES.items():
        schema = pq.read_schema(small_raw / f"{name}.parquet")
        # optional columns (churn_events.resumed_ts) only when the generator fills them
        assert schema.names == table.required_columns, name
        written = [c for c in table.columns if not c.optional]
        for col in written:
            assert str(schema.field(col.name).type) == ARROW_TYPES[col.type], (name, col.name)
        df = pd.read_parquet(small_raw / f"{name}.parquet")
        assert len(df) > 0, name
        for col in written:
            if not col.nullable:
                assert str(df[col.name].dtype) == PANDAS_DTYPES[col.type], (name, col.name)
                assert not df[col.name].isna().any(), (name, col.name)
            if col.allowed:
                assert set(df[col.name].dropna()) <= set(col.allowed), (name, col.name)


def test_crm_style_missing_values_exist(small_raw: Path) -> None:
    t = read_tables(small_raw)
    for name, col in [
        ("clients", "first_advance_months"),
        ("clients", "region"),
        ("users", "email"),
        ("service_requests", "user_id"),
        ("invoices", "paid_ts"),
        ("contacts", "outcome"),
    ]:
        share = t[name][col].isna().mean()
        assert 0 < share < 0.5, (name, col, share)


def test_truth_hazard_file(small_raw: Path, session_sim: SimulateConfig) -> None:
    h = pd.read_parquet(small_raw / TRUTH_DIR / TRUTH_HAZARD_FILE)
    assert list(h.columns) == ["client_id", "month", "hazard"]
    assert str(h["month"].dtype) == "datetime64[us, UTC]"
    assert (h["month"].dt.day == 1).all() and h["hazard"].between(0, 1).all()
    assert h["month"].nunique() == session_sim.months
    assert not h.duplicated(["client_id", "month"]).any()


def test_marginals_match_the_config(
    medium_raw: tuple[Path, dict], base_sim: SimulateConfig
) -> None:
    raw, summary = medium_raw
    assert 0.015 <= summary["monthly_churn_rate"] <= 0.025
    clients = pd.read_parquet(raw / "clients.parquet")
    shares = clients["category"].value_counts(normalize=True)
    for cat, expected in base_sim.category_shares.items():
        assert shares[cat] == pytest.approx(expected, abs=0.03)
    assert (
        (clients["monthly_fee_rub"] > LARGE_SEGMENT_FEE_RUB) == (clients["segment"] == "large")
    ).all()
    assert 0.05 < (clients["segment"] == "large").mean() < 0.3
    remote = (clients["service_mode"] == "remote").mean()
    assert remote == pytest.approx(base_sim.remote_share, abs=0.04)


def test_monthly_churn_rate_measured_from_the_tables(medium_raw: tuple[Path, dict]) -> None:
    raw, _ = medium_raw
    h = pd.read_parquet(raw / TRUTH_DIR / TRUTH_HAZARD_FILE)
    churn = _churn_month_labels(raw, h)
    assert 0.015 <= churn["y"].mean() <= 0.025
    assert churn["y"].mean() == pytest.approx(churn["hazard"].mean(), abs=0.004)


def _churn_month_labels(raw: Path, h: pd.DataFrame) -> pd.DataFrame:
    ch = pd.read_parquet(raw / "churn_events.parquet")
    month = ch["ts"].dt.tz_convert(None).dt.to_period("M").dt.start_time.dt.tz_localize("UTC")
    lab = pd.DataFrame(
        {"client_id": ch["client_id"], "month": month.astype(h["month"].dtype), "y": 1}
    )
    out = h.merge(lab, on=["client_id", "month"], how="left")
    out["y"] = out["y"].fillna(0).astype(int)
    assert out["y"].sum() == len(ch)  # every churn happens in a month the client was at risk
    return out


def test_hidden_hazard_predicts_churn(medium_raw: tuple[Path, dict]) -> None:
    raw, _ = medium_raw
    labels = _churn_month_labels(raw, pd.read_parquet(raw / TRUTH_DIR / TRUTH_HAZARD_FILE))
    assert roc_auc_score(labels["y"], labels["hazard"]) > 0.7


def test_no_event_before_start_after_churn_or_after_window(
    small_raw: Path, session_sim: SimulateConfig
) -> None:
    t = read_tables(small_raw)
    start = t["clients"].set_index("client_id")["contract_start"]
    churn = t["churn_events"].set_index("client_id")["ts"]
    assert churn.index.is_unique
    end = _window_end(session_sim)
    for name, table in TABLES.items():
        if name == "clients":
            continue
        df = t[name]
        assert df["client_id"].isin(start.index).all(), name
        for col in table.time_columns:
            if col not in df.columns:
                continue  # an optional column the default generator does not write
            ts = df[col].dropna()
            cid = df.loc[ts.index, "client_id"]
            assert (ts < end).all(), (name, col)
            assert (ts.to_numpy() >= start.loc[cid].to_numpy()).all(), (name, col)
            if col == "due_ts":
                continue  # a deadline, not an event: may fall after a churn
            left = churn.reindex(cid).to_numpy()
            after = ts.to_numpy() > left if name == "churn_events" else ts.to_numpy() >= left
            assert not np.nan_to_num(after, nan=False).any(), (name, col)


def test_users_roles_and_invoices_are_consistent(small_raw: Path) -> None:
    t = read_tables(small_raw)
    users = t["users"]
    per_client = users.groupby("client_id")["role"].agg(list)
    assert per_client.map(lambda r: r.count("key_user") == 1).all()
    multi = per_client[per_client.map(len) >= 2]
    assert multi.map(lambda r: "decision_maker" in r).mean() > 0.95
    assert users.groupby("client_id").size().between(1, 60).all()
    inv = t["invoices"]
    assert inv["invoice_id"].is_unique and (inv["amount_rub"] > 0).all()
    assert (inv["due_ts"] >= inv["ts"]).all() and (inv["period_end"] > inv["period_start"]).all()
    assert (inv["paid_ts"].dropna() >= inv.loc[inv["paid_ts"].notna(), "ts"]).all()
    overdue_ever = inv["paid_ts"].isna() | (inv["paid_ts"] > inv["due_ts"])
    assert 0.02 < overdue_ever.mean() < 0.4


def test_churn_types_and_reasons_follow_their_driver(small_raw: Path) -> None:
    ch = read_tables(small_raw)["churn_events"]
    debt = ch[ch["churn_type"] == "debt_suspension"]
    assert len(debt) > 0 and (debt["ts"].dt.day == 21).all()
    assert set(debt["reason_group"].dropna()) <= {"financial_difficulties", "other"}
    assert ch["reason_group"].nunique() >= 6


def test_centres_add_only_the_centre_column(base_sim: SimulateConfig, tmp_path: Path) -> None:
    """--centres K: every client gets one of C01..CK, drawn from its own stream, so the
    clients, events and churn are those of the single-centre base of the same seed."""
    one = small_cfg(base_sim, clients=300, months=6, seed=9)
    simulate(one, tmp_path / "one")
    simulate(small_cfg(base_sim, clients=300, months=6, seed=9, centres=3), tmp_path / "net")
    a, b = _hashes(tmp_path / "one"), _hashes(tmp_path / "net")
    assert {k for k in a if a[k] != b[k]} == {"clients.parquet"}
    plain, net = (pd.read_parquet(tmp_path / d / "clients.parquet") for d in ("one", "net"))
    # names are written only with --names
    assert list(net.columns) == [c for c in TABLES["clients"].column_names if c != "name"]
    pd.testing.assert_frame_equal(net.drop(columns="centre_id"), plain)
    assert str(net["centre_id"].dtype) == "str"
    assert set(net["centre_id"]) == {"C01", "C02", "C03"}
    assert net["centre_id"].notna().all()
