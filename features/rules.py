"""The documented rule indicator: what the specialists compute by hand today.

Two sources, both in ``configs/rules.yaml`` (weights and bands are never hard-coded here):

* seed 004, "Показатель необходимости контакта" (contact-necessity index): additive,
  ``base`` plus one weight per condition that holds (renewal period arrived, overdue
  debt, no kit updates, neither hotline nor personal cabinet used, training norm not
  met, and two conditions the seed cannot identify — unreturned acts, "systems use" —
  whose weights default to 0);
* seed 002, "Фиксация отклонений": the bands (x >= 0.34 high, 0.30 <= x < 0.34 dynamic,
  below 0.30 no threat) and three sub-indicators, each expressed as a band *value*
  (``bands.high`` / ``bands.dynamic`` / ``bands.no_threat``):

  - training: high when nobody is trained per the category norm, or the last training is
    more than ``training_max_age_days`` (2 years) old or never happened; otherwise no
    threat. The seed defines no "dynamic" level for training, so there is none.
  - webinars in the last 6 months: none -> high, exactly one -> dynamic, more -> no threat.
  - personal-cabinet (ЛК) requests in the last 3 months: same scale.

The definitions exist once, as Ibis expressions (:func:`contact_index_expr`,
:func:`band_expr`, :func:`add_rule_columns`): the feature layer runs them in its engine
(DuckDB or Spark), and a pandas table of flags or snapshot rows (a CSV for
``churn rules --flags``, posted client rows, one client's explanation) runs the very same
expressions on an in-process DuckDB (:func:`on_frame`). Only :func:`band` of one number
is a scalar twin, for formatting a single value; a test checks it against
:func:`band_expr`. Sums are rounded to :data:`DECIMALS` before banding so
0.20 + 0.10 + 0.05 bands as 0.35.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from churn.config import Config, ContactIndexWeights, RuleBands, RulesConfig
from churn.errors import InputError

if TYPE_CHECKING:
    from features.spec import SignalSpec

HIGH, DYNAMIC, NO_THREAT = "high", "dynamic", "no_threat"
DECIMALS = 6  # float sums are rounded to this many decimals before comparing with bands

# The conditions of the contact index, named as the fields of ContactIndexWeights.
FLAGS: tuple[str, ...] = (
    "renewal_period_arrived",
    "has_overdue_debt",
    "no_kit_updates",
    "neither_hotline_nor_lk",
    "training_norm_not_met",
    "has_unreturned_acts",
    "systems_use",
)
RULE_COLUMNS: tuple[str, ...] = (
    "contact_index",
    "rule_band",
    "training_indicator",
    "webinar_indicator",
    "cabinet_indicator",
)
# Snapshot columns (features/catalog.py) the rule columns are computed from.
SNAPSHOT_INPUTS: tuple[str, ...] = (
    "renewal_period_arrived",
    "overdue_debt_rub",
    "kit_updates_90d",
    "hotline_requests_60d",
    "cabinet_requests_90d",
    "training_norm_met",
    "days_since_training",
    "webinars_180d",
)
# Acceptance-CSV columns (seed 004 table): name -> (weight flag, True when the flag is "yes").
# kit_updates / hotline_or_lk_used / training_norm_met say something *good* happened, so
# the weight applies to their negation.
CSV_FLAGS: dict[str, tuple[str, bool]] = {
    "renewal_period_arrived": ("renewal_period_arrived", True),
    "has_overdue_debt": ("has_overdue_debt", True),
    "has_unreturned_acts": ("has_unreturned_acts", True),
    "systems_use": ("systems_use", True),
    "kit_updates": ("no_kit_updates", False),
    "hotline_or_lk_used": ("neither_hotline_nor_lk", False),
    "training_norm_met": ("training_norm_not_met", False),
}
YES = frozenset({"yes", "да", "true", "1"})
NO = frozenset({"no", "нет", "false", "0"})
EXPECTED_SUFFIX = "_expected"  # an input contact_index is kept as contact_index_expected


# ---------------------------------------------------------------- where it exists


def available(spec: SignalSpec | None = None) -> bool:
    """Whether snapshots of ``spec`` carry the rule indicator (default: the configured spec).

    The rule is this centre's: its inputs are the centre's CRM tables. A source without
    them (a subscription + activity log, ``features/generic/``) declares no
    ``rule_indicator`` entries, and every consumer (training's comparison and gate, the
    weekly run, the store, the API, the page, the monitor) asks here instead of finding
    empty columns. All of :data:`RULE_COLUMNS` must be declared: the explanation shows the
    sub-indicators beside the index.
    """
    if spec is None:
        from features.catalog import SPEC

        spec = SPEC
    names = set(spec.names)
    return all(c in names for c in RULE_COLUMNS)


@dataclass(frozen=True)
class RuleStatus:
    """Whether the rule indicator exists for the configured source, and if not, why, in
    every language of the reasons files (``no_rule`` there: the one wording)."""

    available: bool
    reason: dict[str, str] | None = None  # language -> sentence; None when available

    def to_dict(self) -> dict[str, object]:
        return {"available": self.available, "reason": self.reason}

    def note(self, language: str = "en") -> str | None:
        """The sentence in ``language`` (English when that language has none)."""
        if self.reason is None:
            return None
        return self.reason.get(language) or self.reason.get("en")


def status(cfg: Config, spec: SignalSpec | None = None) -> RuleStatus:
    """:func:`available` with the reason in every configured language when it is not."""
    if available(spec):
        return RuleStatus(True)
    return RuleStatus(False, {lang: cfg.reasons_in(lang).no_rule for lang in cfg.languages()})


# ---------------------------------------------------------------- the expressions (Ibis)


def _lit(x: float) -> ir.Value:
    # A bare float literal compiles to SQL "0.34", which DuckDB and Spark type as
    # DECIMAL (and Ibis drops a same-type cast); casting its text keeps it DOUBLE.
    return ibis.literal(repr(float(x))).cast("float64")


def snapshot_conditions(t: ir.Table) -> dict[str, ir.BooleanValue]:
    """The contact-index conditions from snapshot columns (a missing input: false).

    Optional integer columns ``has_unreturned_acts`` / ``systems_use`` (1 = yes) are used
    when present (the snapshot has no data on them).
    """
    _require(t.columns, SNAPSHOT_INPUTS[:6], "snapshot")
    conditions = {
        "renewal_period_arrived": t.renewal_period_arrived == 1,
        "has_overdue_debt": t.overdue_debt_rub > 0,
        "no_kit_updates": t.kit_updates_90d == 0,
        "neither_hotline_nor_lk": (t.hotline_requests_60d + t.cabinet_requests_90d) == 0,
        "training_norm_not_met": t.training_norm_met == 0,
    }
    for extra in ("has_unreturned_acts", "systems_use"):
        if extra in t.columns:
            conditions[extra] = t[extra] == 1
    return {k: v.fill_null(False) for k, v in conditions.items()}


def contact_index_expr(
    conditions: Mapping[str, ir.BooleanValue], weights: ContactIndexWeights
) -> ir.FloatingValue:
    """``base`` plus the weight of every condition that holds (named as in :data:`FLAGS`;
    an absent condition is "no"), rounded to :data:`DECIMALS`."""
    total = _lit(weights.base)
    for name in FLAGS:
        if name in conditions:
            total = total + ibis.ifelse(
                conditions[name].fill_null(False), _lit(getattr(weights, name)), _lit(0.0)
            )
    return total.round(DECIMALS)


def band_expr(x: ir.NumericValue, bands: RuleBands) -> ir.StringValue:
    """high / dynamic / no_threat of an indicator value, rounded to :data:`DECIMALS` first
    so float sums band as written (missing: no threat)."""
    x = x.cast("float64").round(DECIMALS)
    return ibis.cases(
        (x >= round(bands.high, DECIMALS), ibis.literal(HIGH)),
        (x >= round(bands.dynamic, DECIMALS), ibis.literal(DYNAMIC)),
        else_=ibis.literal(NO_THREAT),
    )


def add_rule_columns(t: ir.Table, rules: RulesConfig) -> ir.Table:
    """Add contact_index, rule_band and the three sub-indicators to an Ibis table.

    ``t`` must have the snapshot columns in :data:`SNAPSHOT_INPUTS`. Missing inputs make a
    condition false.
    """
    _require(t.columns, SNAPSHOT_INPUTS, "snapshot")
    b = rules.bands
    ci = contact_index_expr(snapshot_conditions(t), rules.contact_index)

    def count_scale(n: ir.Value) -> ir.Value:
        """Seed 002 count scale: 0 -> high, 1 -> dynamic, more (or unknown) -> no threat."""
        return ibis.cases(
            (n == 0, _lit(b.high)), (n == 1, _lit(b.dynamic)), else_=_lit(b.no_threat)
        )

    days = t.days_since_training.cast("float64")
    untrained = (
        (t.training_norm_met == 0).fill_null(False)
        | days.isnull()
        | (days > rules.training_max_age_days).fill_null(False)
    )
    return t.mutate(
        contact_index=ci,
        rule_band=band_expr(ci, b),
        training_indicator=ibis.ifelse(untrained, _lit(b.high), _lit(b.no_threat)),
        webinar_indicator=count_scale(t.webinars_180d),
        cabinet_indicator=count_scale(t.cabinet_requests_90d),
    )


def band(x: float, bands: RuleBands) -> str:
    """:func:`band_expr` of one number (formatting a single value; no engine round trip)."""
    x = round(float(x), DECIMALS)
    if x >= round(bands.high, DECIMALS):
        return HIGH
    if x >= round(bands.dynamic, DECIMALS):
        return DYNAMIC
    return NO_THREAT


# ---------------------------------------------------------------- the same, on a pandas frame

_LOCAL = threading.local()
_ROW = "_rule_row"


def _duckdb() -> ibis.BaseBackend:
    """One in-process DuckDB per thread (a connection is not shared between threads)."""
    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = _LOCAL.con = ibis.duckdb.connect(threads=1)
    return con


def on_frame(
    df: pd.DataFrame,
    columns: list[str],
    build: Callable[[ir.Table], dict[str, ir.Value] | ir.Table],
) -> pd.DataFrame:
    """``build``'s columns over ``df[columns]``, computed by DuckDB, on ``df``'s index.

    ``build`` returns new columns, or a table that mutates ``t`` (its new columns are
    kept). Missing values (NaN, None) enter as SQL NULL, as in the snapshot's engine.
    """
    data = pa.Table.from_pandas(
        df[columns].reset_index(drop=True).assign(**{_ROW: np.arange(len(df))}),
        preserve_index=False,
    )
    t = ibis.memtable(data)
    built = build(t)
    if isinstance(built, dict):
        out = t.select(t[_ROW], **built)
    else:
        out = built.select(_ROW, *(c for c in built.columns if c not in t.columns))
    out = out.order_by(_ROW)
    frame = _duckdb().to_pandas(out).drop(columns=_ROW)
    frame.index = df.index
    return frame


def rule_columns_frame(df: pd.DataFrame, rules: RulesConfig) -> pd.DataFrame:
    """The five rule columns of a pandas table of snapshot columns (same index)."""
    _require(df.columns, SNAPSHOT_INPUTS, "snapshot")
    cols = [c for c in (*SNAPSHOT_INPUTS, "has_unreturned_acts", "systems_use") if c in df]
    out = on_frame(df, cols, lambda t: add_rule_columns(t, rules))
    return out.astype({"rule_band": "str"})


def snapshot_flags(df: pd.DataFrame) -> pd.DataFrame:
    """Which contact-index conditions hold for each snapshot row (booleans, same index)."""
    _require(df.columns, SNAPSHOT_INPUTS[:6], "snapshot")
    cols = [c for c in (*SNAPSHOT_INPUTS[:6], "has_unreturned_acts", "systems_use") if c in df]
    return on_frame(df, cols, snapshot_conditions).astype(bool)


def band_series(x: pd.Series, bands: RuleBands) -> pd.Series:
    """:func:`band_expr` of every value (missing values band as no threat)."""
    frame = x.astype("float64").rename("x").to_frame()
    out = on_frame(frame, ["x"], lambda t: {"rule_band": band_expr(t.x, bands)})
    return out["rule_band"].astype("str")


def contact_index_from_flags(flags: pd.DataFrame, weights: ContactIndexWeights) -> pd.Series:
    """Contact-necessity index of boolean flag columns named as in :data:`FLAGS` (an
    absent flag column counts as "no" everywhere), by :func:`contact_index_expr`."""
    cols = [c for c in FLAGS if c in flags.columns]
    frame = flags[cols].astype(bool)
    out = on_frame(
        frame,
        cols,
        lambda t: {"contact_index": contact_index_expr({c: t[c] for c in cols}, weights)},
    )
    return out["contact_index"].astype("float64")


# ---------------------------------------------------------------- CSV of yes/no flags


def _require(columns: object, needed: tuple[str, ...], what: str) -> None:
    missing = [c for c in needed if c not in list(columns)]  # type: ignore[call-overload]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)}")


def _row_ref(df: pd.DataFrame, i: int) -> str:
    """'line N (client_id X)': the header is line 1."""
    ref = f"line {i + 2}"
    if "client_id" in df.columns:
        ref += f" (client_id {df['client_id'].iloc[i]})"
    return ref


def parse_yes_no(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Boolean weight flags from the acceptance-format yes/no columns (errors name column, row)."""
    _require(df.columns, tuple(CSV_FLAGS), source)
    flags = {}
    for col, (flag, positive) in CSV_FLAGS.items():
        text = df[col].astype("str").str.strip().str.lower()
        is_yes, is_no = text.isin(YES), text.isin(NO)
        bad = np.flatnonzero(~(is_yes | is_no).to_numpy())
        if bad.size:
            i = int(bad[0])
            more = f" (and {bad.size - 1} more rows)" if bad.size > 1 else ""
            raise InputError(
                f"{source}: column {col!r}, {_row_ref(df, i)}: value {df[col].iloc[i]!r} "
                f"is not yes/no{more}"
            )
        flags[flag] = is_yes.to_numpy() if positive else is_no.to_numpy()
    return pd.DataFrame(flags, index=df.index)


