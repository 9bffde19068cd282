"""The source spec: where a subscription + activity export keeps each canonical column.

A YAML file (e.g. ``configs/sources/generic_demo.yaml``) names, for the subscriptions table,
each activity log and the optional customers table, the file (CSV, Excel or Parquet, by
extension) and the source column behind each canonical column
(:mod:`features.generic.contract`); plus how churn is defined (``gap_days``, horizon, grid)
and the windows the activity signals use. Loading validates it: an unknown key, a missing
column name or a bad window fails with the entry named, before any data is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from churn.errors import InputError


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubscriptionsSource(_Spec):
    """The subscriptions file and its columns (source names)."""

    file: str
    key: str
    customer: str
    start: str
    end: str
    amount: str
    period: str | None = None  # billing period in months; missing: default_period_months
    default_period_months: int = Field(1, ge=1)


class ActivitySource(_Spec):
    """One activity log: a type column, or one fixed type for a file of a single kind."""

    file: str
    customer: str
    time: str
    type: str | None = None
    type_constant: str | None = None
    value: str | None = None
    user: str | None = None

    @model_validator(mode="after")
    def _one_type(self) -> ActivitySource:
        if (self.type is None) == (self.type_constant is None):
            raise ValueError("give exactly one of `type` (a column) and `type_constant`")
        return self


class CustomersSource(_Spec):
    """Optional customers file: key, display name, and attributes (model inputs)."""

    file: str
    key: str
    name: str | None = None
    attributes: dict[str, Literal["category", "number"]] = Field(default_factory=dict)


class ChurnDefinition(_Spec):
    """Churn the way subscription businesses define it (see features/generic/periods.py)."""

    gap_days: int = Field(7, ge=0)
    horizon_days: int = Field(90, gt=0)
    grid: Literal["week", "month"] = "month"


class Label(_Spec):
    ru: str = Field(min_length=1)
    en: str = Field(min_length=1)


class SourceSpec(_Spec):
    """A subscription + activity source, as declared in its YAML file."""

    kind: Literal["subscriptions"] = "subscriptions"
    subscriptions: SubscriptionsSource
    activities: tuple[ActivitySource, ...] = Field(min_length=1)
    customers: CustomersSource | None = None
    churn: ChurnDefinition = ChurnDefinition()
    windows_days: tuple[int, ...] = (30, 90)
    trend_days: tuple[int, int] = (30, 90)
    recent_user_days: int = Field(30, gt=0)
    # the activity types signals are built for, known without reading data (the loop's
    # catalog, request schema and page need them up front); types found in the data but not
    # listed are reported and ignored. None: every type found in the data (library use only)
    activity_types: tuple[str, ...] | None = None
    # the listed types whose `value` is summed (value signals); None: every listed type a
    # source with a `value` column can write
    value_types: tuple[str, ...] | None = None
    # dates that are not ISO (2024-01-31): true = 03.01.2024 is 3 January; unset = a value
    # that reads as two different dates is refused, naming the file, column and row
    day_first: bool | None = None
    labels: dict[str, Label] = Field(default_factory=dict)  # per activity type (overrides)

    @field_validator("windows_days")
    @classmethod
    def _windows(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(w <= 0 for w in v) or len(set(v)) != len(v):
            raise ValueError(f"windows_days must be distinct positive day counts, got {list(v)}")
        return tuple(sorted(v))

    @field_validator("trend_days")
    @classmethod
    def _trend(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 0 < v[0] < v[1]:
            raise ValueError(
                f"trend_days must be (short, long) with 0 < short < long, got {list(v)}"
            )
        return v

    @model_validator(mode="after")
    def _declared(self) -> SourceSpec:
        types = self.activity_types
        if types is not None:
            if not types or len(set(types)) != len(types):
                raise ValueError(f"activity_types: distinct names needed, got {list(types)}")
            fixed = {a.type_constant for a in self.activities if a.type_constant is not None}
            if fixed - set(types):
                raise ValueError(
                    f"activity_types: lacks {sorted(fixed - set(types))} (a type_constant)"
                )
        if self.value_types is not None:
            if types is None:
                raise ValueError("value_types: needs activity_types")
            if set(self.value_types) - set(types):
                raise ValueError(
                    f"value_types: {sorted(set(self.value_types) - set(types))} "
                    "not in activity_types"
                )
        return self

    def declared_types(self) -> list[tuple[str, bool]] | None:
        """(type, carries values) of the declared activity types, in the spec's order; None
        when the spec lists none (then the data decides: :func:`features.generic.signals.
        activity_types`)."""
        if self.activity_types is None:
            return None
        out = []
        for t in self.activity_types:
            writers = [
                a for a in self.activities if a.type_constant in (None, t)
            ]  # the sources that can write type t
            valued = any(a.value is not None for a in writers)
            if self.value_types is not None:
                valued = valued and t in self.value_types
            out.append((t, valued))
        return out

    @property
    def has_users(self) -> bool:
        """Some activity source declares a user column."""
        return any(a.user is not None for a in self.activities)

    def with_(self, **changes: object) -> SourceSpec:
        """A copy with ``changes`` (the spec itself is frozen), validated again."""
        return SourceSpec.model_validate({**self.model_dump(), **changes})


def load_spec(path: Path) -> SourceSpec:
    """Read and validate a source spec, or raise :class:`InputError` naming the entry."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"source spec not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    try:
        return SourceSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"{path}: {where}: {first['msg']}") from exc
