"""Request and response models of the service: strict, so bad input fails with its field.

Strict means: no type coercion ("5" is not a client id, 5.0 is not a capacity), no
unknown keys, no NaN/inf, and value ranges from the snapshot contract (counts, fees and
days are never negative; flags are 0/1; shares are within [0, 1]). A failure is a 400
whose ``detail[].loc`` names the field. Limits that depend on the loaded model or config
(top_k at most the number of features, at most ``max_clients_per_request`` ids) are
checked by the service and fail the same way.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from typing_extensions import TypedDict

from features.catalog import SPEC
from features.contract import SEGMENTS, SERVICE_MODES, TABLES
from features.rules import DYNAMIC, HIGH, NO_THREAT
from features.spec import Signal
from store.outcomes import MAX_ID_LEN, MAX_NOTE_LEN, RESULTS

INT64_MAX = 2**63 - 1
ClientId = int  # bounds are on the fields: Field(ge=0, le=INT64_MAX)
BatchId = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
MAX_LANG_LEN = 16  # a language code; a longer one is refused without echoing it

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _source_column(s: Signal) -> Any:
    """The contract column a signal reads (None for functions and counts)."""
    if s.table is None or s.column is None:
        return None
    return next((c for c in TABLES[s.table].columns if c.name == s.column), None)


def _feature_field(s: Signal) -> tuple[Any, Any]:
    """The pydantic (type, Field) for one snapshot column given by a caller, from its kind:
    flags are 0/1, shares within [0, 1], counts, money and days never negative,
    categories one of the contract's values (missing where the value can be unknown)."""
    if s.function == "rule_indicator":  # computed from the inputs when absent
        if s.kind == "category":
            return Literal[HIGH, DYNAMIC, NO_THREAT] | None, Field(None)
        return float | None, Field(None, ge=0)
    if s.kind == "id":  # an id, not a model input (centre_id, name): optional
        return str | None, Field(
            None, min_length=1, max_length=64 if s.name.endswith("_id") else 256
        )
    if s.kind == "category":
        col = _source_column(s)
        allowed = col.allowed if col is not None else None
        typ: Any = Literal[allowed] if allowed else str  # type: ignore[valid-type]
        # unknown when the CRM may lack it, or when it is the newest of events that may
        # never have happened (e.g. never checked for competitors)
        if s.table != "clients" or (col is not None and col.nullable):
            return typ | None, Field(None)
        return typ, Field(...)
    if s.type == "int":
        return int, Field(..., ge=0, le=1 if s.kind == "flag" else INT64_MAX)
    # float columns may be unknown (null) by the contract; never negative
    return float | None, Field(..., ge=0, le=1 if s.kind == "share" else None)


def _client_features_model() -> type[BaseModel]:
    fields: dict[str, Any] = {"client_id": (int, Field(..., ge=0, le=INT64_MAX))}
    for s in SPEC.signals:
        if s.name in ("client_id", "as_of"):
            continue
        fields[s.name] = _feature_field(s)
    fields["as_of"] = (date | None, Field(None))
    return create_model(
        "ClientFeatures", __config__=_STRICT, __doc__="One client's snapshot row.", **fields
    )


ClientFeatures = _client_features_model()


class ScoreRequest(BaseModel):
    """Either ids of clients in the loaded snapshot, or the clients' features."""

    model_config = _STRICT
    client_ids: list[ClientId] | None = Field(None, min_length=1)
    clients: list[ClientFeatures] | None = Field(None, min_length=1)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _exactly_one(self) -> ScoreRequest:
        if (self.client_ids is None) == (self.clients is None):
            raise ValueError("give exactly one of client_ids or clients")
        for i, cid in enumerate(self.client_ids or []):
            if not 0 <= cid <= INT64_MAX:
                raise ValueError(f"client_ids[{i}]: {cid} is not a valid client id")
        return self


class ScoreRow(TypedDict):
    """A TypedDict, not a model: pydantic validates 10 000 of them ~9x faster."""

    client_id: int
    probability: float
    risk_band: str
    contact_index: float | None
    rule_band: str | None
    evidence: str | None  # 'full' | 'limited' (serving.evidence)
    name: str | None  # the client's name from the export (None without one)


class ScoreResponse(BaseModel):
    model_version: str
    as_of: str | None  # None when the caller gave the clients' features
    scores: list[ScoreRow]


class ScoreBatchRequest(BaseModel):
    """The internal batchable path behind a single-client ``/score``."""

    model_config = _STRICT
    client_ids: list[BatchId]


class BatchScoreRow(TypedDict):
    """A ``/score_batch`` row: an id not in the served week gets nulls, not an error."""

    client_id: int
    probability: float | None
    risk_band: str | None
    contact_index: float | None
    rule_band: str | None
    evidence: str | None
    name: NotRequired[str | None]  # as in ``/score``, for a client the week holds


Lang = str  # 'ru' | 'en' (checked against the config's languages: 400 naming ``lang``)


class ExplainRequest(BaseModel):
    model_config = _STRICT
    client_id: int = Field(..., ge=0, le=INT64_MAX)
    top_k: int = Field(5, ge=1)
    as_of: date | None = None  # an earlier stored week (or snapshot); the served one by default
    # every sentence's language; default config
    lang: Lang | None = Field(None, min_length=1, max_length=MAX_LANG_LEN)


class Contribution(BaseModel):
    feature: str
    value: Any
    contribution: float


class Driver(BaseModel):
    text: str
    feature: str
    value: Any
    contribution: float
    direction: Literal["raises", "lowers"]
    reason_group: str
    action: str | None


class SubIndicator(BaseModel):
    name: str
    value: float | None
    band: str | None