def format_index(x: float) -> str:
    """Two decimals as in the seed's table, more only when a configured weight needs them."""
    two = f"{x:.2f}"
    return two if abs(float(two) - x) < 10**-DECIMALS else f"{x:.{DECIMALS}f}".rstrip("0")


def score_flags(df: pd.DataFrame, rules: RulesConfig, source: str = "flags") -> pd.DataFrame:
    """Input table (every column kept) plus contact_index and rule_band.

    An input ``contact_index`` (the specialists' expected value) is kept, renamed to
    ``contact_index_expected``, so the two can be compared side by side.
    """
    if df.empty:
        raise InputError(f"{source}: no rows")
    flags = parse_yes_no(df, source)

    def build(t: ir.Table) -> dict[str, ir.Value]:
        ci = contact_index_expr({c: t[c] for c in flags.columns}, rules.contact_index)
        return {"contact_index": ci, "rule_band": band_expr(ci, rules.bands)}

    scored = on_frame(flags, list(flags.columns), build)
    out = df.rename(columns={"contact_index": "contact_index" + EXPECTED_SUFFIX})
    out["contact_index"] = scored["contact_index"].astype("float64").map(format_index)
    out["rule_band"] = scored["rule_band"].astype("str")
    return out


def read_flags_csv(path: Path) -> pd.DataFrame:
    """All cells as text, nothing turned into NaN (an empty cell is reported, not guessed)."""
    if not path.is_file():
        raise InputError(f"flags file not found: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV: {str(exc).splitlines()[0]}") from exc


def run_rules_csv(cfg: Config, flags: Path, out: Path) -> str:
    """``churn rules --flags FILE.csv --out FILE.csv``; returns the line that sums it up."""
    scored = score_flags(read_flags_csv(flags), cfg.rules, source=str(flags))
    out.parent.mkdir(parents=True, exist_ok=True)
    scored.to_csv(out, index=False)
    counts: Mapping[str, int] = scored["rule_band"].value_counts().to_dict()
    summary = ", ".join(f"{k} {counts.get(k, 0)}" for k in (HIGH, DYNAMIC, NO_THREAT))
    return f"scored {len(scored)} rows -> {out} ({summary})"
