"""What batch scoring and the service load: the registered model and the snapshot(s).

Both read the same way so that ``churn score``, ``churn call-list`` and the service
score a client identically: the model by registry alias (or version), the snapshot from a features
Parquet file (every as_of in it, the latest by default) or built from raw data as of
the newest event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from churn.config import Config
from churn.errors import InputError, NotFound
from churn.utc import utc_day


@dataclass
class Snapshots:
    """Snapshots by as_of (UTC midnight), each indexed by client_id; ``latest`` is the default."""

    by_as_of: dict[pd.Timestamp, pd.DataFrame]

    @property
    def latest(self) -> pd.Timestamp:
        return max(self.by_as_of)

    def get(self, as_of: date | str | pd.Timestamp | None = None) -> pd.DataFrame:
        """The snapshot of ``as_of`` (latest when None); NotFound names the dates there are."""
        if as_of is None:
            return self.by_as_of[self.latest]
        key = _utc_day(as_of)
        if key not in self.by_as_of:
            have = ", ".join(t.date().isoformat() for t in sorted(self.by_as_of)[-6:])
            raise NotFound(f"as_of: no snapshot for {key.date().isoformat()} (latest: {have})")
        return self.by_as_of[key]


def _utc_day(value: date | str | pd.Timestamp) -> pd.Timestamp:
    try:
        return utc_day(value)
    except (ValueError, TypeError):
        raise InputError(f"as_of: expected a date YYYY-MM-DD, got {value!r}") from None


def index_snapshots(frame: pd.DataFrame, source: str) -> Snapshots:
    """Split a (possibly multi-as_of) snapshot table by as_of, each indexed by client_id."""
    for col in ("client_id", "as_of"):
        if col not in frame.columns:
            raise InputError(f"{source}: missing column {col!r}")
    if frame.empty:
        raise InputError(f"{source}: no rows")
    frame = frame.assign(as_of=pd.to_datetime(frame["as_of"], utc=True))
    out: dict[pd.Timestamp, pd.DataFrame] = {}
    for as_of, part in frame.groupby("as_of", sort=True):
        part = part.drop_duplicates("client_id", keep="last").set_index("client_id", drop=False)
        out[pd.Timestamp(as_of)] = part.rename_axis(None).sort_index()
    return Snapshots(out)


def load_snapshots(
    cfg: Config, *, features_file: Path | None = None, raw: Path | None = None
) -> Snapshots:
    """From ``raw`` (built as of its newest event) or a features file (default from config),
    through the one loader (:func:`features.snapshot_file.load_snapshots`), by as_of."""
    from features.snapshot_file import load_snapshots as load

    loaded = load(cfg, features_file=None if raw is not None else features_file, raw=raw)
    source = f"snapshot built from {raw}" if loaded.built else str(loaded.source)
    return index_snapshots(loaded.frame, source)


def load_model(cfg: Config, alias: str | None = None, *, version: int | str | None = None) -> Any:
    """The registered model (``training.registry.LoadedModel``) by version when given (the
    version that scored a stored week), else by alias (``serving.alias`` by default).

    A version registered in the old pickle format is a ``ModelFormatError`` saying to
    retrain, not a traceback.
    """
    from training.registry import load_by_alias, load_version

    if version is not None:
        return load_version(cfg.registry.model_name, version)
    return load_by_alias(cfg, alias or cfg.serving.alias)
