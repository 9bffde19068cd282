"""The signal spec compiled to Ibis: the per-date plans and the shared history.

Why: one spec (``configs/signals.yaml``, :mod:`features.spec`) says what each column is;
this module says how an engine computes it, for DuckDB and Spark alike (only portable
Ibis: filters with literal time bounds, conditional counts, equi-joins, ``MAX() OVER``).

* clients-table entries (``value``, ``days_since``) are columns of the active clients;
* windowed event aggregates are grouped per table: one scan of the longest window
  (``ts`` in ``[as_of - N, as_of)``, and only the rows some entry's filter keeps), one
  ``GROUP BY client_id`` with one conditional aggregate per entry. A distinct count gets
  its own narrower scan (next to plain counts it made DuckDB fan the stream out twice);
* last-ever values (``days_since_last`` / ``last`` with no window) come from the history:
  each event goes to its *bucket*, the first as_of strictly after it, is aggregated once
  per (client, bucket), and a running maximum over the buckets in as_of order gives, for
  every as_of, the newest event before it: one pass serves all dates;
* registered functions (:mod:`features.functions`) add their own per-date tables,
  history buckets and derived columns; the rule indicator runs last.

What "no rows" means is each entry's ``absent`` value, filled after the joins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from churn.config import RulesConfig
from features.functions import FUNCTIONS, ratio
from features.spec import Signal, SignalSpec, function_params
from features.windows import AS_OF_TYPE, AsOf, at, days_since, known, within

Tables = dict[str, ir.Table]
HISTORY_AGGREGATES = ("days_since_last", "last")


# ---------------------------------------------------------------- filters


def row_filter(t: ir.Table, conditions: dict[str, Any]) -> ir.BooleanValue | None:
    """The spec's ``filter`` as an Ibis predicate (None: keep every row)."""
    preds = []
    for col, cond in conditions.items():
        c = t[col]
        if isinstance(cond, dict):
            op, arg = next(iter(cond.items()))
            if op == "in":
                preds.append(c.isin(list(arg)))
            elif op == "not_in":  # a missing value is not in the list
                preds.append(c.isnull() | ~c.isin(list(arg)))
            else:
                preds.append(c.isnull() if arg else c.notnull())
        elif isinstance(cond, list):
            preds.append(c.isin(cond))
        else:
            preds.append(c == cond)
    if not preds:
        return None
    out = preds[0]
    for p in preds[1:]:
        out = out & p
    return out


def _and(*conds: ir.BooleanValue | None) -> ir.BooleanValue | None:
    present = [c for c in conds if c is not None]
    if not present:
        return None
    out = present[0]
    for c in present[1:]:
        out = out & c
    return out


def _or(conds: list[ir.BooleanValue | None]) -> ir.BooleanValue | None:
    if any(c is None for c in conds):
        return None  # some entry keeps every row
    out = conds[0]
    for c in conds[1:]:
        out = out | c
    return out


# ---------------------------------------------------------------- hidden column names


def _h(s: Signal, part: str) -> str:
    return f"_{s.name}__{part}"


def is_history(s: Signal) -> bool:
    return s.aggregate in HISTORY_AGGREGATES and s.window is None


def _history_key(s: Signal) -> str:
    """Entries over the same table and filter share one history bucket column."""
    return f"{s.table}|{sorted(s.filter.items())!r}"


def history_columns(spec: SignalSpec) -> dict[str, str]:
    """history key -> the bucket column holding the newest ``ts`` before as_of."""
    out: dict[str, str] = {}
    for s in spec.signals:
        if s.table and is_history(s):
            out.setdefault(_history_key(s), f"_last_ts_{len(out)}")
    return out


# ---------------------------------------------------------------- clients


def client_columns(spec: SignalSpec, active: ir.Table, as_of: AsOf) -> ir.Table:
    """The clients-table entries of the active clients (values, days since a date)."""
    cols: dict[str, ir.Value] = {}
    for s in spec.signals:
        if s.table == "clients" and s.aggregate in ("value", "days_since"):
            c = active[s.column]
            cols[s.name] = c if s.aggregate == "value" else days_since(as_of, c)
    if "client_id" not in cols:
        cols = {"client_id": active.client_id, **cols}
    return active.select(**cols)


# ---------------------------------------------------------------- per-date event aggregates


