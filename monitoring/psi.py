"""Population stability index (PSI): how far a week's distribution moved from the reference.

``PSI = sum over bins (c - r) * ln(c / r)`` with ``r``, ``c`` the reference and current
shares of each bin. Numeric features are cut at the reference's quantiles (so every bin
holds about ``1 / bins`` of the reference; a feature with many ties, e.g. a 0/1 flag, gets
fewer, distinct bins) and missing values have a bin of their own: a feature that starts
arriving empty is drift too. Categorical features use one bin per level seen in either
sample, plus missing. A bin empty on one side gets the share ``EPS`` instead of 0, so a new
level or a newly populated range counts heavily but finitely.

Reading (``monitoring.*``): below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 significant.
With ``n`` rows on each side and ``k`` bins the PSI of two samples of one distribution is
about ``(k - 1) * (1 / n_ref + 1 / n_cur)``: 0.01 for 10 bins and ~2 000 rows a side, well
inside "stable".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd

EPS = 1e-4
Band = Literal["stable", "moderate", "significant"]
MISSING = "(missing)"


@dataclass(frozen=True)
class Bins:
    """The reference's bins for one feature: numeric cut points, or one bin per level."""

    kind: Literal["numeric", "categorical"]
    edges: tuple[float, ...] = ()  # numeric: right-closed bins (-inf, e1], (e1, e2], ... (eN, inf)


def is_categorical(values: pd.Series) -> bool:
    """Text, boolean-free object or pandas category columns are categorical; numbers are not."""
    return not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def _numeric(values: pd.Series | np.ndarray) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _text(values: pd.Series | np.ndarray) -> pd.Series:
    s = pd.Series(values)
    return s.astype("str").where(s.notna(), MISSING)


def reference_bins(reference: pd.Series | np.ndarray, bins: int, categorical: bool) -> Bins:
    """The bins the reference defines: ``bins`` quantile bins, or one per level."""
    if categorical:
        return Bins("categorical")
    x = _numeric(reference)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return Bins("numeric")
    inner = np.quantile(x, np.arange(1, bins) / bins)
    return Bins("numeric", edges=tuple(float(e) for e in np.unique(inner)))


def bin_shares(values: pd.Series | np.ndarray, spec: Bins) -> dict[str, float]:
    """Share of ``values`` in each bin of ``spec`` (missing included; keys are bin labels)."""
    n = len(values)
    if n == 0:
        return {}
    if spec.kind == "categorical":
        counts = _text(values).value_counts()
        return {str(k): float(v) / n for k, v in counts.items()}
    x = _numeric(values)
    missing = np.isnan(x)
    idx = np.searchsorted(np.asarray(spec.edges, dtype=float), x[~missing], side="left")
    counts = np.bincount(idx, minlength=len(spec.edges) + 1)
    shares = {_label(spec.edges, i): float(c) / n for i, c in enumerate(counts)}
    shares[MISSING] = float(missing.sum()) / n
    return shares


def _label(edges: Sequence[float], i: int) -> str:
    lo = "-inf" if i == 0 else f"{edges[i - 1]:g}"
    hi = "inf" if i == len(edges) else f"{edges[i]:g}"
    return f"({lo}, {hi}]"


def psi_of_shares(reference: dict[str, float], current: dict[str, float]) -> float:
    """PSI of two share dictionaries over the union of their bins (``EPS`` for an empty bin)."""
    keys = set(reference) | set(current)
    r = np.array([max(reference.get(k, 0.0), EPS) for k in keys])
    c = np.array([max(current.get(k, 0.0), EPS) for k in keys])
    return float(np.sum((c - r) * np.log(c / r)))


def psi(
    reference: pd.Series | np.ndarray,
    current: pd.Series | np.ndarray,
    bins: int = 10,
    *,
    categorical: bool | None = None,
) -> float:
    """PSI of ``current`` against ``reference``; categorical by dtype unless told.

    Raises ValueError on an empty side (a PSI of nothing is not 0).
    """
    if len(reference) == 0 or len(current) == 0:
        raise ValueError("psi: the reference and the current sample must both have rows")
    if categorical is None:
        categorical = is_categorical(pd.Series(reference))
    spec = reference_bins(reference, bins, categorical)
    return psi_of_shares(bin_shares(reference, spec), bin_shares(current, spec))


def band(value: float, moderate: float = 0.1, significant: float = 0.25) -> Band:
    """stable (< moderate), moderate (up to significant), significant (> significant)."""
    if value > significant:
        return "significant"
    return "moderate" if value >= moderate else "stable"


@dataclass(frozen=True)
class Drift:
    """One feature's drift in one week."""

    feature: str
    kind: str
    psi: float
    band: Band
    reference_missing: float
    current_missing: float
    reference_rows: int
    current_rows: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _missing_share(values: pd.Series) -> float:
    return float(values.isna().mean()) if len(values) else 0.0


def drift_table(
    reference_frame: pd.DataFrame,
    week_frame: pd.DataFrame,
    features: Sequence[str],
    *,
    bins: int = 10,
    moderate: float = 0.1,
    significant: float = 0.25,
    categorical: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per feature: PSI, band and missing shares, most drifted first.

    ``categorical`` names the categorical features (default: decided by the reference's
    dtype). A feature absent from either frame is an error naming it: silently skipping it
    would report a feature that stopped arriving as "stable".
    """
    for name, frame in (("reference", reference_frame), ("week", week_frame)):
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise ValueError(f"drift_table: the {name} lacks feature column(s) {missing}")
    rows = []
    for feature in features:
        ref, cur = reference_frame[feature], week_frame[feature]
        cat = feature in categorical if categorical is not None else is_categorical(ref)
        value = psi(ref, cur, bins, categorical=cat)
        rows.append(
            Drift(
                feature,
                "categorical" if cat else "numeric",
                value,
                band(value, moderate, significant),
                _missing_share(ref),
                _missing_share(cur),
                len(ref),
                len(cur),
            ).as_dict()
        )
    columns = list(Drift.__dataclass_fields__)
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)
