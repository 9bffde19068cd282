"""The snapshot contract, read from the signal spec: every column the feature layer writes.

This is the interface between ``features/`` (which must produce exactly these columns,
in this order) and ``training/`` / ``serving/`` (which read them). It is not written here:
it is the spec (``configs/signals.yaml``, :mod:`features.spec`) that the config names
(``features.signals`` of the config in ``CHURN_CONFIG`` -- the service's, or the CLI's
``--config`` -- or of ``default.yaml`` in ``CHURN_CONFIG_DIR`` / ``configs/``; generated
from ``features.source`` for a subscription + activity source), so the
snapshot, the model's inputs, ``features/README.md``, the request schema and the page
cannot disagree. :func:`catalog` gives the same for any spec.

All windows are "the N days strictly before as_of": ts in [as_of - N days, as_of).
"Days since" values are whole UTC calendar days from the event's date to as_of.
Counts of events are 0 when there were none (zero is the truth); values that cannot be
known (days since a thing that never happened, a ratio over nothing) are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

from churn.config import Config, load_config
from churn.environment import environment
from features.spec import Signal, SignalSpec, load_spec


@dataclass(frozen=True)
class Feature:
    name: str
    dtype: str  # "int" | "float" | "str" | "ts"
    definition: str
    model: bool = True  # used as a model input
    categorical: bool = False
    kind: str = ""
    unit: str | None = None
    risk: str = "none"
    group: str | None = None
    label_ru: str = ""
    label_en: str = ""

    @classmethod
    def of(cls, s: Signal) -> Feature:
        return cls(
            name=s.name,
            dtype=s.type,
            definition=s.definition,
            model=s.model and s.kind not in ("id", "date"),
            categorical=s.categorical and s.model,  # a model input read as categories
            kind=s.kind,
            unit=s.unit,
            risk=s.risk,
            group=s.group,
            label_ru=s.label.ru,
            label_en=s.label.en,
        )


KEYS = ("client_id", "as_of")


def catalog(spec: SignalSpec) -> tuple[Feature, ...]:
    """The columns of the snapshots ``spec`` builds, in order."""
    return tuple(Feature.of(s) for s in spec.signals)


def spec_of(cfg: Config) -> SignalSpec:
    """The signal spec the config's loop runs on: generated from the source spec when
    ``features.source`` names one (:mod:`features.generic.catalog`), else the centre's
    ``features.signals``."""
    if cfg.features.source is not None:
        from features.generic.catalog import signal_spec
        from features.generic.spec import load_spec as load_source

        return signal_spec(load_source(cfg.features.source), str(cfg.features.source))
    return load_spec(cfg.features.signals)


SPEC: SignalSpec = spec_of(load_config(environment().config))
CATALOG: tuple[Feature, ...] = catalog(SPEC)
COLUMNS: list[str] = [f.name for f in CATALOG]
MODEL_FEATURES: list[str] = [f.name for f in CATALOG if f.model]
CATEGORICAL_FEATURES: list[str] = [f.name for f in CATALOG if f.model and f.categorical]
BY_NAME: dict[str, Feature] = {f.name: f for f in CATALOG}
