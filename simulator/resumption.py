"""Suspensions that end: ``churn_events.resumed_ts`` for a share of the suspended churners.

Real CRMs see suspended clients come back (a debt paid, a pause at the client's request
over); the contract records that as ``resumed_ts`` (``features/contract.py``). This step
runs after the month loop, on the finished ``churn_events`` file, so that it changes
nothing else:

* it has its own random stream, ``PCG64([seed, STREAM])``, and draws a fixed number of
  values per churn row, so the main generator's draws (and every other table's bytes) are
  the same with and without it, and the same seed gives the same resumptions;
* with ``resumption.share == 0`` (the default) it does not touch the files at all: the
  column stays absent, exactly like an export written before it existed.

Each ``suspension`` / ``debt_suspension`` row is resumed with probability ``share`` after
a geometric number of whole days (mean ``mean_days``, at least one), if that day lies
inside the simulated window; later resumptions are not known yet and stay missing.

What it does *not* model: the resumed client's behaviour afterwards. The month loop has
already stopped that client's events at the churn, so after ``resumed_ts`` the client is
active again (features, scores, the call list) but shows no logins, invoices or contacts,
and the hidden hazard has no rows for it. That is enough to exercise the contract end to
end (validation, the active-client filter, labels, scoring); it is not a behavioural model
of returning clients, which is why it is off by default.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.contract import RESUMABLE_CHURN_TYPES, TABLES
from simulator.calendar import US_PER_DAY, Calendar
from simulator.config import SimulateConfig
from simulator.write import ARROW_TYPES, arrow_schema, writer_options

STREAM = 0x5E5  # the resumption stream's key next to the seed (any fixed number)


def resumption_days(cfg: SimulateConfig, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(uniform draw, suspension length in days) for ``n`` churn rows, from the own stream."""
    rng = np.random.Generator(np.random.PCG64([cfg.seed, STREAM]))
    u = rng.random(n)
    days = rng.geometric(1.0 / cfg.resumption.mean_days, size=n)  # >= 1, mean = mean_days
    return u, days.astype(np.int64)


def add_resumptions(cfg: SimulateConfig, cal: Calendar, out_dir: Path) -> int:
    """Rewrite ``out_dir/churn_events.parquet`` with ``resumed_ts``; returns how many ended.

    Does nothing (returns 0, file untouched) when ``cfg.resumption.share`` is 0.
    """
    if cfg.resumption.share <= 0:
        return 0
    path = Path(out_dir) / "churn_events.parquet"
    table = pq.read_table(path)
    ts = table["ts"].cast(pa.int64()).to_numpy()
    resumable = pc.is_in(table["churn_type"], pa.array(RESUMABLE_CHURN_TYPES)).to_numpy(
        zero_copy_only=False
    )
    u, days = resumption_days(cfg, table.num_rows)
    resumed = ts + days * US_PER_DAY  # churn days are midnights: so are resumptions
    ends = resumable & (u < cfg.resumption.share) & (resumed < cal.window_end)
    column = pa.array(resumed, type=ARROW_TYPES["ts"], mask=~ends)
    spec = TABLES["churn_events"]
    out = pa.Table.from_arrays(
        [column if c.name == "resumed_ts" else table[c.name] for c in spec.columns],
        schema=arrow_schema(spec, optional=True),
    )
    pq.write_table(
        out,
        path,
        compression=cfg.compression,
        row_group_size=max(out.num_rows, 1),
        **writer_options(spec, optional=True),
    )
    return int(ends.sum())
