"""The engine agrees with an independent pandas oracle (oracle.py) on a generated base."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from oracle import oracle_snapshot

from churn.config import Config
from features.catalog import CATALOG
from features.dates import data_span
from features.snapshot import build_snapshots


def test_engine_equals_pandas_oracle_on_generated_base(
    small_raw: Path, session_config: Config
) -> None:
    first, newest = data_span(small_raw)
    as_of = date(newest.year, newest.month, 1)
    got = build_snapshots(small_raw, [as_of], session_config).set_index("client_id")
    want = oracle_snapshot(small_raw, as_of, session_config).sort_index()
    assert len(got) > 100
    assert list(got.index) == list(want.index)
    for f in CATALOG:
        if f.name in ("client_id", "as_of"):
            continue
        g, w = got[f.name], want[f.name]
        if f.dtype in ("int", "float"):
            ok = np.isclose(g.astype(float), w.astype(float), equal_nan=True, atol=1e-9)
        else:
            ok = (g.astype(object).where(g.notna()) == w.astype(object).where(w.notna())) | (
                g.isna() & w.isna()
            )
        bad = list(got.index[~np.asarray(ok)])[:5]
        assert not bad, f"{f.name}: engine {g.loc[bad].tolist()} != oracle {w.loc[bad].tolist()}"
    assert pd.Series(got["rule_band"]).nunique() >= 2
