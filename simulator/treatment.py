"""What a retention call does in the generator: a per-driver cut of the hidden hazard.

The weekly loop (``churn simulate-weeks``) lists clients, calls some and holds some out
at random. Each listing, in both arms, gets from the treatment's **own random stream**
(``default_rng([seed, treatment.seed_stream, week])``, so the base's stream is untouched)
whether the call would reach the client, whether the offer would be taken and a
log-normal responsiveness ``rho`` (mean 1). Only a *called* client who was reached and
accepted is treated: for ``treatment.months`` months after the month of the call the
hazard's logit loses ``rho x (sum_d removal_d x max(contribution_d, 0) + floor_shift)``,
the contributions being the generator's own drivers that month (``simulator.churn``):
a payment plan removes most of a debt's weight, training an idle key user most of low
engagement's, a client leaving for uncontrollable reasons (relocation, ...) keeps almost
all of its risk. The cut is applied after the month's intercept is solved, so nobody
else's hazard moves.

Why "after the month of the call": the generator draws a month's churners at its first
instant and the week's snapshot already read that month's events; moving the month of
the call would rewrite the past the list was made from. The loop regenerates the base
with the plan so far at every month start, and every month before the first treated one
comes out byte-identical.

The truth (``_truth/treatment.parquet``, one row per listing): the client's churn
probability within the label window ``[as_of, as_of + horizon)`` untreated and treated,
``1 - prod_m (1 - h_m x overlap_m)`` over the months the window touches (the hazards
``h0`` and ``h1 = sigmoid(logit(h0) - cut)`` are recorded for every listed client in
those months, in either arm, from that month's drivers), ``effect = p_untreated -
p_treated`` for a client who would be reached and accept, and ``effect_itt`` = reach x
accept x that: what "listed and assigned to a call" is worth on average. The average of
``effect_itt`` over all listings is the effect the randomised holdout estimates
(``average_effect`` in the file's metadata and in ``treatment.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churn.errors import InputError
from churn.utc import as_utc
from simulator.calendar import US_PER_DAY, Calendar
from simulator.churn import BASE_WEIGHT
from simulator.config import TreatmentConfig
from simulator.truth import TRUTH_DIR

TREATMENT_FILE = "treatment.parquet"
SUMMARY_FILE = "treatment.json"
# a driver's usual reason group (simulator.churn.DRIVERS: the largest share)
DRIVER_REASON = {
    "debt": "financial_difficulties",
    "competitor": "changed_preferences",
    "engagement": "service_quality",
    "training": "service_quality",
    "contacts": "not_decision_maker",
    "new_client": "product_quality",
    "renewal": "changed_preferences",
    "base": "uncontrollable",
}


@dataclass(frozen=True)
class Listings:
    """Every listed client of every week so far, both arms, with the treatment's draws."""

    client_id: np.ndarray  # int64
    as_of_us: np.ndarray  # int64 microseconds (UTC midnight of the week's as_of)
    called: np.ndarray  # bool: assignment == 'call'
    reached: np.ndarray  # bool: the call would reach the client
    accepted: np.ndarray  # bool: the client would take the offer
    rho: np.ndarray  # float: responsiveness, log-normal with mean 1

    def __len__(self) -> int:
        return len(self.client_id)

    @property
    def treated(self) -> np.ndarray:
        return self.called & self.reached & self.accepted

    @classmethod
    def empty(cls) -> Listings:
        z = np.zeros(0, dtype=np.int64)
        f = np.zeros(0, dtype=bool)
        return cls(z, z.copy(), f, f.copy(), f.copy(), np.zeros(0))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "client_id": self.client_id,
                "as_of": pd.to_datetime(self.as_of_us, unit="us", utc=True),
                "assignment": np.where(self.called, "call", "holdout"),
                "reached": self.reached,
                "accepted": self.accepted,
                "rho": self.rho,
            }
        )

    def plus(self, other: Listings) -> Listings:
        return Listings(
            *(
                np.concatenate([getattr(self, f), getattr(other, f)])
                for f in ("client_id", "as_of_us", "called", "reached", "accepted", "rho")
            )
        )


