"""An independent subscription business, to check the generic source on data it was not tuned on.

    python benchmarks/foreign_source.py [--customers 3000] [--seed 7] [--weeks 156] [--trials 5]

Written without looking at the project's own generic generator (issue 21: "on data from
another generator the team has not seen, the same must hold"). The business is a B2B
analytics SaaS ("Northwind Metrics") simulated in **weekly** steps, vectorised over accounts:

* ``accounts.csv``: ``acct_ref``, ``company``, ``industry`` (category), ``seats`` (number);
* ``billing_terms.csv``: one row per billed term (``term_no``, ``acct_ref``, ``term_begin``,
  ``term_finish`` as ``YYYY-MM-DD`` strings, ``price_eur``, ``months_per_term`` of 1, 3 or
  12); a mid-term seat upgrade closes the running row and opens a new one at the new price;
  seats change at renewals too (up- and downgrades change the amount);
* ``product_usage.csv``: ``acct``, ``occurred`` (``YYYY-MM-DD HH:MM:SS``), ``action``
  (``dashboard_view``, ``api_sync`` with ``records`` as value, ``report_export``), ``member``;
* ``helpdesk.csv``: tickets only (a single type, ``type_constant`` in the spec), ``priority``;
* ``dunning.csv``: failed card charges only (``type_constant``), ``amount_due``.

The churn mechanism (known, and different in form from a linear score): each account has a
latent engagement that drifts (some accounts decline steadily) plus a latent product
friction. Engagement drives how many seats are active and how much they use; friction and
low engagement drive tickets; a fragile payer has failed charges. At each term end the
account renews or leaves with a probability from a monthly hazard (compounded over the
term's months): usage lowers it (through the share of seats active, with a threshold: a
dead API integration matters only when dashboards are quiet too), tickets raise it more
for large accounts (interaction), failed charges raise it, the price per seat raises it in
the first year only (interaction with tenure), and tenure lowers it with a U-turn for very
old accounts. A share of renewals is a few days late (inside the 7-day gap: the same active
period); a few churned accounts come back months later with a new term.

Then the generated files are imported with ``benchmarks/foreign_source.yaml``, labelled
snapshots are built (``training.generic.labelled``) and ``training.generic.compare`` runs
the tuned LightGBM and the logistic baseline on later-in-time data. ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SPEC = Path(__file__).with_name("foreign_source.yaml")
EPOCH = np.datetime64("2023-01-02", "D")  # a Monday: week w covers days [7w, 7w + 7)
ACTIONS = ("dashboard_view", "api_sync", "report_export")
INDUSTRIES = np.array(["retail", "logistics", "finance", "health", "public"])
SEAT_PRICE = {1: 39.0, 3: 36.0, 12: 31.0}  # EUR per seat per month, by term length


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _add_months(days: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Day numbers (since EPOCH) ``months`` calendar months later (day of month clipped to 28)."""
    d = EPOCH + days.astype("timedelta64[D]")
    m = d.astype("datetime64[M]")
    dom = np.minimum((d - m.astype("datetime64[D]")).astype(np.int64), 27)
    out = (m + months.astype("timedelta64[M]")).astype("datetime64[D]") + dom
    return (out - EPOCH).astype(np.int64)


@dataclass
class _Log:
    """Columns of one output file, appended week by week and concatenated once."""

    cols: dict[str, list[np.ndarray]]

    @classmethod
    def of(cls, *names: str) -> _Log:
        return cls({n: [] for n in names})

    def add(self, **values: np.ndarray) -> None:
        for k, v in values.items():
            self.cols[k].append(np.asarray(v))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({k: np.concatenate(v) if v else [] for k, v in self.cols.items()})


def _stamps(rng: np.random.Generator, week: int, n: int, business_hours: bool) -> np.ndarray:
    """``n`` instants in week ``week`` (seconds since EPOCH), weekdays/office hours if asked."""
    day = rng.integers(0, 5 if business_hours else 7, n)
    sec = rng.integers(8 * 3600, 19 * 3600, n) if business_hours else rng.integers(0, 86400, n)
    return (week * 7 + day) * 86400 + sec


