"""``churn features``: the snapshots the flags ask for, written into one Parquet file.

The dates come from :func:`features.dates.as_of_dates`; the snapshots from
:func:`features.source.write_snapshots` (the centre's contract or a subscription +
activity source; DuckDB, streamed to the file; its own progress bar on a terminal).
Returns what was written; the command prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from churn.config import Config
from features import rules
from features.dates import as_of_dates
from features.rules import DYNAMIC, HIGH, NO_THREAT
from features.source import data_span, write_snapshots


@dataclass(frozen=True)
class FeaturesWritten:
    """What ``churn features`` wrote: rows, dates, and the newest date's rule bands."""

    out: Path
    rows: int
    dates: list[date]
    latest_clients: int
    latest_bands: Mapping[str, int] | None  # None: the source has no rule indicator
    no_rule: str | None = None  # why not (configs/reasons.yaml no_rule)

    def lines(self) -> list[str]:
        """The summary a person reads after the command."""
        d = self.dates
        span = f"{d[0]}" if len(d) == 1 else f"{d[0]} .. {d[-1]}"
        latest = f"latest snapshot {d[-1]}: {self.latest_clients} active clients"
        if self.latest_bands is None:
            latest += f"; rule_band: {self.no_rule or 'no rule indicator'}"
        else:
            bands = ", ".join(
                f"{b} {self.latest_bands.get(b, 0)}" for b in (HIGH, DYNAMIC, NO_THREAT)
            )
            latest += f"; rule_band: {bands}"
        out = [f"wrote {self.rows} rows, {len(d)} snapshot(s) as of {span} -> {self.out}", latest]
        if self.rows == 0:
            out.append("warning: no active clients on these dates")
        return out


def _band_summary(out: Path, latest: date, rule: bool = True) -> tuple[int, Mapping[str, int]]:
    """Active clients of the newest date by rule band (one group, None, without a rule)."""
    con = duckdb.connect()
    band = "rule_band" if rule else "NULL"
    try:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(
            f"SELECT {band}, count(*) FROM read_parquet('{out.as_posix()}') "
            "WHERE as_of::DATE = ? GROUP BY 1",
            [latest],
        ).fetchall()
    finally:
        con.close()
    counts = {band: int(n) for band, n in rows}
    return sum(counts.values()), counts


def run_features(
    cfg: Config,
    *,
    raw: Path,
    out: Path,
    as_of: str | None,
    to: str | None,
    every: str | None,
    today: date | None = None,
) -> FeaturesWritten:
    """``churn features``: build the snapshots the flags ask for into one Parquet file, on
    the source the config names (the centre's contract, or ``features.source``: its dates
    from its own data span and warm-up)."""
    from features.catalog import spec_of  # the catalog module reads the config at import

    spec = spec_of(cfg)
    raw, out = Path(raw), Path(out)
    span = data_span(cfg, raw)
    dates = as_of_dates(raw, as_of, to, every, today or date.today(), spec.warmup_days, span=span)
    n = write_snapshots(cfg, raw, dates, out)
    rule = rules.status(cfg, spec)
    total, counts = _band_summary(out, dates[-1], rule.available)
    if not rule.available:
        return FeaturesWritten(out, n, dates, total, None, no_rule=rule.note("en"))
    return FeaturesWritten(out, n, dates, total, counts)