def draw_week(
    cfg: TreatmentConfig, seed: int, as_of: Any, client_id: np.ndarray, called: np.ndarray
) -> Listings:
    """The treatment's draws for one week's listed clients (order-independent: by client id)."""
    day = as_utc(pd.Timestamp(as_of))
    rng = np.random.default_rng([int(seed), int(cfg.seed_stream), day.toordinal()])
    client_id = np.asarray(client_id, dtype=np.int64)
    order = np.argsort(client_id, kind="stable")
    u = rng.random((3, len(client_id)))
    z = rng.standard_normal(len(client_id))
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    u, z = u[:, back], z[back]
    sd = cfg.noise_sd
    return Listings(
        client_id=client_id,
        as_of_us=np.full(len(client_id), day.value // 1000, dtype=np.int64),
        called=np.asarray(called, dtype=bool),
        reached=u[0] < cfg.reach_rate,
        accepted=u[1] < cfg.accept_rate,
        rho=np.exp(sd * z - sd**2 / 2),
    )


@dataclass(frozen=True)
class Plan:
    """The listings the generator folds into the hazard, and the label horizon of the truth."""

    listings: Listings
    cfg: TreatmentConfig
    horizon_days: int

    def bind(self, cal: Calendar, client_id: np.ndarray) -> Treatment:
        return Treatment(self, cal, np.asarray(client_id))


class Treatment:
    """The generator's hook: cuts the hazard of treated clients, records both hazards."""

    def __init__(self, plan: Plan, cal: Calendar, population_ids: np.ndarray) -> None:
        unknown = sorted(set(plan.cfg.removal) - set(DRIVER_REASON))
        if unknown:
            raise InputError(
                f"simulate.yaml treatment.removal: unknown driver(s) {unknown}; "
                f"expected {', '.join(DRIVER_REASON)}"
            )
        lst = plan.listings
        pos = np.searchsorted(population_ids, lst.client_id)
        pos = np.minimum(pos, len(population_ids) - 1)
        if len(lst) and not np.array_equal(population_ids[pos], lst.client_id):
            raise InputError("treatment plan: listed client id(s) not in the generated base")
        self.plan, self.cal = plan, cal
        self.idx = pos.astype(np.int64)
        self.call_month = cal.month_of(lst.as_of_us) if len(lst) else np.zeros(0, np.int64)
        end = lst.as_of_us + plan.horizon_days * US_PER_DAY
        self.last_month = cal.month_of(end - 1) if len(lst) else np.zeros(0, np.int64)
        # per month: listing rows, month, untreated logit, cut if treated, effect month?, at risk?
        self.records: list[tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
        self.records = []
        self.driver = np.full(len(lst), "", dtype=object)

    def month(
        self,
        m: int,
        risk: np.ndarray,
        logit: np.ndarray,
        contrib: dict[str, np.ndarray],
        hazard: np.ndarray,
    ) -> np.ndarray:
        """Month ``m``'s hazard of the clients at ``risk`` (``hazard`` untreated, ``logit``
        over every client): treated clients' cut applied, both hazards recorded."""
        cfg = self.plan.cfg
        rows = np.flatnonzero((self.call_month <= m) & (m <= self.last_month))
        if not len(rows):
            return hazard
        who = self.idx[rows]
        effect_month = (m > self.call_month[rows]) & (m <= self.call_month[rows] + cfg.months)
        addressable = sum(
            cfg.removal.get(name, 0.0) * np.maximum(c[who], 0.0) for name, c in contrib.items()
        )
        cut = self.plan.listings.rho[rows] * (addressable + cfg.floor_shift)
        at_risk = np.isin(who, risk)
        self.records.append((rows, m, logit[who], cut, effect_month, at_risk))
        at_call = rows[self.call_month[rows] == m]
        if len(at_call):
            self.driver[at_call] = _main_driver(contrib, self.idx[at_call])
        treated = self.plan.listings.treated[rows] & effect_month & at_risk
        h1 = 1 / (1 + np.exp(-(logit[who] - cut)))
        out = hazard.copy()
        where = np.searchsorted(risk, who[treated])
        # a client listed twice in one window keeps the larger cut (the smaller hazard)
        np.minimum.at(out, where, h1[treated])
        return out

    def truth(self) -> pd.DataFrame:
        """One row per listing: churn probability in the window untreated / treated, effects."""
        lst, cal, cfg = self.plan.listings, self.cal, self.plan.cfg
        n = len(lst)
        keep0 = np.ones(n)  # running products of (1 - h x overlap)
        keep1 = np.ones(n)
        seen = np.zeros(n, dtype=np.int64)
        start_us = lst.as_of_us
        end_us = start_us + self.plan.horizon_days * US_PER_DAY
        # a client gone (churned) has no hazard of its own in later months; carry its last
        # at-risk logit and cut forward (stale signals would overstate the risk of churners)
        last_logit = np.full(n, np.nan)
        last_cut = np.full(n, np.nan)
        for rows, m, logit, cut, effect_month, at_risk in self.records:
            last_logit[rows[at_risk]] = logit[at_risk]
            last_cut[rows[at_risk]] = cut[at_risk]
            logit_m, cut_m = last_logit[rows], last_cut[rows]
            before_start = np.isnan(logit_m)  # joined during the month of the call: no churn
            logit_m = np.where(before_start, -np.inf, logit_m)
            cut_m = np.where(effect_month & ~before_start, cut_m, 0.0)
            h0 = 1 / (1 + np.exp(-logit_m))
            h1 = 1 / (1 + np.exp(-(logit_m - cut_m)))
            ms, me = int(cal.month_start(m)), int(cal.month_start(m + 1))
            lo = np.maximum(start_us[rows], ms)
            hi = np.minimum(end_us[rows], me)
            overlap = np.clip((hi - lo) / (me - ms), 0.0, 1.0)
            keep0[rows] *= 1 - h0 * overlap
            keep1[rows] *= 1 - h1 * overlap
            seen[rows] += 1
        months = self.last_month - self.call_month + 1
        p0, p1 = 1 - keep0, 1 - keep1
        frame = lst.frame()
        frame["treated"] = lst.treated
        frame["driver"] = self.driver.astype(str)
        frame["true_reason_group"] = [DRIVER_REASON.get(d, "") for d in frame["driver"]]
        frame["p_untreated"] = p0
        frame["p_treated"] = p1
        frame["effect"] = p0 - p1
        frame["effect_itt"] = cfg.reach_rate * cfg.accept_rate * (p0 - p1)
        frame["complete"] = seen == months  # every month of the window was generated
        return frame

    def write(self, out_dir: Path) -> dict[str, Any]:
        """``_truth/treatment.parquet`` (average in its metadata) and ``treatment.json``."""
        frame = self.truth()
        summary = summarise(frame)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = {**(table.schema.metadata or {}), b"treatment": json.dumps(summary).encode()}
        table = table.replace_schema_metadata(meta)
        truth = Path(out_dir) / TRUTH_DIR
        truth.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, truth / TREATMENT_FILE)
        (truth / SUMMARY_FILE).write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return summary


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    """The average effects the holdout comparison should recover, overall and by driver."""
    done = frame[frame["complete"]]
    called = done[done["assignment"] == "call"]

    def mean(x: pd.Series) -> float | None:
        return float(x.mean()) if len(x) else None

    return {
        "listings": int(len(frame)),
        "listings_complete": int(len(done)),
        "average_effect": mean(done["effect_itt"]),
        "average_effect_called": mean(called["effect_itt"]),
        "realised_effect_called": mean(called["effect"] * called["treated"]),
        "retained_per_100_calls": None if not len(done) else 100 * float(done["effect_itt"].mean()),
        "by_driver": {
            str(d): {"listings": int(len(part)), "average_effect": float(part["effect_itt"].mean())}
            for d, part in done.groupby("driver", sort=True)
        },
    }


def _main_driver(contrib: dict[str, np.ndarray], who: np.ndarray) -> np.ndarray:
    """The driver a churner would most likely give (as ``simulator.churn`` weighs them)."""
    names = list(contrib)
    weights = np.stack([np.maximum(contrib[k][who], 0.0) for k in names], axis=1)
    weights[:, names.index("base")] = BASE_WEIGHT
    return np.array(names, dtype=object)[np.argmax(weights, axis=1)]


def read_truth(raw_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The per-listing truth and its summary, or InputError when the base had no calls."""
    path = Path(raw_dir) / TRUTH_DIR / TREATMENT_FILE
    if not path.exists():
        raise InputError(f"{path}: no treatment truth (generated without a call plan)")
    table = pq.read_table(path)
    summary = json.loads((table.schema.metadata or {}).get(b"treatment", b"{}"))
    return table.to_pandas(), summary


def simulated_truth(raw_dir: Path, overall: dict[str, Any]) -> dict[str, Any] | None:
    """On a ``churn simulate-weeks`` base: the generator's true average effect and whether
    the measured interval (``overall``: ``training.uplift``'s ``ci_low`` / ``ci_high``)
    covers it, from ``_truth/treatment.json``; None on real data or without an interval."""
    path = Path(raw_dir) / TRUTH_DIR / SUMMARY_FILE
    if not path.exists() or overall.get("ci_low") is None:
        return None
    truth = json.loads(path.read_text(encoding="utf-8"))
    effect = truth.get("average_effect")
    if effect is None:
        return None
    return {
        "average_effect": effect,
        "retained_per_100_calls": truth.get("retained_per_100_calls"),
        "covered": bool(overall["ci_low"] <= effect <= overall["ci_high"]),
        "source": str(path),
    }
