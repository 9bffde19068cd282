"""The signal spec (``configs/signals.yaml``): every snapshot column, declared once.

Why: a signal's facts (what it aggregates, over which window, what "no rows" means, its
kind, unit, risk direction, reason group and labels) used to be spread over a dozen files
that drifted. Here they are read once, validated against the raw-data contract
(``features/contract.py``) and the registered functions (``features/functions.py``),
and refused at load with a message naming the entry. ``features/compile.py`` builds the
snapshot from it; the catalog, the README, the request schema, the sentences and the page
read it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from churn.errors import InputError
from features.contract import TABLES

Kind = Literal["id", "date", "count", "money", "days", "flag", "share", "index", "category"]
Aggregate = Literal[
    "value",
    "days_since",
    "count",
    "sum",
    "mean",
    "min",
    "max",
    "last",
    "days_since_last",
    "distinct_count",
    "any",
    "share",
    "trend",
]
DType = Literal["int", "float", "str", "ts"]
KIND_DTYPE: dict[str, str] = {
    "id": "int",
    "date": "ts",
    "count": "int",
    "flag": "int",
    "category": "str",
    "money": "float",
    "days": "float",
    "share": "float",
    "index": "float",
}
# aggregates over the clients table (one row per client) vs over event tables
CLIENT_AGGREGATES = frozenset({"value", "days_since"})
NEEDS_COLUMN = frozenset({"value", "days_since", "sum", "mean", "min", "max", "last"})
ZERO_WHEN_ABSENT = frozenset({"count", "distinct_count", "any"})
_UNSET: Any = object()

FilterValue = str | int | float | bool | list[str | int] | dict[str, Any]


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # the signal's short name in Russian (page, sentences)
    ru: str = Field(min_length=1)
    # the same in English
    en: str = Field(min_length=1)


class Signal(BaseModel):
    """One snapshot column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # the snapshot column
    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    # id, date, count, money, days, flag, share, index or category
    kind: Kind
    # int, float, str or ts; default by kind (count/flag/id int, category str)
    dtype: DType | None = None
    # the contract table it is computed from
    table: str | None = None
    # the table's column the aggregate reads
    column: str | None = None
    # {column: value, [values], {in}, {not_in} or {null}} on the table's rows
    filter: dict[str, FilterValue] = {}
    # value, days_since, count, sum, mean, min, max, last, days_since_last, ...
    aggregate: Aggregate | None = None
    # days before as_of, or a name from windows; absent: all history
    window: int | str | None = None
    # trend: the window before `window` whose average it is compared with
    base_window: int | str | None = None
    # share: the rows counted over the rows matching `filter`
    numerator: dict[str, FilterValue] = {}
    # instead of table/aggregate: a registered function (features/functions.py)
    function: str | None = None
    # the function's settings
    params: dict[str, Any] = {}
    # the value for a client with no rows (default 0 for counts, else missing)
    absent: Any = None
    # the unit a value is in
    unit: str | None = None
    # the direction that raises risk: up, down or none
    risk: Literal["up", "down", "none"] = "none"
    # the reason group of a model input (configs/reasons*.yaml groups)
    group: str | None = None
    # the signal's short name for people, ru and en
    label: Label
    # false for ids and outputs that are not model inputs
    model: bool = True
    # what the value means, exactly (the signal catalog)
    definition: str = Field(min_length=1)

    @field_validator("filter", "numerator")
    @classmethod
    def _filter_ops(cls, value: dict[str, Any]) -> dict[str, Any]:
        for col, cond in value.items():
            if isinstance(cond, dict):
                bad = set(cond) - {"in", "not_in", "null"}
                if bad or len(cond) != 1:
                    raise ValueError(
                        f"filter on {col!r}: expected one of in / not_in / null, got {cond}"
                    )
        return value

    @property
    def type(self) -> str:
        """int | float | str | ts: the column's dtype in the snapshot."""
        return self.dtype or KIND_DTYPE[self.kind]

    @property
    def categorical(self) -> bool:
        return self.kind == "category"