class Condition(BaseModel):
    name: str
    weight: float


class RuleView(BaseModel):
    contact_index: float | None
    rule_band: str | None
    bands: dict[str, float]
    sub_indicators: list[SubIndicator]
    conditions: list[Condition]


class ChangeItem(BaseModel):
    """One signal that moved since the previous week (``serving.changes``)."""

    feature: str
    label: str
    before: Any
    after: Any
    contribution_before: float
    contribution_after: float
    change: float
    direction: Literal["raises", "lowers"]
    text: str


class Changes(BaseModel):
    """What moved since the client's previous stored week (``serving.changes.what_changed``)."""

    previous_as_of: str | None
    previous_probability: float
    previous_risk_band: str
    previous_model_version: str | None
    as_of: str | None
    probability: float
    risk_band: str
    items: list[ChangeItem]
    unchanged_change: float


class ExplainResponse(BaseModel):
    client_id: int
    name: str | None = None  # the client's name from the export (None without one)
    as_of: str | None
    model_version: str
    lang: str
    probability: float
    risk_band: str
    evidence: str | None
    base_value: float  # calibrated log-odds: base_value + sum(contributions) = log_odds
    log_odds: float  # logit(probability)
    raw_score: float  # the booster's score before calibration
    contributions: list[Contribution]
    drivers: list[Driver]
    protective: list[Driver] = []
    rule: RuleView | None  # None where the source has no rule indicator (rule_note: why)
    rule_note: str | None = None  # why there is no rule, in ``lang``
    changes: Changes | None  # None when the store has no earlier week for the client


class CallListRequest(BaseModel):
    model_config = _STRICT
    capacity: int = Field(..., ge=1, le=1_000_000)
    as_of: date | None = None
    segment: Literal[SEGMENTS] | None = None  # type: ignore[valid-type]
    service_mode: Literal[SERVICE_MODES] | None = None  # type: ignore[valid-type]
    # default serving.ranking (a stored week's list: its own ranking; another one reorders it)
    ranking: Literal["expected_loss", "probability", "expected_profit"] | None = None
    # the reasons' language; default config
    lang: Lang | None = Field(None, min_length=1, max_length=MAX_LANG_LEN)
    include_holdout: bool = False  # admin only: the week's held-out clients too


class Reason(BaseModel):
    text: str
    feature: str
    reason_group: str | None
    action: str | None


class CallListRow(BaseModel):
    rank: int  # within the client's centre in a network export
    client_id: int
    name: str | None = None  # the client's name from the export (None without one)
    centre_id: str | None = None
    segment: str | None
    service_mode: str | None
    probability: float
    monthly_fee_rub: float | None
    expected_loss_rub: float = Field(
        description="RUB at stake over the horizon: probability x monthly fee x horizon months"
    )
    expected_profit_rub: float | None = None
    risk_band: str
    rule_band: str | None
    contact_index: float | None
    reasons: list[Reason]
    action: str | None
    evidence: str | None = None
    # a stored week's list: sent to the scheduler or held out, and the chance of being called
    assignment: Literal["call", "holdout"] | None = None
    propensity: float | None = None


class CallListResponse(BaseModel):
    as_of: str
    model_version: str
    ranking: str
    clients: list[CallListRow]


class FindRequest(BaseModel):
    """Clients of the served week by id or by part of the name (case-insensitive)."""

    model_config = _STRICT
    query: str = Field(..., min_length=1, max_length=200)
    limit: int = Field(10, ge=1, le=100)


class FoundClient(BaseModel):
    client_id: int
    name: str | None


class FindResponse(BaseModel):
    as_of: str
    clients: list[FoundClient]  # the exact id first, then by id


class HistoryRequest(BaseModel):
    model_config = _STRICT
    client_id: int = Field(..., ge=0, le=INT64_MAX)
    weeks: int = Field(26, ge=1, le=520)


class HistoryWeek(BaseModel):
    as_of: str
    probability: float
    risk_band: str
    contact_index: float | None
    rule_band: str | None
    model_version: str
    rank: int | None = None
    evidence: str | None = None


class OutcomeOut(BaseModel):
    outcome_id: str
    called_on: str
    reached: bool
    result: str
    note: str | None


class HistoryResponse(BaseModel):
    client_id: int
    name: str | None = None  # as last stored, else the served week's
    history: list[HistoryWeek]  # oldest first
    outcomes: list[OutcomeOut]  # oldest call first


OutcomeResult = Literal[RESULTS]  # type: ignore[valid-type]


class Outcome(BaseModel):
    """One call's outcome from the call-scheduling system (idempotent by ``outcome_id``)."""

    model_config = _STRICT
    outcome_id: str = Field(..., min_length=1, max_length=MAX_ID_LEN)
    client_id: int = Field(..., ge=0, le=INT64_MAX)
    called_on: date
    reached: bool
    result: OutcomeResult
    note: str | None = Field(None, max_length=MAX_NOTE_LEN)


class OutcomesRequest(BaseModel):
    """The batch; each row is checked by :class:`Outcome` so an error names
    ``outcomes[i].field`` (all rows checked before anything is written)."""

    model_config = _STRICT
    outcomes: list[Any] = Field(..., min_length=1)


class OutcomesBody(BaseModel):
    """What ``/outcomes`` takes, as documented (``/docs.json``): :class:`OutcomesRequest`
    reads the rows as plain JSON so that each row's error names ``outcomes[i].field``."""

    model_config = _STRICT
    outcomes: list[Outcome] = Field(..., min_length=1)


class OutcomesResponse(BaseModel):
    inserted: int
    already_recorded: int
