"""The snapshot contract: every column the feature layer writes, with its definition.

This is the interface between ``features/`` (which must produce exactly these columns,
in this order) and ``training/`` / ``serving/`` (which read them). ``features/README.md``
is generated from it, so the definitions a data scientist reads are the ones in code.

All windows are "the N days strictly before as_of": ts in [as_of - N days, as_of).
"Days since" values are whole UTC calendar days from the event's date to as_of.
Counts of events are 0 when there were none (zero is the truth); values that cannot be
known (days since a thing that never happened, a ratio over nothing) are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    dtype: str  # "int" | "float" | "str" | "ts"
    definition: str
    model: bool = True  # used as a model input
    categorical: bool = False


KEYS = ("client_id", "as_of")

CATALOG: tuple[Feature, ...] = (
    Feature("client_id", "int", "client id", model=False),
    Feature(
        "as_of",
        "ts",
        "snapshot date (UTC midnight); only data strictly before it is used",
        model=False,
    ),
    Feature(
        "centre_id",
        "str",
        "centre serving the client (raw clients.centre_id); missing in a single centre's "
        "export. An id that keeps centres apart in scores and call lists, never a model input",
        model=False,
    ),
    Feature(
        "name",
        "str",
        "the client's name as the CRM shows it (raw clients.name); missing when the export "
        "has none. An id for people (the page, the call list), never a model input",
        model=False,
    ),
    # profile
    Feature("category", "str", "client category A/B/C", categorical=True),
    Feature("segment", "str", "small_medium (fee <= 15 000 RUB) or large", categorical=True),
    Feature("service_mode", "str", "in_person (service engineer) or remote", categorical=True),
    Feature("region", "str", "region; missing when the CRM has none", categorical=True),
    Feature("monthly_fee_rub", "float", "monthly service fee, RUB"),
    Feature("tenure_days", "int", "whole days from contract_start to as_of"),
    Feature("first_advance_months", "float", "months paid in the first advance; NaN if unknown"),
    Feature("n_users", "int", "users registered before as_of"),
    # activity
    Feature("logins_7d", "int", "logins in the 7 days before as_of"),
    Feature("logins_30d", "int", "logins in the 30 days before as_of"),
    Feature("logins_90d", "int", "logins in the 90 days before as_of"),
    Feature(
        "login_trend",
        "float",
        "logins in the last 30 days divided by the monthly average of the 60 days before "
        "(30-90 days ago); NaN when that base is 0",
    ),
    Feature("active_users_30d", "int", "distinct users who logged in during the last 30 days"),
    # training (seed 002, 004)
    Feature(
        "training_coverage",
        "float",
        "share of users registered before as_of with a valid certificate (a training in "
        "the 730 days before as_of); NaN with no users",
    ),
    Feature(
        "training_norm_met",
        "int",
        "1 if coverage >= the category norm (A 80 %, B/C 50 %); 0 with no users",
    ),
    Feature("key_user_trained", "int", "1 if a key user holds a valid certificate"),
    Feature(
        "days_since_training",
        "float",
        "days since the client's last training (any user); NaN if never",
    ),
    # services
    Feature("webinars_180d", "int", "webinar attendances in the 180 days before as_of"),
    Feature(
        "cabinet_requests_90d", "int", "personal-cabinet (ЛК) requests in the 90 days before as_of"
    ),
    Feature("hotline_requests_60d", "int", "hotline (ГЛ) requests in the 60 days before as_of"),
    Feature(
        "consultation_requests_60d",
        "int",
        "consultation-centre (ЦКП) requests in the 60 days before as_of",
    ),
    Feature(
        "newsletter_clicks_30d", "int", "newsletter clicks into the system in the last 30 days"
    ),
    Feature("newsletter_clicks_90d", "int", "newsletter clicks in the last 90 days"),
    Feature(
        "newsletter_bounce_share_90d",
        "float",
        "bounced / sent newsletters in 90 days; NaN if none sent",
    ),
    Feature("video_clicks_90d", "int", "VideoConsultant clicks in the last 90 days"),
    Feature("kit_updates_90d", "int", "kit updates installed in the last 90 days"),
    # money (invoices: as seen on as_of, a payment after as_of is not yet made)
    Feature(
        "open_debt_rub",
        "float",
        "sum of invoices issued before as_of and not paid before as_of (a payment on or "
        "after as_of is not made yet); 0 if none",
    ),
    Feature(
        "overdue_debt_rub", "float", "part of open debt whose due date is before as_of; 0 if none"
    ),
    Feature("days_overdue", "int", "days since the oldest unpaid overdue due date; 0 if none"),
    Feature(
        "renewal_period_arrived",
        "int",
        "1 if the latest paid service period (period_end of invoices paid before as_of) "
        "ends within 30 days after as_of or has already ended, or if invoices were issued "
        "but none paid; 0 if never billed",
    ),
    # competitors, contacts
    Feature(
        "competitor_present",
        "str",
        "yes / no / unknown at the last diagnostics before as_of; missing if never checked",
        categorical=True,
    ),
    Feature(
        "days_since_competitor_check", "float", "days since the last diagnostics; NaN if never"
    ),
    Feature("key_user_changed_180d", "int", "1 if the key user changed in the last 180 days"),
    Feature(
        "decision_maker_changed_180d", "int", "1 if the decision maker changed in the last 180 days"
    ),
    Feature(
        "days_since_contact",
        "float",
        "days since the last specialist call or visit that reached the client (outcome not "
        "no_answer); NaN if never",
    ),
    # the documented rule indicator (features/rules.py)
    Feature("contact_index", "float", "contact-necessity index (seed 004): 0.20 base plus weights"),
    Feature("rule_band", "str", "band of contact_index: high / dynamic / no_threat", model=False),
    Feature("training_indicator", "float", "seed 002 training sub-indicator as a band value"),
    Feature(
        "webinar_indicator", "float", "seed 002 webinars (6 months) sub-indicator as a band value"
    ),
    Feature(
        "cabinet_indicator",
        "float",
        "seed 002 personal cabinet (3 months) sub-indicator as a band value",
    ),
)

COLUMNS: list[str] = [f.name for f in CATALOG]
MODEL_FEATURES: list[str] = [f.name for f in CATALOG if f.model]
CATEGORICAL_FEATURES: list[str] = [f.name for f in CATALOG if f.model and f.categorical]
BY_NAME: dict[str, Feature] = {f.name: f for f in CATALOG}