class SignalSpec(BaseModel):
    """The whole file: named windows, the warm-up window, the signals in column order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # named windows in days (week: 7, month: 30, ...)
    windows: dict[str, int] = {}
    # churn features --every month starts where this window is covered
    warmup: int | str
    # every column of the snapshot, in order
    signals: tuple[Signal, ...]
    source: str = ""  # the file it was read from (messages)

    def days(self, window: int | str | None) -> int | None:
        """A window in days (a name from ``windows`` or a number); None = all history."""
        if window is None or isinstance(window, int):
            return window
        return self.windows[window]

    @property
    def warmup_days(self) -> int:
        return int(self.days(self.warmup) or 0)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.signals]

    def by_name(self) -> dict[str, Signal]:
        return {s.name: s for s in self.signals}

    def absent_value(self, s: Signal) -> Any:
        """What a client with no rows gets (None: missing)."""
        if "absent" in s.model_fields_set:
            return s.absent
        return 0 if s.aggregate in ZERO_WHEN_ABSENT else None


# ---------------------------------------------------------------- validation


def _check_entry(spec_windows: dict[str, int], s: Signal) -> None:
    """Everything one entry names must exist; raises ValueError with the reason."""
    from features.functions import FUNCTIONS

    def window_ok(w: int | str | None, what: str) -> None:
        if isinstance(w, str) and w not in spec_windows:
            known = ", ".join(spec_windows) or "none"
            raise ValueError(f"{what}: unknown window {w!r} (windows: {known})")
        if isinstance(w, int) and w <= 0:
            raise ValueError(f"{what}: a window is a positive number of days, got {w}")

    window_ok(s.window, "window")
    window_ok(s.base_window, "base_window")
    if s.function is not None:
        fn = FUNCTIONS.get(s.function)
        if fn is None:
            raise ValueError(f"function: unknown function {s.function!r} ({', '.join(FUNCTIONS)})")
        if s.name not in fn.outputs:
            raise ValueError(
                f"function {s.function!r} does not compute {s.name!r} "
                f"(it computes {', '.join(fn.outputs)})"
            )
        if s.table or s.aggregate:
            raise ValueError("a function entry names no table or aggregate")
        return
    if s.table is None or s.aggregate is None:
        raise ValueError("needs a table and an aggregate, or a function")
    table = TABLES.get(s.table)
    if table is None:
        raise ValueError(f"table: unknown table {s.table!r} ({', '.join(TABLES)})")
    cols = table.column_names
    for what, col in (
        ("column", s.column),
        *(("filter", c) for c in s.filter),
        *(("numerator", c) for c in s.numerator),
    ):
        if col is not None and col not in cols:
            raise ValueError(f"{what}: table {s.table} has no column {col!r}")
    if s.aggregate in NEEDS_COLUMN | {"distinct_count"} and s.column is None:
        raise ValueError(f"aggregate {s.aggregate}: needs a column")
    if (s.aggregate in CLIENT_AGGREGATES) != (not table.is_event):
        raise ValueError(
            f"aggregate {s.aggregate} does not apply to table {s.table} "
            "(value / days_since: the clients table; the others: event tables)"
        )
    if s.aggregate == "trend" and (s.window is None or s.base_window is None):
        raise ValueError("aggregate trend: needs window and base_window")
    if s.aggregate == "share" and not s.numerator:
        raise ValueError("aggregate share: needs a numerator filter")
    if s.model and s.kind not in ("id", "date") and s.group is None:
        raise ValueError("a model input needs a reason group")


def parse_spec(data: Any, source: str) -> SignalSpec:
    """Validate the file's contents; every refusal names the entry (``InputError``)."""
    if not isinstance(data, dict) or not isinstance(data.get("signals"), list):
        raise InputError(f"{source}: expected a mapping with a `signals` list")
    windows = data.get("windows") or {}
    if not isinstance(windows, dict) or not all(
        isinstance(v, int) and v > 0 for v in windows.values()
    ):
        raise InputError(f"{source}: windows: each is a positive number of days")
    signals: list[Signal] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["signals"]):
        name = raw.get("name") if isinstance(raw, dict) else None
        where = f"{source}: signals[{i}]" + (f" ({name})" if name else "")
        try:
            s = Signal.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            got = f" (got {first['input']!r})" if first["type"] != "missing" else ""
            raise InputError(f"{where}: {loc}: {first['msg']}{got}") from None
        if s.name in seen:
            raise InputError(f"{where}: duplicate signal name {s.name!r}")
        seen.add(s.name)
        try:
            _check_entry(windows, s)
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
        signals.append(s)
    try:
        spec = SignalSpec(
            windows=windows,
            warmup=data.get("warmup", 0),
            signals=tuple(signals),
            source=source,
        )
    except ValidationError as exc:
        raise InputError(f"{source}: {exc.errors()[0]['msg']}") from None
    if isinstance(spec.warmup, str) and spec.warmup not in windows:
        raise InputError(f"{source}: warmup: unknown window {spec.warmup!r}")
    for key in ("client_id", "as_of"):
        if key not in seen:
            raise InputError(f"{source}: the key column {key!r} must be declared")
    _check_functions(spec)
    return spec


def _check_functions(spec: SignalSpec) -> None:
    """A function's inputs must be declared; its entries' params must not conflict."""
    from features.functions import FUNCTIONS

    names = set(spec.names)
    used: dict[str, dict[str, Any]] = {}
    for s in spec.signals:
        if s.function is None:
            continue
        fn = FUNCTIONS[s.function]
        absent = [c for c in fn.needs if c not in names]
        if absent:
            raise InputError(
                f"{spec.source}: {s.name}: function {s.function!r} needs the signal(s) "
                f"{', '.join(absent)}, which the spec does not declare"
            )
        merged = used.setdefault(s.function, {})
        for k, v in s.params.items():
            if k in merged and merged[k] != v:
                raise InputError(
                    f"{spec.source}: {s.name}: params.{k} conflicts with another entry"
                )
            merged[k] = v
    for name, merged in used.items():
        lacking = [k for k in FUNCTIONS[name].params if k not in merged]
        if lacking:
            raise InputError(
                f"{spec.source}: function {name!r} needs params {', '.join(lacking)} "
                "on one of its entries"
            )


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> SignalSpec:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{p}: not valid YAML: {exc}") from exc
    return parse_spec(data, str(p))


def load_spec(path: Path | str) -> SignalSpec:
    """The validated spec in ``path`` (cached while the file is unchanged)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"signal spec not found: {p}")
    return _load(str(p.resolve()), p.stat().st_mtime_ns)


def function_params(spec: SignalSpec, function: str) -> dict[str, Any]:
    """The params of every entry naming ``function``, merged (checked not to conflict)."""
    out: dict[str, Any] = {}
    for s in spec.signals:
        if s.function == function:
            out.update(s.params)
    return out
