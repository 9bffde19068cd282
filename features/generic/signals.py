"""Point-in-time snapshots of a subscription + activity source, signals generated per type.

For every activity type (from the spec, or every type in the data) and every configured
window: the count and, where the type carries values, the value sum; the days since the
last one; the trend between a short and a long window (change in the monthly rate). With a
user column: the share of the customer's known users active in the recent window. From the
subscriptions: tenure in the current active period, earlier periods (came back before),
the current amount, billing period and days to the next renewal. Customer attributes from
the spec ride along. Labels for pages and sentences come from the type names, overridable
in the spec (:func:`signal_labels`).

The population on as_of is every customer covered then by a subscription known before it
(``start_ts < as_of`` and ``end_ts`` missing or ``>= as_of``): a customer in a lapse of
coverage is not scored (whether they renew is the future). Only events with ``ts < as_of``
are used. One Ibis expression (a UNION ALL of per-date plans) for DuckDB and Spark alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from features.generic.periods import active_periods
from features.generic.spec import SourceSpec
from features.windows import at, days_since, month_starts

DAYS_PER_MONTH = 30.4375  # renewal anniversaries of open-ended subscriptions


def type_key(activity_type: str) -> str:
    """A column-safe name for an activity type (``Support ticket`` -> ``support_ticket``)."""
    key = re.sub(r"[^0-9a-z]+", "_", activity_type.strip().lower()).strip("_")
    return key or "activity"


@dataclass(frozen=True)
class Signal:
    """One generated snapshot column and what it means (for the catalog, page and words)."""

    name: str
    kind: str  # count | money | days | share | category | trend
    label_ru: str
    label_en: str
    direction: str  # the direction that raises risk, if known: "up" | "down" | ""
    activity_type: str | None = None
    definition: str = ""
    model: bool = True  # a model input (the fee is money for sizing lists, not an input)


def activity_types(spec: SourceSpec, activities: ir.Table) -> list[tuple[str, bool]]:
    """(type, carries values) for every type to build signals for, in a stable order: the
    spec's declared types when it lists them, else every type found in the data."""
    declared = spec.declared_types()
    if declared is not None:
        return declared
    found = (
        activities.group_by("activity_type")
        .aggregate(with_value=activities.value.notnull().any())
        .order_by("activity_type")
        .execute()
    )
    have = dict(zip(found["activity_type"], found["with_value"].astype(bool), strict=True))
    return [(t, bool(have[t])) for t in have]


def undeclared_types(spec: SourceSpec, activities: ir.Table) -> dict[str, int]:
    """Activity types in the data the spec does not list, with their row counts (ignored
    by the signals; the caller reports them). Empty when the spec lists no types."""
    if spec.activity_types is None:
        return {}
    rest = activities.filter(~activities.activity_type.isin(list(spec.activity_types)))
    counts = rest.group_by("activity_type").aggregate(n=rest.count()).execute()
    return {str(t): int(n) for t, n in zip(counts["activity_type"], counts["n"], strict=True)}


