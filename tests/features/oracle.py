"""An independent pandas re-implementation of the snapshot definitions (test oracle).

Written from the catalog's definitions, not from the Ibis code, and deliberately naive
(whole tables in memory, one as_of): it exists only to cross-check the engine on a
generated base.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from churn.config import Config
from features.contract import TABLES
from features.rules import rule_columns_frame


def _days(d: pd.Timestamp, ts: pd.Series) -> pd.Series:
    return (d.normalize() - ts.dt.normalize()).dt.days.astype("float64")


def oracle_snapshot(raw: Path, as_of: date, cfg: Config) -> pd.DataFrame:
    # the spec's windows, written out: the oracle is independent of configs/signals.yaml
    d = pd.Timestamp(as_of, tz="UTC")
    t = {name: pd.read_parquet(raw / f"{name}.parquet") for name in TABLES}

    def before(name: str, days: int | None = None, col: str = "ts") -> pd.DataFrame:
        x = t[name]
        keep = x[col] < d
        if days is not None:
            keep &= x[col] >= d - pd.Timedelta(days=days)
        return x[keep]

    def count(x: pd.DataFrame) -> pd.Series:
        return x.groupby("client_id").size()

    churned = set(before("churn_events")["client_id"])
    c = t["clients"]
    c = c[(c["contract_start"] < d) & ~c["client_id"].isin(churned)].set_index("client_id")
    out = pd.DataFrame(index=c.index)
    # optional in the contract: a single centre's export has no centre_id (all missing)
    out["centre_id"] = c["centre_id"] if "centre_id" in c else pd.Series(pd.NA, c.index, "str")
    # optional too: the client's name (an id column, never a model input)
    out["name"] = c["name"] if "name" in c else pd.Series(pd.NA, c.index, "str")
    for col in ("category", "segment", "service_mode", "region", "monthly_fee_rub"):
        out[col] = c[col]
    out["tenure_days"] = _days(d, c["contract_start"]).astype("int64")
    out["first_advance_months"] = c["first_advance_months"].astype("float64")
    users = before("users")
    out["n_users"] = count(users)
    for n in (7, 30, 90):
        out[f"logins_{n}d"] = count(before("logins", n))
    recent = count(before("logins", 30)).reindex(out.index, fill_value=0)
    base = count(before("logins", 90)).reindex(out.index, fill_value=0) - recent
    out["login_trend"] = np.where(base > 0, recent / (base / 2).where(base > 0, 1), np.nan)
    out["active_users_30d"] = before("logins", 30).groupby("client_id")["user_id"].nunique()
    valid = before("trainings", 730)[["client_id", "user_id"]]
    valid = valid.drop_duplicates().merge(users[["client_id", "user_id", "role"]])
    out["_valid"] = count(valid)
    out["key_user_trained"] = valid[valid["role"] == "key_user"].groupby("client_id").size() > 0
    out["days_since_training"] = _days(d, before("trainings").groupby("client_id")["ts"].max())
    out["webinars_180d"] = count(before("webinars", 180))
    req = before("service_requests", 90)
    out["cabinet_requests_90d"] = count(req[req["channel"] == "personal_cabinet"])
    req60 = before("service_requests", 60)
    out["hotline_requests_60d"] = count(req60[req60["channel"] == "hotline"])
    out["consultation_requests_60d"] = count(req60[req60["channel"] == "consultation_centre"])
    for n in (30, 90):
        nl = before("newsletter_events", n)
        out[f"newsletter_clicks_{n}d"] = count(nl[nl["event"] == "clicked"])
    nl = before("newsletter_events", 90)
    out["_sent"] = count(nl[nl["event"] == "sent"])
    out["_bounced"] = count(nl[nl["event"] == "bounced"])
    out["video_clicks_90d"] = count(before("video_clicks", 90))
    out["kit_updates_90d"] = count(before("kit_updates", 90))
    inv = before("invoices")
    unpaid = inv[inv["paid_ts"].isna() | (inv["paid_ts"] >= d)]
    overdue = unpaid[unpaid["due_ts"] < d]
    out["open_debt_rub"] = unpaid.groupby("client_id")["amount_rub"].sum()
    out["overdue_debt_rub"] = overdue.groupby("client_id")["amount_rub"].sum()
    out["days_overdue"] = _days(d, overdue.groupby("client_id")["due_ts"].min())
    paid_end = inv[inv["paid_ts"] < d].groupby("client_id")["period_end"].max()
    billed = count(inv).reindex(out.index, fill_value=0) > 0
    paid_end = paid_end.reindex(out.index)
    arrived = paid_end.isna() | (paid_end <= d + pd.Timedelta(days=30))
    out["renewal_period_arrived"] = (billed & arrived).astype("int64")
    checks = before("competitor_checks").sort_values(["client_id", "ts"])
    last = checks.groupby("client_id").tail(1).set_index("client_id")
    out["competitor_present"] = last["competitor_present"]
    out["days_since_competitor_check"] = _days(d, last["ts"])
    ch = before("contacts", 180)
    out["key_user_changed_180d"] = count(ch[ch["kind"] == "key_user_change"]) > 0
    out["decision_maker_changed_180d"] = count(ch[ch["kind"] == "decision_maker_change"]) > 0
    ct = before("contacts")
    spoke = ct["kind"].isin(["call", "visit"]) & (
        ct["outcome"].isna() | (ct["outcome"] != "no_answer")
    )
    out["days_since_contact"] = _days(d, ct[spoke].groupby("client_id")["ts"].max())
    return _finish(out, cfg)


def _finish(out: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    counts = [c for c in out.columns if c.endswith("d") and c[-2].isdigit()] + [
        "n_users",
        "_valid",
        "_sent",
        "_bounced",
        "key_user_trained",
        "open_debt_rub",
        "overdue_debt_rub",
        "days_overdue",
    ]
    for col in counts:
        out[col] = out[col].fillna(0)
    norm = out["category"].map({"A": 0.8, "B": 0.5, "C": 0.5})
    out["training_coverage"] = (out["_valid"] / out["n_users"]).where(out["n_users"] > 0)
    met = (out["n_users"] > 0) & (out["_valid"] >= norm * out["n_users"] - 1e-9)
    out["training_norm_met"] = met.astype("int64")
    out["newsletter_bounce_share_90d"] = (out["_bounced"] / out["_sent"]).where(out["_sent"] > 0)
    for col in ("key_user_trained", "key_user_changed_180d", "decision_maker_changed_180d"):
        out[col] = out[col].astype("int64")
    out = out.drop(columns=["_valid", "_sent", "_bounced"])
    return out.join(rule_columns_frame(out, cfg.rules))
