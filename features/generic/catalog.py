"""The generic source's signals as a signal spec (:class:`features.spec.SignalSpec`).

Why: the loop after the snapshot (the catalog, the model's inputs, ``/catalog``, the
request schema, the sentences, the page, monitoring) reads one ``SignalSpec``. For the
centre's contract it is ``configs/signals.yaml``; for a subscription + activity source it
is generated here from the source spec, so the same code serves both. The columns are the
ones :func:`features.generic.signals.signal_list` generates, in snapshot order, and they
are known without reading data: the spec must list its activity types
(``activity_types``; labels per type are overridable under ``labels``).

Kinds map onto the spec's (a trend reads as an ``index``); reason groups are by kind:
activity -> ``low_engagement``, renewal -> ``timing``, the rest (tenure, amount, plan)
-> ``profile`` (groups and actions live in ``configs/reasons*.yaml``).
"""

from __future__ import annotations

from churn.errors import InputError
from features.generic.signals import Signal as GenericSignal
from features.generic.signals import signal_list
from features.generic.spec import SourceSpec
from features.spec import Label, Signal, SignalSpec

_KIND = {"trend": "index"}  # generic kind -> spec kind where they differ
_GROUP = {"days_to_renewal": "timing"}
_UNIT = {"days": "days", "share": "share"}


def _risk(direction: str) -> str:
    return direction if direction in ("up", "down") else "none"


def _group(s: GenericSignal) -> str:
    if s.name in _GROUP:
        return _GROUP[s.name]
    if s.activity_type is not None or s.name == "active_user_share":
        return "low_engagement"
    return "profile"


def _signal(s: GenericSignal) -> Signal:
    kind = _KIND.get(s.kind, s.kind)
    return Signal(
        name=s.name,
        kind=kind,
        dtype="str" if kind == "category" else "float",
        unit=_UNIT.get(s.kind),
        risk=_risk(s.direction),
        group=_group(s),
        label=Label(ru=s.label_ru, en=s.label_en),
        model=s.model,
        definition=s.definition or s.label_en,
    )


KEYS = (
    Signal(
        name="client_id",
        kind="id",
        model=False,
        label=Label(ru="Клиент", en="Client"),
        definition="customer id (the source's customer column)",
    ),
    Signal(
        name="as_of",
        kind="date",
        model=False,
        label=Label(ru="Дата среза", en="Snapshot date"),
        definition="snapshot date (UTC midnight); only data strictly before it is used",
    ),
)
NAME = Signal(
    name="name",
    kind="id",
    dtype="str",
    model=False,
    label=Label(ru="Название клиента", en="Client name"),
    definition="the customer's display name (customers table); never a model input",
)


def generated_signals(source: SourceSpec) -> list[GenericSignal]:
    """The generated columns after the keys, known from the spec alone."""
    types = source.declared_types()
    if types is None:
        raise InputError(
            "source spec: activity_types is not set; the loop needs the activity types "
            "declared (e.g. activity_types: [login, export, support_ticket])"
        )
    return signal_list(source, types, source.has_users)


def signal_spec(source: SourceSpec, origin: str = "") -> SignalSpec:
    """The :class:`SignalSpec` of the snapshots ``source`` builds (columns in order)."""
    name = [NAME] if source.customers is not None and source.customers.name else []
    signals = (KEYS[0], *name, KEYS[1], *(_signal(s) for s in generated_signals(source)))
    longest = max(*source.windows_days, source.trend_days[1])
    return SignalSpec(
        windows={f"{w}d": w for w in source.windows_days},
        warmup=longest,
        signals=signals,
        source=origin,
    )