def _aggregates(s: Signal, j: ir.Table, spec: SignalSpec, as_of: AsOf) -> dict[str, ir.Value]:
    days = spec.days(s.window)
    in_window = within(j.ts, as_of, days) if days is not None else None
    cond = _and(in_window, row_filter(j, s.filter))
    agg = s.aggregate
    if agg == "count":
        return {s.name: j.count(where=cond) if cond is not None else j.count()}
    if agg == "any":
        n = j.count(where=cond) if cond is not None else j.count()
        return {s.name: (n > 0).cast("int64")}
    if agg in ("sum", "mean", "min", "max"):
        return {s.name: getattr(j[s.column], agg)(where=cond)}
    if agg == "days_since_last":
        return {_h(s, "ts"): j.ts.max(where=cond)}
    if agg == "last":
        return {s.name: j[s.column].argmax(j.ts, where=cond)}
    if agg == "share":
        den = cond
        num = _and(in_window, row_filter(j, s.numerator))
        return {
            _h(s, "num"): j.count(where=num) if num is not None else j.count(),
            _h(s, "den"): j.count(where=den) if den is not None else j.count(),
        }
    if agg == "trend":
        recent, base = spec.days(s.window), spec.days(s.base_window)
        f = row_filter(j, s.filter)
        in_recent = within(j.ts, as_of, recent)
        in_base = within(j.ts, as_of, recent + base) & ~in_recent
        return {
            _h(s, "recent"): j.count(where=_and(in_recent, f)),
            _h(s, "base"): j.count(where=_and(in_base, f)),
        }
    raise ValueError(f"{s.name}: aggregate {agg} is not a per-date event aggregate")


def _lookback(s: Signal, spec: SignalSpec) -> int | None:
    if s.aggregate == "trend":
        return int(spec.days(s.window) or 0) + int(spec.days(s.base_window) or 0)
    return spec.days(s.window)


def _scan_filter(s: Signal, t: ir.Table) -> ir.BooleanValue | None:
    if s.aggregate == "share":
        return _or([row_filter(t, s.filter), row_filter(t, s.numerator)])
    return row_filter(t, s.filter)


def event_signals(spec: SignalSpec, tables: Tables, as_of: AsOf) -> list[ir.Table]:
    """One aggregate per event table (its entries share the scan), a distinct count alone."""
    groups: dict[tuple[str, str], list[Signal]] = {}
    for s in spec.signals:
        if s.table is None or s.aggregate in ("value", "days_since") or is_history(s):
            continue
        key = (s.table, s.name if s.aggregate == "distinct_count" else "")
        groups.setdefault(key, []).append(s)
    out = []
    for (table, alone), entries in groups.items():
        t = tables[table]
        windows = [_lookback(s, spec) for s in entries]
        lookback = None if any(w is None for w in windows) else max(windows)  # type: ignore[type-var]
        j = known(t, as_of, lookback)
        keep = _or([_scan_filter(s, j) for s in entries])
        if keep is not None:
            j = j.filter(keep)
        if alone:  # distinct values per client: a narrower scan of its own
            (s,) = entries
            j = j.filter(j[s.column].notnull())
            pairs = j.select("client_id", s.column).distinct()
            out.append(pairs.group_by("client_id").aggregate(**{s.name: pairs.count()}))
            continue
        aggs: dict[str, ir.Value] = {}
        for s in entries:
            aggs.update(_aggregates(s, j, spec, as_of))
        out.append(j.group_by("client_id").aggregate(**aggs))
    return out


def function_signals(spec: SignalSpec, tables: Tables, as_of: AsOf) -> list[ir.Table]:
    out = []
    for name in _functions(spec):
        fn = FUNCTIONS[name]
        if fn.per_date is not None:
            out.append(fn.per_date(tables, as_of, function_params(spec, name)))
    return out


def _functions(spec: SignalSpec) -> list[str]:
    """The registered functions the spec names, in first-use order."""
    seen: dict[str, None] = {}
    for s in spec.signals:
        if s.function is not None:
            seen.setdefault(s.function)
    return list(seen)


# ---------------------------------------------------------------- history (all dates at once)


def bucket_of(ts: ir.TimestampValue, dates: Sequence[date]) -> ir.TimestampValue:
    """The first as_of strictly after ``ts``; missing after the last one (dates sorted)."""
    return ibis.cases(*((ts < at(d), at(d)) for d in dates), else_=ibis.null(AS_OF_TYPE))


def per_bucket(
    events: ir.Table,
    ts: ir.TimestampValue,
    dates: Sequence[date],
    aggregate: Callable[[ir.Table], dict[str, ir.Value]],
) -> ir.Table:
    """(client_id, as_of) -> ``aggregate`` of the events whose bucket is that as_of."""
    if len(dates) == 1:  # one bucket (the weekly snapshot): group by client alone, cheaper
        b = events.filter(ts < at(dates[0]))
        return b.group_by("client_id").aggregate(**aggregate(b)).mutate(as_of=at(dates[0]))
    b = events.mutate(as_of=bucket_of(ts, dates))
    b = b.filter(b.as_of.notnull())
    return b.group_by(["client_id", "as_of"]).aggregate(**aggregate(b))


