"""Every client's SHAP values as a stored week keeps them, so ``/explain`` is a lookup.

The weekly run computes the raw SHAP values of every client anyway (one pass over the trees
for the whole week: :func:`serving.drivers.top_drivers`), keeps the top three as drivers
and used to drop the rest; ``/explain`` then ran TreeSHAP again for one client per request
(about 40 ms of CPU holding the GIL, twice with "what changed"), which starved the
service's event loop under load. Now the week keeps them all, in
``weekly_scores.shap_raw`` (migration 0004), and ``/explain`` of a stored client words
them (:func:`serving.explain.explain_stored`): the same answer, and it adds up to the
probability the week stored, because that probability was calibrated from the same sum.

The format, one cell per client and week: the booster's raw contributions of every feature
in the scoring model's feature order, then the base value, as little-endian float64,
exactly the row LightGBM's ``pred_contrib`` returns (8 x (features + 1) bytes: 320 for 39
features). Binary rather than JSON: a third of the size and a whole week decodes with one
``frombuffer``. A week stored before this (no cell) is explained the computed way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DTYPE = np.dtype("<f8")


def encode(contrib: np.ndarray, base: np.ndarray) -> list[bytes]:
    """One cell per row: ``contrib`` (n x features, raw log-odds) then ``base`` (n,)."""
    contrib = np.asarray(contrib, dtype=float)
    rows = np.column_stack([contrib, np.asarray(base, dtype=float).reshape(-1)])
    rows = np.ascontiguousarray(rows, dtype=DTYPE)
    width = rows.shape[1] * DTYPE.itemsize
    return rows.view(np.dtype((np.void, width))).reshape(-1).tolist()


def decode_all(cells: Sequence[object]) -> np.ndarray | None:
    """(n x (features + 1)) from a week's cells in row order, or None when any cell is
    missing or they differ in width (a week stored before its SHAP values were)."""
    if not len(cells):
        return None
    blobs = [bytes(c) if isinstance(c, bytes | bytearray | memoryview) else None for c in cells]
    width = len(blobs[0]) if blobs[0] is not None else 0
    if not width or width % DTYPE.itemsize or any(b is None or len(b) != width for b in blobs):
        return None
    joined = b"".join(blobs)  # type: ignore[arg-type]
    return np.frombuffer(joined, dtype=DTYPE).reshape(len(blobs), width // DTYPE.itemsize)


def decode(cell: object, n_features: int) -> tuple[np.ndarray, float] | None:
    """One client's (raw contributions, base) for a model of ``n_features`` features, or
    None when the cell is missing or was written for another number of features."""
    values = decode_all([cell])
    return split(values[0], n_features) if values is not None else None


def split(row: np.ndarray, n_features: int) -> tuple[np.ndarray, float] | None:
    """A decoded row as (raw contributions, base); None when its width is not the model's."""
    if row.shape != (n_features + 1,):
        return None
    return np.asarray(row[:-1], dtype=float), float(row[-1])