def signal_list(
    spec: SourceSpec, types: Sequence[tuple[str, bool]], has_users: bool
) -> list[Signal]:
    """Every generated column in snapshot order (after ``client_id``, ``as_of``)."""
    gap = spec.churn.gap_days
    out = [
        Signal(
            "tenure_days",
            "days",
            "дней в текущем периоде подписки",
            "days in the current subscription period",
            "down",
            definition=(
                "days from the start of the customer's current active period (subscriptions "
                f"merged across gaps of at most {gap} days) to as_of"
            ),
        ),
        Signal(
            "earlier_periods",
            "count",
            "прежних периодов подписки",
            "earlier subscription periods",
            "",
            definition="active periods that ended before the current one (the customer left "
            "and came back)",
        ),
        Signal(
            "amount",
            "money",
            "текущая сумма подписки",
            "current subscription amount",
            "up",
            definition="amount of the subscription covering as_of (the newest started), "
            "per billing period",
        ),
        Signal(
            "billing_period_months",
            "count",
            "период оплаты, месяцев",
            "billing period, months",
            "",
            definition="billing period of the subscription covering as_of, months",
        ),
        Signal(
            "days_to_renewal",
            "days",
            "дней до продления",
            "days to the next renewal",
            "down",
            definition="days from as_of to the end of the covering subscription (open-ended: "
            "to the next anniversary of its billing period)",
        ),
        Signal(
            "monthly_fee_rub",
            "money",
            "плата в месяц",
            "monthly fee",
            "",
            definition="amount / billing period in months: what a month of this customer is "
            "worth (sizes the call list's expected loss and profit); not a model input",
            model=False,
        ),
    ]
    short, long_ = spec.trend_days
    for t, with_value in types:
        k = type_key(t)
        lab = spec.labels.get(t)
        ru, en = (lab.ru, lab.en) if lab else (t, t)
        for w in spec.windows_days:
            out.append(
                Signal(
                    f"{k}_n_{w}d",
                    "count",
                    f"{ru} за {w} дн.",
                    f"{en} in the last {w} days",
                    "down",
                    t,
                    f"activities of type {t!r} in the {w} days before as_of (0 when none)",
                )
            )
            if with_value:
                out.append(
                    Signal(
                        f"{k}_value_{w}d",
                        "count",
                        f"{ru}: сумма за {w} дн.",
                        f"{en}: total value in {w} days",
                        "down",
                        t,
                        f"sum of the value of activities of type {t!r} in the {w} days before "
                        "as_of (0 when none)",
                    )
                )
        out.append(
            Signal(
                f"{k}_days_since_last",
                "days",
                f"дней с последнего: {ru}",
                f"days since the last of {en}",
                "up",
                t,
                f"days from the last activity of type {t!r} before as_of (missing: never)",
            )
        )
        out.append(
            Signal(
                f"{k}_trend",
                "trend",
                f"{ru}: изменение за {short} дн. к {long_} дн.",
                f"{en}: last {short} vs {long_} days",
                "down",
                t,
                f"monthly rate of type {t!r} in the last {short} days minus its monthly rate "
                f"over the last {long_} days",
            )
        )
    if has_users:
        d = spec.recent_user_days
        out.append(
            Signal(
                "active_user_share",
                "share",
                f"доля пользователей, активных за {d} дн.",
                f"share of users active in the last {d} days",
                "down",
                definition=f"users with an activity in the {d} days before as_of / users "
                "ever seen before as_of (missing: no user seen)",
            )
        )
    if spec.customers is not None:
        for attr, kind in spec.customers.attributes.items():
            out.append(
                Signal(
                    attr,
                    "category" if kind == "category" else "count",
                    attr,
                    attr,
                    "",
                    definition=f"customer attribute {attr!r} ({kind}) from the customers table",
                )
            )
    return out


def _population(subs: ir.Table, as_of: date, gap_days: int) -> ir.Table:
    known = subs.filter(subs.start_ts < at(as_of))
    cover = known.filter(known.end_ts.isnull() | (known.end_ts >= at(as_of)))
    w = ibis.window(
        group_by=cover.client_id,
        order_by=[ibis.desc(cover.start_ts), ibis.desc(cover.subscription_id)],
    )
    cur = cover.mutate(rn=ibis.row_number().over(w)).filter(lambda t: t.rn == 0)
    since = days_since(as_of, cur.start_ts)
    period_days = (cur.billing_period_months.cast("float64") * DAYS_PER_MONTH).ceil().cast("int64")
    to_end = cur.end_ts.date().delta(at(as_of).date(), unit="day").cast("int64")
    cur = cur.select(
        "client_id",
        amount=cur.amount.cast("float64"),
        billing_period_months=cur.billing_period_months.cast("float64"),
        monthly_fee_rub=cur.amount.cast("float64") / cur.billing_period_months.cast("float64"),
        days_to_renewal=ibis.ifelse(
            cur.end_ts.isnull(), period_days - since % period_days, to_end
        ).cast("float64"),
    )
    periods = active_periods(known, gap_days)
    last = periods.group_by("client_id").aggregate(
        period_no=periods.period_no.max(), start_ts=periods.start_ts.max()
    )
    last = last.select(
        "client_id",
        tenure_days=days_since(as_of, last.start_ts).cast("float64"),
        earlier_periods=(last.period_no - 1).cast("float64"),
    )
    return cur.join(last, "client_id").select(
        "client_id",
        "tenure_days",
        "earlier_periods",
        "amount",
        "billing_period_months",
        "days_to_renewal",
        "monthly_fee_rub",
    )


