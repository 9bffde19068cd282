"""How long a week's call list is and why: a typed value instead of a dict of string keys.

A list holds min(capacity, profit-optimal count) of the eligible clients (those neither
called within ``recall_after_days`` nor held out within a washout); listed clients sent to
the scheduler within the washout are kept from the holdout. A network week sums
its centres and keeps each centre's sizing. ``to_dict()`` is the JSON shape the weekly
summary and the call list's ``attrs["sizing"]`` had before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

SUMMED = (
    "profit_optimal_count",
    "listed",
    "eligible",
    "excluded_recently_called",
    "excluded_held_out",
    "kept_from_holdout",
)


@dataclass(frozen=True)
class ListSizing:
    """One list (one centre, or a single-centre week): its bound and who was left out."""

    capacity: int
    profit_optimal_count: int
    listed: int
    capacity_binds: bool
    eligible: int = 0
    excluded_recently_called: int = 0
    excluded_held_out: int = 0
    kept_from_holdout: int = 0  # listed, sent within the washout: called, never a control

    @classmethod
    def of(cls, eligible: pd.DataFrame, capacity: int, **left_out: int) -> ListSizing:
        """The sizing of a ranked, eligible list: capacity or the profit-optimal count binds."""
        optimal = int((eligible["expected_profit_rub"] > 0).sum())
        return cls(
            capacity=int(capacity),
            profit_optimal_count=optimal,
            listed=int(min(capacity, optimal)),
            capacity_binds=bool(optimal > capacity),
            eligible=len(eligible),
            **{k: int(v) for k, v in left_out.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WeekSizing:
    """A week's call list: its sizing (summed over centres in a network), the ranking, how
    many were sent and held out, and each centre's own sizing when there are centres."""

    total: ListSizing
    ranking: str
    sent: int
    held_out: int
    holdout_share: float
    centres: dict[str, ListSizing] | None = field(default=None)

    @classmethod
    def of(
        cls,
        lists: dict[str | None, ListSizing],
        *,
        capacity: int,
        ranking: str,
        sent: int,
        held_out: int,
        holdout_share: float,
    ) -> WeekSizing:
        """From the per-centre lists (key ``None``: a single-centre week)."""
        if None in lists:
            return cls(lists[None], ranking, sent, held_out, holdout_share)
        total = ListSizing(
            capacity=int(capacity),
            capacity_binds=any(s.capacity_binds for s in lists.values()),
            **{k: sum(getattr(s, k) for s in lists.values()) for k in SUMMED},
        )
        centres = {str(c): s for c, s in lists.items()}
        return cls(total, ranking, sent, held_out, holdout_share, centres)

    def to_dict(self) -> dict[str, Any]:
        extra = {
            "ranking": self.ranking,
            "sent": self.sent,
            "held_out": self.held_out,
            "holdout_share": self.holdout_share,
        }
        if self.centres is None:
            return {**self.total.to_dict(), **extra}
        total = self.total.to_dict()
        head = {"capacity": total.pop("capacity"), "per_centre": True}
        order = {k: total[k] for k in (*SUMMED, "capacity_binds")}
        centres = {c: s.to_dict() for c, s in self.centres.items()}
        return {**head, **order, "centres": centres, **extra}
