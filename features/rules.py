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

The same definitions exist twice, once as Ibis expressions (:func:`add_rule_columns`, for
the engine-neutral feature layer) and once in pandas (:func:`rule_columns_pandas`,
:func:`contact_index_from_flags`, for flag tables and CSVs); the tests check both agree.
Sums are rounded to :data:`DECIMALS` before banding so 0.20 + 0.10 + 0.05 bands as 0.35.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from churn.config import Config, ContactIndexWeights, RuleBands, RulesConfig
from churn.errors import InputError

if TYPE_CHECKING:
    import ibis.expr.types as ir

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


# ---------------------------------------------------------------- bands (scalar + pandas)


def band(x: float, bands: RuleBands) -> str:
    """Band of one indicator value; ``x`` is rounded first so float sums band as written."""
    x = round(float(x), DECIMALS)
    if x >= round(bands.high, DECIMALS):
        return HIGH
    if x >= round(bands.dynamic, DECIMALS):
        return DYNAMIC
    return NO_THREAT


def band_series(x: pd.Series, bands: RuleBands) -> pd.Series:
    """Vectorised :func:`band` (missing values band as no threat, like SQL CASE)."""
    r = x.astype("float64").round(DECIMALS)
    out = np.select(
        [r >= round(bands.high, DECIMALS), r >= round(bands.dynamic, DECIMALS)],
        [HIGH, DYNAMIC],
        default=NO_THREAT,
    )
    return pd.Series(out, index=x.index, dtype="str", name="rule_band")


def _count_indicator(n: pd.Series, bands: RuleBands) -> pd.Series:
    """Seed 002 count scale: 0 -> high, 1 -> dynamic, more (or unknown) -> no threat."""
    out = np.select([n == 0, n == 1], [bands.high, bands.dynamic], default=bands.no_threat)
    return pd.Series(out, index=n.index, dtype="float64")


# ---------------------------------------------------------------- pandas: flags and snapshots


def contact_index_from_flags(flags: pd.DataFrame, weights: ContactIndexWeights) -> pd.Series:
    """Contact-necessity index of boolean flag columns named as in :data:`FLAGS`.

    A flag column that is absent counts as "no" everywhere (the snapshot has no data
    on unreturned acts or "systems use").
    """
    total = pd.Series(weights.base, index=flags.index, dtype="float64")
    for name in FLAGS:
        if name in flags.columns:
            hit = flags[name].fillna(False).astype(bool).to_numpy()
            total = total + np.where(hit, getattr(weights, name), 0.0)
    return total.round(DECIMALS).rename("contact_index")


def snapshot_flags(df: pd.DataFrame) -> pd.DataFrame:
    """The contact-index conditions from snapshot columns (missing -> condition false)."""
    _require(df.columns, SNAPSHOT_INPUTS[:6], "snapshot")
    flags = pd.DataFrame(
        {
            "renewal_period_arrived": df["renewal_period_arrived"] == 1,
            "has_overdue_debt": df["overdue_debt_rub"] > 0,
            "no_kit_updates": df["kit_updates_90d"] == 0,
            "neither_hotline_nor_lk": (df["hotline_requests_60d"] + df["cabinet_requests_90d"])
            == 0,
            "training_norm_not_met": df["training_norm_met"] == 0,
        },
        index=df.index,
    )
    for extra in ("has_unreturned_acts", "systems_use"):
        if extra in df.columns:
            flags[extra] = df[extra] == 1
    return flags.fillna(False).astype(bool)


def rule_columns_pandas(df: pd.DataFrame, rules: RulesConfig) -> pd.DataFrame:
    """The five rule columns for a pandas table of snapshot columns (same index)."""
    _require(df.columns, SNAPSHOT_INPUTS, "snapshot")
    ci = contact_index_from_flags(snapshot_flags(df), rules.contact_index)
    days = df["days_since_training"].astype("float64")
    untrained = (
        (df["training_norm_met"] == 0).fillna(False)
        | days.isna()
        | (days > rules.training_max_age_days)
    )
    b = rules.bands
    return pd.DataFrame(
        {
            "contact_index": ci,
            "rule_band": band_series(ci, b),
            "training_indicator": np.where(untrained, b.high, b.no_threat).astype("float64"),
            "webinar_indicator": _count_indicator(df["webinars_180d"], b),
            "cabinet_indicator": _count_indicator(df["cabinet_requests_90d"], b),
        },
        index=df.index,
    )


def add_rule_columns_pandas(df: pd.DataFrame, rules: RulesConfig) -> pd.DataFrame:
    """``df`` with the rule columns added (or replaced)."""
    return df.assign(**rule_columns_pandas(df, rules))


# ---------------------------------------------------------------- Ibis (engine-neutral)


def add_rule_columns(t: ir.Table, rules: RulesConfig) -> ir.Table:
    """Add contact_index, rule_band and the three sub-indicators to an Ibis table.

    ``t`` must have the snapshot columns in :data:`SNAPSHOT_INPUTS`; optional integer
    columns ``has_unreturned_acts`` / ``systems_use`` (1 = yes) are used when present.
    Missing inputs make a condition false, as in the pandas path.
    """
    import ibis

    _require(t.columns, SNAPSHOT_INPUTS, "snapshot")
    w, b = rules.contact_index, rules.bands
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

    def lit(x: float) -> ir.Value:
        # A bare float literal compiles to SQL "0.34", which DuckDB and Spark type as
        # DECIMAL (and Ibis drops a same-type cast); casting its text keeps it DOUBLE.
        return ibis.literal(repr(float(x))).cast("float64")

    total = lit(w.base)
    for name, cond in conditions.items():
        total = total + ibis.ifelse(cond.fill_null(False), lit(getattr(w, name)), lit(0.0))
    ci = total.round(DECIMALS)

    def count_scale(n: ir.Value) -> ir.Value:
        return ibis.cases((n == 0, lit(b.high)), (n == 1, lit(b.dynamic)), else_=lit(b.no_threat))

    days = t.days_since_training.cast("float64")
    untrained = (
        (t.training_norm_met == 0).fill_null(False)
        | days.isnull()
        | (days > rules.training_max_age_days).fill_null(False)
    )
    return t.mutate(
        contact_index=ci,
        rule_band=ibis.cases(
            (ci >= round(b.high, DECIMALS), ibis.literal(HIGH)),
            (ci >= round(b.dynamic, DECIMALS), ibis.literal(DYNAMIC)),
            else_=ibis.literal(NO_THREAT),
        ),
        training_indicator=ibis.ifelse(untrained, lit(b.high), lit(b.no_threat)),
        webinar_indicator=count_scale(t.webinars_180d),
        cabinet_indicator=count_scale(t.cabinet_requests_90d),
    )


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
    ci = contact_index_from_flags(parse_yes_no(df, source), rules.contact_index)
    out = df.rename(columns={"contact_index": "contact_index" + EXPECTED_SUFFIX})
    out["contact_index"] = ci.map(format_index)
    out["rule_band"] = band_series(ci, rules.bands)
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