def _activity(
    acts: ir.Table, spec: SourceSpec, types, as_of: date, has_users: bool
) -> list[ir.Table]:
    """Per-customer activity aggregates on as_of, as tables keyed by ``client_id``."""
    known = acts.filter(acts.ts < at(as_of))
    longest = max(*spec.windows_days, spec.trend_days[1], spec.recent_user_days)
    recent = known.filter(known.ts >= at(as_of, longest))
    short, long_ = spec.trend_days
    aggs: dict[str, ir.Value] = {}
    for t, with_value in types:
        k = type_key(t)
        is_t = recent.activity_type == t
        for w in spec.windows_days:
            inside = is_t & (recent.ts >= at(as_of, w))
            aggs[f"{k}_n_{w}d"] = inside.cast("int64").sum().cast("float64")
            if with_value:
                aggs[f"{k}_value_{w}d"] = (
                    ibis.ifelse(inside, recent.value, 0.0).sum().cast("float64")
                )
        n_short = (is_t & (recent.ts >= at(as_of, short))).cast("int64").sum().cast("float64")
        n_long = (is_t & (recent.ts >= at(as_of, long_))).cast("int64").sum().cast("float64")
        aggs[f"{k}_trend"] = (n_short / short - n_long / long_) * DAYS_PER_MONTH
    parts = [recent.group_by("client_id").aggregate(**aggs)]
    last = known.group_by(["client_id", "activity_type"]).aggregate(last=known.ts.max())
    parts.append(
        last.group_by("client_id").aggregate(
            **{
                f"{type_key(t)}_days_since_last": days_since(
                    as_of, last.last.max(where=last.activity_type == t)
                ).cast("float64")
                for t, _ in types
            }
        )
    )
    if has_users:
        users = known.filter(known.user_id.notnull())
        ever = users.group_by("client_id").aggregate(n_users=users.user_id.nunique())
        rec = users.filter(users.ts >= at(as_of, spec.recent_user_days))
        now = rec.group_by("client_id").aggregate(n_recent=rec.user_id.nunique())
        share = ever.left_join(now, "client_id")
        parts.append(
            share.select(
                client_id=share.client_id,
                active_user_share=share.n_recent.fill_null(0).cast("float64")
                / share.n_users.cast("float64"),
            )
        )
    return parts


def snapshot_one(
    tables: dict[str, ir.Table], spec: SourceSpec, types, signals: list[Signal], as_of: date
) -> ir.Table:
    """Snapshot rows for one as_of: the covered population with every generated signal."""
    pop = _population(tables["subscriptions"], as_of, spec.churn.gap_days)
    has_users = any(s.name == "active_user_share" for s in signals)
    rows = pop
    for part in _activity(tables["activities"], spec, types, as_of, has_users):
        joined = rows.left_join(part, "client_id")
        rows = joined.select(
            rows.client_id,
            *[c for c in joined.columns if c not in ("client_id", "client_id_right")],
        )
    counts = {
        s.name for s in signals if s.activity_type is not None and s.kind in ("count", "trend")
    }
    cols: dict[str, ir.Value] = {"as_of": at(as_of)}
    for s in signals:
        if s.name in counts:
            cols[s.name] = rows[s.name].fill_null(0.0)
        elif s.name in rows.columns:
            cols[s.name] = rows[s.name]
    out = rows.select("client_id", **cols)
    if spec.customers is not None and "customers" in tables:
        cust = tables["customers"]
        attrs = list(spec.customers.attributes)
        name = ["name"] if "name" in cust.columns else []
        out = out.left_join(cust.select("client_id", *name, *attrs), "client_id")
        out = out.select(
            "client_id",
            *name,
            *[c for c in out.columns if c not in ("client_id", "client_id_right", *name)],
        )
    return out


def as_of_grid(first: date, last: date, grid: str) -> list[date]:
    """Snapshot dates in [first, last]: first of each month, or each Monday."""
    if grid == "month":
        return month_starts(first, last)
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    return [monday + timedelta(weeks=i) for i in range((last - monday).days // 7 + 1)]


def snapshots_expr(
    tables: dict[str, ir.Table], spec: SourceSpec, dates: Sequence[date]
) -> tuple[ir.Table, list[Signal]]:
    """All snapshots for ``dates`` as one expression, and the signals it carries."""
    if not dates:
        raise ValueError("no as_of dates")
    types = activity_types(spec, tables["activities"])
    if spec.activity_types is not None:  # declared: the columns never depend on the data
        has_users = spec.has_users
    else:
        has_users = bool(tables["activities"].user_id.notnull().any().execute())
    signals = signal_list(spec, types, has_users)
    parts = [snapshot_one(tables, spec, types, signals, d) for d in dates]
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0], signals