def history_expr(spec: SignalSpec, tables: Tables, as_of_dates: Sequence[date]) -> ir.Table:
    """(client_id, as_of) -> the newest event per history entry before as_of, plus the
    functions' history values; one row per client of ``clients`` and date."""
    dates = sorted(set(as_of_dates))
    cols = history_columns(spec)
    by_key = {_history_key(s): s for s in spec.signals if s.table and is_history(s)}
    buckets: list[ir.Table] = []
    for key, col in cols.items():
        s = by_key[key]
        t = tables[s.table]
        f = row_filter(t, s.filter)
        events = t.filter(f) if f is not None else t
        buckets.append(per_bucket(events, events.ts, dates, lambda b, c=col: {c: b.ts.max()}))
    statics: list[ir.Table] = []
    for name in _functions(spec):
        fn = FUNCTIONS[name]
        if fn.history is not None:
            buckets.extend(fn.history(tables, dates))
        if fn.history_static is not None:
            statics.append(fn.history_static(tables))
    ids = tables["clients"].select("client_id")
    grid = ibis.union(*(ids.mutate(as_of=at(d)) for d in dates), distinct=False)
    joined = grid
    for i, b in enumerate(buckets):
        joined = joined.left_join(b, ["client_id", "as_of"], rname=f"{{name}}_{i}")
    flat = joined.drop(*(f"{k}_{i}" for i in range(len(buckets)) for k in ("client_id", "as_of")))
    w = ibis.window(group_by="client_id", order_by="as_of", preceding=None, following=0)
    running = flat.select(
        "client_id",
        "as_of",
        **{c: flat[c].max().over(w) for c in flat.columns if c.startswith("_")},
    )
    return _with_last_values(spec, tables, running, cols, statics)


def _with_last_values(
    spec: SignalSpec,
    tables: Tables,
    running: ir.Table,
    cols: dict[str, str],
    statics: list[ir.Table],
) -> ir.Table:
    """``last`` entries: the value of the newest row, joined back on its time.

    Only the rows that are some (client, as_of)'s newest are grouped (a semi-join first):
    grouping every row by (client, instant) cost more than the rest of the history at 1M
    clients. Rows at the same instant: the largest value.
    """
    j = running
    picked: list[ir.Value] = []
    for s in spec.signals:
        if not (s.table and is_history(s) and s.aggregate == "last"):
            continue
        col = cols[_history_key(s)]
        t = tables[s.table]
        f = row_filter(t, s.filter)
        events = t.filter(f) if f is not None else t
        newest = running.select("client_id", ts=running[col]).distinct()
        rows = events.semi_join(
            newest, [events.client_id == newest.client_id, events.ts == newest.ts]
        )
        status = rows.group_by(["client_id", "ts"]).aggregate(**{s.name: rows[s.column].max()})
        j = j.left_join(status, [running.client_id == status.client_id, running[col] == status.ts])
        picked.append(status[s.name])
    for st in statics:
        j = j.left_join(st, running.client_id == st.client_id)
        picked.extend(st[c] for c in st.columns if c != "client_id")
    return j.select(
        running.client_id,
        running.as_of,
        *(running[c] for c in running.columns if c.startswith("_")),
        *picked,
    )


# ---------------------------------------------------------------- fill, derive, rules


def fill_absent(spec: SignalSpec, t: ir.Table) -> ir.Table:
    """Each column present gets its entry's ``absent`` value where it is missing; hidden
    counts (trend and share parts, functions' helpers) get theirs."""
    fills: dict[str, ir.Value] = {}
    for s in spec.signals:
        value = spec.absent_value(s)
        if s.name in t.columns and value is not None and s.table != "clients":
            fills[s.name] = t[s.name].fill_null(value)
        if s.aggregate in ("trend", "share"):
            for part in ("recent", "base") if s.aggregate == "trend" else ("num", "den"):
                fills[_h(s, part)] = t[_h(s, part)].fill_null(0)
    for name in _functions(spec):
        for col, value in FUNCTIONS[name].fills.items():
            if col in t.columns:
                fills[col] = t[col].fill_null(value)
    return t.mutate(**fills) if fills else t


def derive(spec: SignalSpec, t: ir.Table, as_of: AsOf) -> ir.Table:
    """The columns that combine parts: trends, shares, days since, functions' columns."""
    cols: dict[str, ir.Value] = {}
    hist = history_columns(spec)
    for s in spec.signals:
        if s.aggregate == "trend":
            per_recent = spec.days(s.base_window) / spec.days(s.window)  # type: ignore[operator]
            cols[s.name] = ratio(t[_h(s, "recent")], t[_h(s, "base")] / per_recent)
        elif s.aggregate == "share":
            cols[s.name] = ratio(t[_h(s, "num")], t[_h(s, "den")])
        elif s.aggregate == "days_since_last":
            ts = t[hist[_history_key(s)]] if is_history(s) else t[_h(s, "ts")]
            cols[s.name] = days_since(as_of, ts).cast("float64")
    for name in _functions(spec):
        fn = FUNCTIONS[name]
        if fn.stage == "derive" and fn.derive is not None:
            cols.update(fn.derive(t, as_of, function_params(spec, name)))
    t = t.mutate(**cols) if cols else t
    late = {
        s.name: t[s.name].fill_null(spec.absent_value(s))
        for s in spec.signals
        if s.name in cols and spec.absent_value(s) is not None
    }
    return t.mutate(**late) if late else t


def add_rules(spec: SignalSpec, t: ir.Table, rules: RulesConfig) -> ir.Table:
    from features.rules import add_rule_columns

    if any(FUNCTIONS[n].stage == "rules" for n in _functions(spec)):
        return add_rule_columns(t, rules)
    return t
