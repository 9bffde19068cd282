"""Invoices: advance payment per service period, debt and the payment-renewal period.

Periods start on the first of a month (a new client's first period starts on its contract
day) and last the client's advance (1/3/6/12 months; the first one ``first_advance``).
The invoice for the next period is issued 5-20 days before it starts and is due a few
days after; financial stress makes payment late or never. ``period_end`` is the last day
of the period. Invoices are kept in memory (one per client-period, small) because a later
churn can cancel a payment, and written at the end.
"""

from __future__ import annotations

import numpy as np

from simulator.calendar import LONG_AGO, NEVER, US_PER_DAY, Calendar
from simulator.config import SimulateConfig
from simulator.population import Population
from simulator.state import State, Window
from simulator.write import Sink

FIELDS = ("client", "issued", "due", "paid", "amount", "start", "end")


class Billing:
    def __init__(self, cfg: SimulateConfig, cal: Calendar, pop: Population) -> None:
        self.cfg, self.cal, self.pop = cfg, cal, pop
        self.next_start = np.full(pop.n, np.iinfo(np.int64).max // 4, dtype=np.int64)  # month index
        self._parts: list[dict[str, np.ndarray]] = []
        self._all: dict[str, np.ndarray] | None = None

    @property
    def invoices(self) -> dict[str, np.ndarray]:
        if self._all is None:
            self._all = {
                f: np.concatenate([p[f] for p in self._parts])
                if self._parts
                else np.zeros(0, np.int64)
                for f in FIELDS
            }
            self._parts = [self._all] if self._parts else []
        return self._all

    def _add(
        self,
        rows: np.ndarray,
        issued: np.ndarray,
        start_us: np.ndarray,
        end_month: np.ndarray,
        months: np.ndarray,
        st: State,
        rng: np.random.Generator,
    ) -> None:
        due = np.maximum(start_us, issued) + self.cfg.invoice_due_days * US_PER_DAY
        keep = due < self.cal.window_end
        rows, issued, start_us, end_month, months, due = (
            a[keep] for a in (rows, issued, start_us, end_month, months, due)
        )
        u = rng.random((3, len(rows)))
        on_time = u[0] < 1 / (1 + np.exp(-(2.3 - 1.5 * st.finance[rows])))
        early = issued + (u[1] * (due - issued)).astype(np.int64)
        lag_days = np.where(
            u[2] < 0.7, rng.exponential(25.0, len(rows)) + 1, rng.exponential(150.0, len(rows)) + 1
        )
        paid = np.where(on_time, early, due + (lag_days * US_PER_DAY).astype(np.int64))
        end_us = self.cal.month_start(end_month) - US_PER_DAY
        self._parts.append(
            {
                "client": rows,
                "issued": issued,
                "due": due,
                "paid": paid,
                "amount": (self.pop.fee[rows] * months).astype(np.float64),
                "start": start_us,
                "end": end_us,
            }
        )
        self._all = None

    def initial(self, st: State, rng: np.random.Generator) -> None:
        """The current period's invoice of every client that existed before the export."""
        pop, cal = self.pop, self.cal
        rows = np.nonzero(pop.contract_start < cal.month_start(cal.first_month))[0]
        first = np.where(pop.first_advance > 0, pop.first_advance, pop.advance)[rows]
        p = pop.advance[rows]
        cs_month = cal.month_of(pop.contract_start[rows])
        fe = cs_month + 1 + first
        k = np.where(fe > cal.first_month, 0, (cal.first_month - fe) // p + 1)
        ns = fe + k * p
        is_first = k == 0
        start = np.where(is_first, pop.contract_start[rows], cal.month_start(ns - p))
        issued = np.maximum(
            start - (rng.integers(5, 21, len(rows)) * US_PER_DAY), pop.contract_start[rows]
        )
        self.next_start[rows] = ns
        self._add(rows, issued, start, ns, np.where(is_first, first, p), st, rng)

    def issue(self, m: int, win: Window, st: State, rng: np.random.Generator) -> None:
        """This month: first invoices of clients starting now, renewals for next month."""
        pop, cal = self.pop, self.cal
        joiners = np.nonzero((cal.month_of(pop.contract_start) == m) & (win.frac > 0))[0]
        first = np.where(pop.first_advance > 0, pop.first_advance, pop.advance)[joiners]
        self.next_start[joiners] = m + 1 + first
        self._add(
            joiners,
            pop.contract_start[joiners],
            pop.contract_start[joiners],
            m + 1 + first,
            first,
            st,
            rng,
        )

        renew = np.nonzero(self.next_start == m + 1)[0]
        start = int(cal.month_start(m + 1))
        issued = start - rng.integers(5, 21, len(renew)) * US_PER_DAY
        issued = np.maximum(issued, win.lo[renew])
        ok = (issued < win.hi[renew]) & (win.frac[renew] > 0)
        renew, issued = renew[ok], issued[ok]
        p = pop.advance[renew]
        self.next_start[renew] = m + 1 + p
        self._add(renew, issued, np.full(len(renew), start), m + 1 + p, p, st, rng)

    def at(self, at_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As seen at ``at_us``: overdue amount, oldest overdue due date, latest paid period end."""
        inv, n = self.invoices, self.pop.n
        overdue = (inv["due"] < at_us) & (inv["paid"] >= at_us) & (inv["issued"] < at_us)
        amount = np.bincount(inv["client"][overdue], weights=inv["amount"][overdue], minlength=n)
        oldest = np.full(n, NEVER, dtype=np.int64)
        np.minimum.at(oldest, inv["client"][overdue], inv["due"][overdue])
        paid = inv["paid"] < at_us
        paid_end = np.full(n, LONG_AGO, dtype=np.int64)
        np.maximum.at(paid_end, inv["client"][paid], inv["end"][paid])
        return amount, oldest, paid_end

    def forfeit(self, rows: np.ndarray, from_us: int) -> None:
        """Clients suspended for debt never pay what was still unpaid at ``from_us``."""
        inv = self.invoices
        hit = np.isin(inv["client"], rows) & (inv["paid"] >= from_us)
        inv["paid"][hit] = NEVER

    def write(self, st: State, sink: Sink) -> None:
        inv = self.invoices
        order = np.lexsort((inv["client"], inv["issued"]))
        inv = {f: a[order] for f, a in inv.items()}
        paid = inv["paid"]
        paid = np.where(
            (paid >= self.cal.window_end) | (paid >= st.churn_us[inv["client"]]), NEVER, paid
        )
        cols = {
            "invoice_id": np.arange(1, len(paid) + 1, dtype=np.int64) + 5_000_000,
            "client_id": self.pop.client_id[inv["client"]],
            "ts": inv["issued"],
            "due_ts": inv["due"],
            "paid_ts": paid,
            "amount_rub": inv["amount"],
            "period_start": inv["start"],
            "period_end": inv["end"],
        }
        sink.write("invoices", cols)
