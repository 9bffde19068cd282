"""Find a client of the served week by id or by part of its name (the supervisor page's
search box): supervisors know clients by name, the API by id.

Over the whole week's snapshot, not only the listed clients; case-insensitive; a query of
digits also matches that client id exactly. Vectorised over the snapshot's ``name`` column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from serving.centres import client_names


def find_clients(snapshot: pd.DataFrame, query: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` clients (``client_id``, ``name``) of ``snapshot`` (indexed by client
    id) whose id is ``query`` or whose name contains it, the exact id first, then by id."""
    text = query.strip()
    names = client_names(snapshot)
    hit = names.str.lower().str.contains(text.lower(), regex=False).fillna(False).to_numpy()
    wanted = int(text) if text.isdigit() else -1
    exact = snapshot.index.to_numpy() == wanted
    found = names[hit | exact]
    ids = found.index.to_numpy()
    first = np.lexsort((ids, ids != wanted))[:limit]  # the exact id, then by id
    chosen = found.iloc[first]
    return [
        {"client_id": int(cid), "name": name if isinstance(name, str) else None}
        for cid, name in zip(chosen.index, chosen.tolist(), strict=True)
    ]
