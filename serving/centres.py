"""Several centres in one export: which rows belong to which centre.

A network export names each client's centre in the optional ``clients.centre_id``
(``features/contract.py``); the snapshot carries it as an id column, never a model input.
Scores keep it, and the call list is built per centre (``serving.calllist``): each
centre's specialists call their own clients, so the capacity is per centre and no centre's
list holds another's clients. Without the column (one centre) everything is one list.
"""

from __future__ import annotations

import pandas as pd


def has_centres(frame: pd.DataFrame) -> bool:
    """True when the rows name their centres (a network export)."""
    return "centre_id" in frame.columns and bool(frame["centre_id"].notna().any())


def text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """An optional id column of the rows (``centre_id``, ``name``) as text on the frame's
    index; all missing when the export has none."""
    if column in frame.columns:
        return pd.Series(frame[column].to_numpy(), index=frame.index, dtype="str")
    return pd.Series([None] * len(frame), index=frame.index, dtype="str")


def centre_ids(frame: pd.DataFrame) -> pd.Series:
    """The rows' ``centre_id`` as text on the frame's index (all missing without one)."""
    return text_column(frame, "centre_id")


def client_names(frame: pd.DataFrame) -> pd.Series:
    """The rows' client ``name`` (the CRM's, ``clients.name``): an id for people, never a
    model input; all missing when the export has no names."""
    return text_column(frame, "name")


def centre_groups(frame: pd.DataFrame) -> list[tuple[str | None, pd.Index]]:
    """(centre, row labels) per centre, sorted by centre; rows without a centre (in a
    network export) form their own group, last, labelled ``None``."""
    ids = centre_ids(frame)
    groups = [(str(c), ids.index[(ids == c).to_numpy()]) for c in sorted(ids.dropna().unique())]
    missing = ids.isna().to_numpy()
    if missing.any():
        groups.append((None, ids.index[missing]))
    return groups
