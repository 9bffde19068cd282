"""The evidence flag: short history or missing tables make a score 'limited'."""

from __future__ import annotations

import pandas as pd

from serving.evidence import evidence_flags


def test_short_history_missing_tables_and_unknown_tenure_are_limited() -> None:
    snap = pd.DataFrame({"client_id": [1, 2, 3, 4, 5], "tenure_days": [89, 90, 400, None, 1000]})
    got = evidence_flags(snap, missing_tables={3})
    assert got.tolist() == ["limited", "full", "limited", "limited", "full"]
    assert got.index.equals(snap.index)
    assert evidence_flags(snap, min_history_days=30).tolist()[0] == "full"
