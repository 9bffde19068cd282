"""How much evidence a score rests on: 'full' or 'limited'.

A client with under 90 days of history (``tenure_days``), or with no rows in some of the
raw tables the signals come from, gets a score built mostly from defaults; the supervisor
page and ``/score`` mark it "limited evidence" so nobody reads too much into it. Pure: the
caller says which clients miss which tables (the weekly run knows the export).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

MIN_HISTORY_DAYS = 90
FULL, LIMITED = "full", "limited"


def evidence_flags(
    snapshot: pd.DataFrame,
    *,
    missing_tables: Collection[int] = (),
    min_history_days: int = MIN_HISTORY_DAYS,
) -> pd.Series:
    """'limited' for clients with ``tenure_days < min_history_days`` (or unknown tenure) or
    whose id is in ``missing_tables``, else 'full'; indexed like ``snapshot``."""
    if "tenure_days" not in snapshot.columns:
        raise KeyError("tenure_days")
    tenure = pd.to_numeric(snapshot["tenure_days"], errors="coerce")
    short = tenure.isna() | (tenure < min_history_days)
    missing = snapshot["client_id"].isin(list(missing_tables))
    return pd.Series(
        np.where(short | missing, LIMITED, FULL), index=snapshot.index, dtype="str"
    ).rename("evidence")
