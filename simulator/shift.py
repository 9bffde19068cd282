"""A change of behaviour from a date on (``simulate.yaml: shift``): the drift monitoring must see.

The generator's event rates are multiplied by the factor of :func:`factor` for every
simulated month that starts on or after ``shift.after`` (months, not days: the generator
draws a month at a time). Without a shift, or before its date, the factor is exactly 1 and
no extra random draw is made, so a base generated with a shift is byte-identical to the
one without it up to the shift month (same seed).
"""

from __future__ import annotations

import numpy as np

from simulator.month import MonthContext

RATES = ("logins", "requests")


def factor(ctx: MonthContext, rate: str) -> float:
    """The multiplier of ``rate`` (logins or requests) in the context's month."""
    if rate not in RATES:
        raise ValueError(f"shift: unknown rate {rate!r}; expected one of {', '.join(RATES)}")
    shift = ctx.cfg.shift
    if shift is None:
        return 1.0
    after = np.datetime64(shift.after, "us").astype(np.int64)
    if int(ctx.cal.month_start(ctx.m)) < int(after):
        return 1.0
    return float(getattr(shift, f"{rate}_factor"))