def generate(out: Path, customers: int = 3000, seed: int = 7, weeks: int = 156) -> dict[str, int]:
    """Write the five CSV files into ``out``; rows per file."""
    rng = np.random.default_rng(seed)
    seat_price = np.zeros(13)
    for m, p in SEAT_PRICE.items():
        seat_price[m] = p
    n = customers
    horizon = weeks * 7
    # --- accounts: who they are and their latent traits
    seats = np.maximum(1, np.round(rng.lognormal(np.log(8), 0.9, n))).astype(np.int64)
    industry = INDUSTRIES[rng.integers(0, len(INDUSTRIES), n)]
    seats0 = seats.copy()  # contracted at sign-up: the export's static attribute
    period = rng.choice([1, 3, 12], n, p=[0.55, 0.15, 0.30])
    # 35 % already customers at the start (signed up to two years before), the rest join later
    legacy = rng.random(n) < 0.35
    signup = np.where(legacy, -rng.integers(0, 730, n), rng.integers(0, int(horizon * 0.75), n))
    engage = rng.normal(0.4, 0.8, n) + 0.3 * (industry == "finance")
    drift = np.where(rng.random(n) < 0.3, rng.normal(-0.06, 0.03, n), rng.normal(0.005, 0.01, n))
    friction = rng.gamma(1.5, 0.4, n)
    fragile = rng.random(n) < 0.12  # cards that fail now and then
    returner = rng.random(n) < 0.35  # would come back after leaving
    discount = np.clip(rng.normal(1.0, 0.12, n), 0.7, 1.3)  # negotiated price level
    # --- state
    active = np.zeros(n, dtype=bool)
    pending = np.full(n, -1, dtype=np.int64)  # day of a late renewal or comeback, -1: none
    term_end = np.zeros(n, dtype=np.int64)
    term_row = np.full(n, -1, dtype=np.int64)  # index of the running billing row
    period_start = np.zeros(n, dtype=np.int64)  # first day of the current active period
    price = np.zeros(n)
    tickets_ema = np.zeros(n)
    fails_ema = np.zeros(n)
    usage_ema = np.full(n, 0.5)
    api_ema = np.full(n, 0.5)
    terms = {k: [] for k in ("acct", "begin", "finish", "price", "months")}

    def open_term(idx: np.ndarray, begin: np.ndarray) -> None:
        finish = _add_months(begin, period[idx])
        price[idx] = np.round(seats[idx] * seat_price[period[idx]] * period[idx] * discount[idx])
        base = sum(len(a) for a in terms["acct"])
        term_row[idx] = base + np.arange(len(idx))
        term_end[idx] = finish
        for k, v in (("acct", idx), ("begin", begin), ("finish", finish)):
            terms[k].append(v)
        terms["price"].append(price[idx].copy())
        terms["months"].append(period[idx].copy())
        active[idx] = True

    # accounts already running at the start: their earlier terms (no gaps), then the term
    # that covers day 0, so tenure is in the export
    old = np.flatnonzero(legacy)
    begin0 = signup[old].copy()
    while True:
        nxt = _add_months(begin0, period[old])
        past = nxt <= 0
        if not past.any():
            break
        hist = old[past]
        for k_, v in (("acct", hist), ("begin", begin0[past]), ("finish", nxt[past])):
            terms[k_].append(v)
        terms["price"].append(
            np.round(seats[hist] * seat_price[period[hist]] * period[hist] * discount[hist])
        )
        terms["months"].append(period[hist].copy())
        begin0[past] = nxt[past]
    period_start[old] = signup[old]
    open_term(old, begin0)

    usage = _Log.of("acct", "occurred", "action", "records", "member")
    desk = _Log.of("acct", "opened", "priority")
    dun = _Log.of("acct", "failed_on", "amount_due")
    returned = np.zeros(n, dtype=np.int64)
    for w in range(weeks):
        lo, hi = w * 7, w * 7 + 7
        # new sign-ups and due comebacks / late renewals start a term this week
        joins = np.flatnonzero(~active & (signup >= lo) & (signup < hi) & (pending < 0))
        due = np.flatnonzero(~active & (pending >= lo) & (pending < hi))
        if len(joins):
            period_start[joins] = signup[joins]
            open_term(joins, signup[joins])
        if len(due):
            came_back = due[pending[due] - term_end[due] > 7]
            period_start[came_back] = pending[came_back]
            engage[came_back] = rng.normal(0.6, 0.5, len(came_back))
            drift[came_back] = rng.normal(0.0, 0.01, len(came_back))
            returned[came_back] += 1
            open_term(due, pending[due])
            pending[due] = -1
        # latent dynamics
        engage += drift + rng.normal(0, 0.08, n)
        on = np.flatnonzero(active)
        e = engage[on]
        share = _sigmoid(1.6 * e - 0.2)  # share of seats active this week
        act_users = rng.binomial(seats[on], share)
        # usage events: dashboard views per active user, API syncs where the integration lives
        views = rng.poisson(0.35 * act_users)
        api_on = e > -0.3
        syncs = rng.poisson(np.where(api_on, 0.8 + 0.1 * np.sqrt(seats[on]), 0.05))
        exports = rng.poisson(0.08 * act_users * _sigmoid(e))
        for action, counts, rec in (
            ("dashboard_view", views, None),
            ("api_sync", syncs, True),
            ("report_export", exports, None),
        ):
            who = np.repeat(on, counts)
            if not len(who):
                continue
            member = who * 1000 + rng.integers(0, np.maximum(np.repeat(act_users, counts), 1))
            records = np.round(rng.lognormal(np.log(200 + 40 * seats[who]), 0.6)) if rec else np.nan
            usage.add(
                acct=who,
                occurred=_stamps(rng, w, len(who), action != "api_sync"),
                action=np.full(len(who), action),
                records=np.broadcast_to(records, (len(who),)).astype(float),
                member=member,
            )
        tix = rng.poisson(0.04 * friction[on] * (1 + np.log1p(seats[on])) * (1 + (e < 0)))
        who = np.repeat(on, tix)
        desk.add(
            acct=who,
            opened=_stamps(rng, w, len(who), True),
            priority=rng.choice([1, 2, 3], len(who), p=[0.5, 0.35, 0.15]),
        )
        nfail = rng.poisson(np.where(fragile[on], 0.06, 0.004) * (1 + (e < -0.5)))
        who = np.repeat(on, nfail)
        dun.add(
            acct=who,
            failed_on=_stamps(rng, w, len(who), False),
            amount_due=price[who] / period[who],
        )
        # what the account feels (exponential memory of about two months)
        a = 1 - np.exp(-1 / 8)
        usage_ema[on] += a * (act_users / seats[on] - usage_ema[on])
        api_ema[on] += a * (np.minimum(syncs, 3) / 3 - api_ema[on])
        tickets_ema[on] += a * (tix - tickets_ema[on])
        fails_ema[on] += a * (nfail - fails_ema[on])
        # mid-term upgrades of engaged accounts: close the running row, open one at the new price
        up = on[(rng.random(len(on)) < 0.004 * (e > 0.8)) & (term_end[on] - hi > 20)]
        if len(up):
            day = rng.integers(lo, hi, len(up))
            cut = term_row[up]
            starts = np.concatenate(terms["begin"])
            ok = day > starts[cut]
            up, day, cut = up[ok], day[ok], cut[ok]
            terms["finish"] = [np.concatenate(terms["finish"])]
            terms["finish"][0][cut] = day
            for k_ in ("acct", "begin", "price", "months"):
                terms[k_] = [np.concatenate(terms[k_])]
            end_keep = term_end[up].copy()
            seats[up] += np.maximum(1, np.round(seats[up] * 0.25)).astype(np.int64)
            base = len(terms["acct"][0])
            term_row[up] = base + np.arange(len(up))
            remaining = (end_keep - day) / (30.4375 * period[up])
            price[up] = np.round(
                seats[up] * seat_price[period[up]] * period[up] * discount[up] * remaining
            )
            for k_, v in (("acct", up), ("begin", day), ("finish", end_keep)):
                terms[k_].append(v)
            terms["price"].append(price[up].copy())
            terms["months"].append(period[up].copy())
        # renewals due this week: renew (maybe a few days late) or leave
        ending = on[(term_end[on] >= lo) & (term_end[on] < hi)]
        if not len(ending):
            continue
        tenure_y = (term_end[ending] - period_start[ending]) / 365.25
        per_seat = price[ending] / period[ending] / seats[ending]
        quiet = (usage_ema[ending] < 0.25) & (api_ema[ending] < 0.2)
        big = seats[ending] >= 20
        logit = (
            -2.6
            - 2.2 * (usage_ema[ending] - 0.5)
            + 1.3 * quiet
            + 1.1 * np.log1p(3 * tickets_ema[ending]) * (1 + 1.5 * big)
            + 2.5 * np.minimum(fails_ema[ending] * 8, 1.5)
            + 2.0 * (per_seat / 35 - 1) * (tenure_y < 1)
            - 0.7 * np.minimum(tenure_y, 2.5)
            + 0.5 * np.maximum(tenure_y - 4, 0)
            + 0.4 * (industry[ending] == "public")
            + rng.normal(0, 0.6, len(ending))  # what no log shows: budgets, champions leaving
        )
        p_leave = 1 - (1 - _sigmoid(logit)) ** period[ending]
        leave = rng.random(len(ending)) < p_leave
        stay = ending[~leave]
        gone = ending[leave]
        # seat changes at renewal: engaged accounts grow, quiet ones shrink
        change = np.round(seats[stay] * rng.normal(0.05 + 0.15 * (usage_ema[stay] - 0.5), 0.12))
        seats[stay] = np.maximum(1, seats[stay] + change.astype(np.int64))
        late = rng.random(len(stay)) < 0.15
        lag = np.where(late, rng.integers(1, 6, len(stay)), 0)
        on_time = stay[lag == 0]
        if len(on_time):
            open_term(on_time, term_end[on_time])
        late_ids = stay[lag > 0]
        active[late_ids] = False
        pending[late_ids] = term_end[late_ids] + lag[lag > 0]
        active[gone] = False
        back = gone[returner[gone] & (rng.random(len(gone)) < 0.6)]
        pending[back] = term_end[back] + rng.integers(45, 300, len(back))
        returner[back] = rng.random(len(back)) < 0.2

    # --- write (string dates, the way a billing export writes them)
    t = {k: np.concatenate(v) for k, v in terms.items()}
    # rows that start after the horizon are not yet in the export
    keep = t["begin"] < horizon
    day = lambda d: np.datetime_as_string(EPOCH + d.astype("timedelta64[D]"), unit="D")  # noqa: E731
    when = lambda s: np.char.replace(  # noqa: E731
        np.datetime_as_string(EPOCH.astype("datetime64[s]") + s.astype("timedelta64[s]"), unit="s"),
        "T",
        " ",
    )
    billing = pd.DataFrame(
        {
            "term_no": 100001 + np.arange(int(keep.sum())),
            "acct_ref": t["acct"][keep] + 5000,
            "term_begin": day(t["begin"][keep]),
            "term_finish": day(t["finish"][keep]),
            "price_eur": t["price"][keep],
            "months_per_term": t["months"][keep],
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    accounts = pd.DataFrame(
        {
            "acct_ref": np.arange(n) + 5000,
            "company": [f"Account {i:05d}" for i in range(n)],
            "industry": industry,
            "seats": seats0,
        }
    )
    # only accounts that ever had a term in the window are in the export
    accounts = accounts[accounts["acct_ref"].isin(billing["acct_ref"])]
    files = {"accounts.csv": accounts, "billing_terms.csv": billing}
    for name, log, tcol in (
        ("product_usage.csv", usage, "occurred"),
        ("helpdesk.csv", desk, "opened"),
        ("dunning.csv", dun, "failed_on"),
    ):
        f = log.frame()
        f = f[f[tcol] < horizon * 86400]
        f[tcol] = when(f[tcol].to_numpy())
        f["acct"] = f["acct"] + 5000
        files[name] = f.sort_values(tcol, kind="stable")
    for name, f in files.items():
        f.to_csv(out / name, index=False)
    return {name: len(f) for name, f in files.items()}


def run(customers: int, seed: int, weeks: int, trials: int, workdir: Path) -> dict[str, object]:
    """Generate, import, label and compare; the figures as a dict."""
    from churn.config import load_config
    from features.generic.load import import_source
    from features.generic.spec import load_spec
    from training.generic import compare, labelled

    t0 = time.perf_counter()
    spec = load_spec(SPEC)
    files = generate(workdir / "export", customers, seed, weeks)
    t_gen = time.perf_counter()
    import_source(spec, workdir / "export", workdir / "raw", today=datetime.now(UTC))
    t_imp = time.perf_counter()
    frame, snaps = labelled(spec, workdir / "raw")
    t_lab = time.perf_counter()
    cfg = load_config().training.model_copy(update={"seed": seed})
    result = compare(frame, snaps, spec, cfg, n_trials=trials)
    t_end = time.perf_counter()
    return {
        "benchmark": "foreign_source",
        "customers": customers,
        "seed": seed,
        "weeks": weeks,
        "trials": trials,
        "files": files,
        "rows": len(frame),
        "positives": int(frame["label"].sum()),
        "test_rows": result.test_rows,
        "test_positives": result.test_positives,
        "model_roc_auc": round(result.model_roc_auc, 4),
        "baseline_roc_auc": round(result.baseline_roc_auc, 4),
        "model_pr_auc": round(result.model_pr_auc, 4),
        "baseline_pr_auc": round(result.baseline_pr_auc, 4),
        "generate_s": round(t_gen - t0, 2),
        "import_s": round(t_imp - t_gen, 2),
        "label_s": round(t_lab - t_imp, 2),
        "compare_s": round(t_end - t_lab, 2),
        "wall_s": round(t_end - t0, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--weeks", type=int, default=156)
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="foreign-") as tmp:
        print(json.dumps(run(args.customers, args.seed, args.weeks, args.trials, Path(tmp))))


if __name__ == "__main__":
    main()
