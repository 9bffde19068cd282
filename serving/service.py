"""The churn-risk service: one BentoML service over the scoring, explanation and call-list
functions (``serving.scoring``, ``serving.explain``, ``serving.calllist``).

It only reads what ``churn weekly`` stored: the week to serve (``serving.current``: the
newest week in the score store, swapped for a newer one without a restart) is loaded in a
background thread started with the service, so ``/healthz`` answers at once and
``/readyz`` turns 200 only when a week is in memory (its JSON body says which ``as_of`` and
which model version, or "no week scored yet: run churn weekly"). For the clients of a
stored week ``/score``, ``/call_list``, ``/explain`` and ``/history`` answer that week's
numbers: one probability per client and week, whichever endpoint asks. Explanations come
from the model version that scored the week (loaded by version and kept), so the drivers
add up to the probability shown next to them; a newly promoted champion is served from
the next weekly run on. Posted feature rows (``clients``) are scored by the served week's
model and say which version scored them. Settings come from the environment (set by
``churn serve``):

* ``CHURN_CONFIG``: config YAML (default ``configs/default.yaml``);
* ``CHURN_MODEL_ALIAS``: registry alias (default ``serving.alias``, i.e. champion): what
  ``/version`` names as the champion, and what scores posted rows before any week is stored;
* ``MLFLOW_TRACKING_URI``: the registry (default ``paths.mlflow_tracking_uri``);
* ``CHURN_STORE_URL``: the score store (default ``store.url`` / ``data/store.db``): weeks,
  outcomes and the API keys every request is checked against (``serving.access``);
* ``CHURN_GIT_COMMIT``: the code's commit when there is no git checkout (a built bento).

Bad input never reaches the functions as a surprise: requests are strict pydantic models
(400 naming the field), unknown clients are 404 naming them, and a :class:`ChurnError`
from a function becomes a 4xx with its one-line message (409 for a :class:`Conflict`).
At the door (``serving.limits``) a body above ``serving.max_body_bytes`` is 413 before it
is parsed, error answers have one shape with bounded messages, and a client's error is
logged in one line without a traceback; ``/docs.json`` describes every answer
(``serving.openapi``). ``/score_batch`` (internal, kept for callers that used it) answers
the served week's stored rows by id, nulls for an id the week does not hold.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import bentoml
import numpy as np
import pandas as pd
from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import OperationalError
from starlette.staticfiles import StaticFiles

from churn.commit import git_commit
from churn.config import Config, load_config
from churn.environment import environment
from churn.errors import ChurnError, Conflict, NotFound
from features.catalog import SPEC
from features.rules import status as rule_status
from serving.access import CALLER_ROLE, RequireKey, refusal
from serving.auth import ADMIN
from serving.current import (
    NO_WEEK,
    CurrentWeek,
    NoWeekYet,
    engine_for,
    from_store,
    nulls,
    parse_day,
)
from serving.evidence import evidence_flags
from serving.limits import BodyLimit, ErrorBodies, quiet_client_errors
from serving.loading import load_model
from serving.openapi import OpenAPIDoc
from serving.page_catalog import page_catalog
from serving.schemas import (
    BatchId,
    CallListRequest,
    CallListResponse,
    ExplainRequest,
    ExplainResponse,
    FindRequest,
    FindResponse,
    HistoryRequest,
    HistoryResponse,
    Outcome,
    OutcomesRequest,
    OutcomesResponse,
    ScoreRequest,
    ScoreResponse,
)
from serving.scoring import score_frame
from serving.stored import (
    call_list_answer,
    explain_answer,
    history_answer,
    served_rows,
    stored_ranking,
)

log = logging.getLogger("churn.service")
quiet_client_errors()
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_IDS_SHOWN = 5
EPOCH = date(1970, 1, 1)  # the earliest sane call day when the week cannot say its base's start
OUTCOME_ROWS = TypeAdapter(list[Outcome])
SCORE_INLINE = 50  # /score looks up this many ids on the event loop, more in a thread

web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
web.mount("/ui", StaticFiles(directory=STATIC_DIR, html=True, check_dir=False), name="ui")


@dataclass
class Loaded:
    """Everything the endpoints read: built once at start-up; only ``week`` swaps the
    week it serves (``serving.current``). ``model``/``version``: what the alias held at
    start-up; the models that scored stored weeks are loaded by version (:meth:`model_of`)."""

    cfg: Config
    model: Any  # training.model.ChurnModel
    version: str
    alias: str
    run_id: str
    week: CurrentWeek
    git_commit: str
    models: dict[str, Any] = field(default_factory=dict)
    models_lock: threading.Lock = field(default_factory=threading.Lock)

    def model_of(self, version: str) -> Any:
        """The registered model ``version`` (the one that scored a stored week), kept."""
        version = str(version)
        if version == self.version:
            return self.model
        with self.models_lock:
            if version not in self.models:
                self.models[version] = load_model(self.cfg, version=version).model
            return self.models[version]

    def week_model(self) -> tuple[Any, str]:
        """The served week's model and version; the alias's before any week is stored."""
        week = self.week.current()
        if week is None:
            return self.model, self.version
        return self.model_of(week.model_version), str(week.model_version)


def load_everything() -> Loaded:
    """Config, model and the served week as the environment says (module docstring)."""
    cfg = load_config(environment().config)
    from churn.tracking import setup_mlflow

    setup_mlflow(cfg)
    alias = environment().model_alias or cfg.serving.alias
    loaded = load_model(cfg, alias)
    week = CurrentWeek(engine_for(cfg), poll_s=cfg.serving.week_poll_s)
    out = Loaded(
        cfg=cfg,
        model=loaded.model,
        version=str(loaded.version),
        alias=str(loaded.alias),
        run_id=str(loaded.run_id),
        week=week,
        git_commit=git_commit() or "unknown",
    )
    served = week.start()
    if served is not None:
        out.model_of(served.model_version)  # loaded now, not by the first request
    week.start_polling()
    return out


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def churn_error(exc: ChurnError) -> JSONResponse:
    """A user-facing error as a 4xx (503 while no week is stored); the field is the text
    before the first colon."""
    message = str(exc)
    if isinstance(exc, NoWeekYet):
        return error(503, message)
    field = message.split(":", 1)[0] if ":" in message else None
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return error(status, message, field)


def unknown_ids(ids: list[int], index: pd.Index) -> list[int]:
    arr = np.asarray(ids, dtype=np.int64)
    return [int(i) for i in arr[~np.isin(arr, index.to_numpy())]]


def ids_text(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:MAX_IDS_SHOWN])
    more = f" and {len(ids) - MAX_IDS_SHOWN} more" if len(ids) > MAX_IDS_SHOWN else ""
    noun = "client" if len(ids) == 1 else "clients"
    return f"{noun} {shown}{more}"


def not_found(missing: list[int]) -> JSONResponse:
    return error(404, f"client_ids: unknown {ids_text(missing)}", "client_ids")


def validation_field(loc: tuple[Any, ...], prefix: str) -> str:
    """A pydantic error location as the caller wrote it: ``outcomes[1].result``."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


# Prometheus metrics beside BentoML's request metrics (bentoml.metrics builds them lazily,
# in multiprocess mode): what the service is scoring, and with which model.
SCORED = bentoml.metrics.Counter(
    name="churn_scored_clients",
    documentation="Clients answered, by endpoint and model risk band",
    labelnames=["endpoint", "risk_band"],
)
MODEL_INFO = bentoml.metrics.Gauge(
    name="churn_model_info",
    documentation="1 for the loaded model version, alias and served week",
    labelnames=["version", "alias", "as_of"],
)


def count_bands(endpoint: str, bands: list[str]) -> None:
    for band, n in collections.Counter(bands).items():
        SCORED.labels(endpoint=endpoint, risk_band=str(band)).inc(n)


_ACTIVE: list[Any] = []  # the process's service instance, for the /readyz body


API_ROUTES = frozenset(
    {"/score", "/score_batch", "/explain", "/call_list", "/history", "/outcomes", "/find"}
)
# Per-request work BentoML does by default that nobody reads here, left out (profiled under
# the 20-client load of benchmarks/service.py, worker CPU per /score lookup 2.8 -> 1.3 ms):
# an OpenTelemetry span per request (no exporter is configured: recorded only to print trace
# ids in the access log) and the access log itself (a formatted line per request). Client
# errors are still logged, one line each (serving.limits); /metrics counts every request.
QUIET = {
    "tracing": {"excluded_urls": sorted(API_ROUTES)},
    "logging": {"access": {"enabled": False}},
}


@bentoml.service(name="churn_risk", traffic={"timeout": 120}, workers=1, **QUIET)
@bentoml.asgi_app(web, path="/")
class ChurnService:
    """Scores, explanations, history, outcomes and the call list of the served week."""

    def __init__(self) -> None:
        self.loaded: Loaded | None = None
        self.load_error: str | None = None
        _ACTIVE[:] = [self]
        threading.Thread(target=self._load, name="churn-loader", daemon=True).start()

    def _load(self) -> None:
        try:
            self.loaded = load_everything()
            self._model_info()
            week = self.loaded.week.current()
            log.info(
                "loaded model %s (%s); serving %s",
                self.loaded.version,
                self.loaded.alias,
                f"week {week.as_of_text} (model {week.model_version})" if week else NO_WEEK,
            )
        except ChurnError as exc:  # a user-facing problem: one line, no traceback
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("loading the model or week failed: %s", self.load_error)
        except Exception as exc:  # noqa: BLE001 — reported by /readyz and every endpoint
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("loading the model or week failed")

    def _model_info(self) -> None:
        ld = self.loaded
        assert ld is not None
        week = ld.week.current()
        if week is None:
            return
        MODEL_INFO.labels(version=week.model_version, alias=ld.alias, as_of=week.as_of_text).set(1)

    def __is_ready__(self) -> bool:
        """Ready once a stored week is in memory; each probe also looks for a newer week."""
        ld = self.loaded
        if ld is None:
            return False
        if ld.week.refresh():
            week = ld.week.get()
            try:  # the new week's model, loaded before the first request needs it
                ld.model_of(week.model_version)
            except ChurnError as exc:
                log.error("model %s of week %s: %s", week.model_version, week.as_of_text, exc)
            self._model_info()
        return ld.week.ready

    def __metrics__(self, content: str) -> str:
        """``/metrics``: BentoML's metrics, then the gauges of the last ``churn monitor``
        report (``monitoring.metrics``; none before the first report)."""
        from monitoring.metrics import report_text

        ld = self.loaded
        extra = report_text(ld.cfg.monitoring.report_file(ld.cfg.paths)) if ld else ""
        return content.rstrip("\n") + "\n" + extra if extra else content

    def readiness(self) -> dict[str, Any]:
        """The /readyz body: what is served, or why nothing is."""
        ld = self.loaded
        if ld is None:
            return {
                "ready": False,
                "error": self.load_error or "model and week are still loading",
            }
        week = ld.week.current()
        if week is None:
            return {"ready": False, "error": NO_WEEK, "week_error": ld.week.last_error}
        return {
            "ready": True,
            "as_of": week.as_of_text,
            "model_version": week.model_version,
            "week_error": ld.week.last_error,
        }

    def _not_ready(self) -> JSONResponse:
        reason = self.load_error or "model and week are still loading"
        return error(503, f"service not ready: {reason}")

    # ------------------------------------------------------------------ scoring

    def _score_features(self, clients: list[Any]) -> tuple[list[dict[str, Any]], str]:
        """Posted feature rows scored by the served week's model; its version."""
        ld = self.loaded
        assert ld is not None
        model, version = ld.week_model()
        frame = pd.DataFrame([c.model_dump() for c in clients])
        scores = score_frame(model, frame, ld.cfg.rules)
        return score_records(scores, evidence_flags(frame).tolist()), version

    def _score_response(
        self, rows: list[dict[str, Any]], as_of: str | None, version: str
    ) -> ScoreResponse:
        count_bands("score", [r["risk_band"] for r in rows])
        return ScoreResponse.model_validate(
            {"model_version": version, "as_of": as_of, "scores": rows}
        )

    @bentoml.api(route="/score")
    async def score(self, request: ScoreRequest, /) -> ScoreResponse:
        """Stored scores of the served week's clients (``client_ids``: a lookup), or
        ``clients`` (feature rows) scored by the served week's model."""
        ld = self.loaded
        if ld is None:
            return self._not_ready()  # type: ignore[return-value]
        limit = ld.cfg.serving.max_clients_per_request
        ids, clients = request.client_ids, request.clients
        n = len(ids) if ids is not None else len(clients or [])
        field = "client_ids" if ids is not None else "clients"
        if n > limit:
            return error(400, f"{field}: at most {limit} clients per request, got {n}", field)  # type: ignore[return-value]
        try:
            if ids is None:
                rows, version = await anyio.to_thread.run_sync(self._score_features, clients)
                return self._score_response(rows, None, version)
            week = ld.week.get()
            where = week.positions(ids)
            missing = [int(c) for c, w in zip(ids, where, strict=True) if w is None]
            if missing:
                return not_found(missing)  # type: ignore[return-value]
            if len(ids) <= SCORE_INLINE:  # a lookup: cheaper than a hop to a thread
                rows = week.score_rows(ids)
            else:
                rows = await anyio.to_thread.run_sync(week.score_rows, ids)
            return self._score_response(rows, week.as_of_text, week.model_version)
        except ChurnError as exc:
            return churn_error(exc)  # type: ignore[return-value]

    @bentoml.api(route="/score_batch", batchable=True, max_batch_size=1000, max_latency_ms=30_000)
    def score_batch(self, client_ids: list[BatchId]) -> list[dict[str, Any]]:
        """Internal, kept for callers that used it: the served week's stored rows by id. An
        unknown id gets a row of nulls rather than an error, so one caller's bad id cannot
        fail the other callers batched with it (``/score`` answers 404 instead)."""
        if self.loaded is None:
            raise bentoml.exceptions.ServiceUnavailable("service not ready")
        week = self.loaded.week.current()
        if week is None:
            raise bentoml.exceptions.ServiceUnavailable(NO_WEEK)
        empty = {
            "probability": None,
            "risk_band": None,
            "contact_index": None,
            "rule_band": None,
            "evidence": None,
        }
        return [
            week.score_rows([c])[0] if w is not None else {"client_id": c, **empty}
            for c, w in zip(client_ids, week.positions(client_ids), strict=True)
        ]

    # ------------------------------------------------------------------ explain

    def _explain(self, request: ExplainRequest) -> dict[str, Any]:
        ld = self.loaded
        assert ld is not None
        return explain_answer(
            ld.week,
            ld.model_of,
            ld.cfg,
            client_id=request.client_id,
            top_k=request.top_k,
            as_of=parse_day(request.as_of) if request.as_of is not None else None,
            lang=request.lang,
        )

    @bentoml.api(route="/explain")
    async def explain(self, request: ExplainRequest, /) -> ExplainResponse:
        """SHAP contributions, drivers in words, the rule, evidence and what changed since
        the client's previous stored week, in ``lang``."""
        ld = self.loaded
        if ld is None:
            return self._not_ready()  # type: ignore[return-value]
        n_features = len(ld.model.features)
        if request.top_k > n_features:
            return error(
                400,
                f"top_k: at most {n_features} (the number of features), got {request.top_k}",
                "top_k",
            )  # type: ignore[return-value]
        try:
            week = ld.week.current()
            if request.as_of is None and week is not None and week.shap is not None:
                out = self._explain(request)  # words stored values: cheaper than a thread hop
            else:  # an earlier week, or one stored without SHAP values: computed in a thread
                out = await anyio.to_thread.run_sync(self._explain, request)
            count_bands("explain", [out["risk_band"]])
            return ExplainResponse.model_validate(out)
        except ChurnError as exc:
            return churn_error(exc)  # type: ignore[return-value]

    # ------------------------------------------------------------------ find

    @bentoml.api(route="/find")
    async def find(self, request: FindRequest, /) -> FindResponse:
        """Clients of the served week whose id is ``query`` or whose name contains it."""
        from serving.find import find_clients

        if self.loaded is None:
            return self._not_ready()  # type: ignore[return-value]
        try:
            week = self.loaded.week.get()
        except ChurnError as exc:  # no week stored yet: 503
            return churn_error(exc)  # type: ignore[return-value]
        found = await anyio.to_thread.run_sync(
            find_clients, week.snapshot, request.query, request.limit
        )
        return FindResponse.model_validate({"as_of": week.as_of_text, "clients": found})

    # ------------------------------------------------------------------ history

    def _history(self, request: HistoryRequest) -> dict[str, Any]:
        ld = self.loaded
        assert ld is not None
        week = ld.week.get()
        served = week.scores.index
        return history_answer(
            ld.week.engine,
            request.client_id,
            request.weeks,
            lambda cid: cid in served,
            lambda cid: week.names([cid])[0],
        )

    @bentoml.api(route="/history")
    async def history(self, request: HistoryRequest, /) -> HistoryResponse:
        """The client's stored weekly scores (oldest first) and recorded call outcomes."""
        if self.loaded is None:
            return self._not_ready()  # type: ignore[return-value]
        try:
            out = await anyio.to_thread.run_sync(self._history, request)
            return HistoryResponse.model_validate(out)
        except ChurnError as exc:
            return churn_error(exc)  # type: ignore[return-value]

    # ------------------------------------------------------------------ outcomes

    def _add_outcomes(self, rows: list[Outcome]) -> dict[str, Any] | JSONResponse:
        from store.outcomes import add_outcomes
        from store.weeks import scored_clients

        ld = self.loaded
        assert ld is not None
        engine = ld.week.engine
        ids = [r.client_id for r in rows]
        week = ld.week.current()
        held = week.positions(ids) if week is not None else [None] * len(ids)
        served = {i for i, w in zip(ids, held, strict=True) if w is not None}
        rest = [i for i in ids if i not in served]
        known = served | (scored_clients(engine, rest) if rest else set())
        unknown = list(dict.fromkeys(i for i in ids if i not in known))
        if unknown:
            first = ids.index(unknown[0])
            return error(
                404,
                f"outcomes[{first}].client_id: unknown {ids_text(unknown)} (never scored)",
                f"outcomes[{first}].client_id",
            )
        inserted, known_before = add_outcomes(
            engine, [r.model_dump() for r in rows], called_on_range=self._call_days()
        )
        return {"inserted": inserted, "already_recorded": known_before}

    def _call_days(self) -> tuple[date, date]:
        """The sane range of ``called_on``: from the client base's start (the earliest
        contract start in the served week's snapshot: ``as_of - tenure_days``; 1970 while
        no week is in memory) to today (UTC) plus ``serving.called_on_future_days``."""
        ld = self.loaded
        assert ld is not None
        week = ld.week.current()  # clients scored in a stored week may report outcomes
        today = datetime.now(UTC).date()
        latest = today + timedelta(days=ld.cfg.serving.called_on_future_days)
        earliest = EPOCH
        snapshot = week.snapshot if week is not None else None
        if snapshot is not None and "tenure_days" in snapshot.columns and len(snapshot):
            starts = week.as_of - pd.to_timedelta(  # type: ignore[union-attr]
                snapshot["tenure_days"].astype("float64"), unit="D"
            )
            first = starts.min()
            earliest = first.date() if pd.notna(first) else EPOCH
        return min(earliest, today), latest

    @bentoml.api(route="/outcomes")
    async def outcomes(self, request: OutcomesRequest, /) -> OutcomesResponse:
        """Call outcomes from the scheduler: all rows checked, then stored in one
        transaction; answered only after the commit. Idempotent by ``outcome_id``."""
        ld = self.loaded
        if ld is None:
            return self._not_ready()  # type: ignore[return-value]
        limit = ld.cfg.serving.max_outcomes_per_request
        if len(request.outcomes) > limit:
            return error(
                400,
                f"outcomes: at most {limit} per request, got {len(request.outcomes)}",
                "outcomes",
            )  # type: ignore[return-value]
        try:  # as JSON again, so dates are read as in the request (NaN stays a bad value)
            rows = OUTCOME_ROWS.validate_json(_json_dumps(request.outcomes))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = validation_field(tuple(first["loc"]), "outcomes")
            return error(400, f"{field}: {first['msg']}", field)  # type: ignore[return-value]
        try:
            out = await anyio.to_thread.run_sync(self._add_outcomes, rows)
        except ChurnError as exc:  # a bad value (400) or a conflicting outcome_id (409)
            return churn_error(exc)  # type: ignore[return-value]
        except OperationalError as exc:  # locked or unreachable: nothing was committed
            log.warning("storing outcomes failed: %s", exc)
            return error(  # type: ignore[return-value]
                503, "store: busy or unavailable, nothing stored; retry (ids make it safe)"
            )
        if isinstance(out, JSONResponse):
            return out  # type: ignore[return-value]
        return OutcomesResponse.model_validate(out)

    # ------------------------------------------------------------------ call list

    def _call_list(self, request: CallListRequest) -> dict[str, Any]:
        """The stored week's list (``as_of``: an earlier stored week), worded with the
        model that scored that week."""
        from store.weeks import get_week

        ld = self.loaded
        assert ld is not None
        reasons = ld.cfg.reasons_in(request.lang)
        as_of = parse_day(request.as_of) if request.as_of is not None else None
        week = ld.week.get()
        if as_of is not None and as_of != week.day:
            info = get_week(ld.week.engine, as_of)
            if info is None:
                ld.week.snapshot_of(as_of)  # raises NotFound naming the stored weeks
            assert info is not None
            week = from_store(ld.week.engine, info)
        stored = stored_ranking(week.call_list, ld.cfg.serving.ranking)
        rows = served_rows(
            week.call_list,
            week.scores,
            include_holdout=request.include_holdout,
            segment=request.segment,
            service_mode=request.service_mode,
            ranking=request.ranking,
            stored=stored,
            capacity=request.capacity,
        )
        model = ld.model_of(week.model_version)
        return {
            "as_of": week.as_of_text,
            "model_version": str(week.model_version),
            "ranking": request.ranking or stored,
            "clients": call_list_answer(rows, week.snapshot, model, reasons=reasons),
        }

    @bentoml.api(route="/call_list")
    async def call_list(self, request: CallListRequest, /) -> CallListResponse:
        """The stored week's call list: the clients sent to the scheduler (with their top
        reasons and actions). ``include_holdout`` (admin only) adds the held-out clients."""
        if self.loaded is None:
            return self._not_ready()  # type: ignore[return-value]
        if request.include_holdout and CALLER_ROLE.get() != ADMIN:
            return refusal(  # type: ignore[return-value]
                403, "include_holdout: only an admin key may see the held-out clients"
            )
        try:
            out = await anyio.to_thread.run_sync(self._call_list, request)
            count_bands("call_list", [c["risk_band"] for c in out["clients"]])
            return CallListResponse.model_validate(out)
        except ChurnError as exc:
            return churn_error(exc)  # type: ignore[return-value]

    # ------------------------------------------------------------------ plain GET routes

    def _version(self) -> dict[str, Any]:
        from store.weeks import list_weeks

        ld = self.loaded
        assert ld is not None
        week = ld.week.current()
        model, version = ld.week_model()
        return {
            "model_name": ld.cfg.registry.model_name,
            "model_version": version,  # the served week's: what every answer comes from
            "alias": ld.alias,
            "alias_version": ld.version,  # what the alias held at start-up
            "run_id": ld.run_id,
            "as_of": week.as_of_text if week else None,
            "as_of_available": [w.as_of.isoformat() for w in list_weeks(ld.week.engine)],
            "n_clients": int(len(week.scores)) if week else 0,
            "horizon_days": int(getattr(model, "horizon_days", 0)),
            "risk_thresholds": dict(model.risk_thresholds),
            "calibration": calibration_info(model),
            "language": ld.cfg.serving.language,
            "languages": ld.cfg.languages(),
            "rule_indicator": rule_status(ld.cfg).to_dict(),
            "git_commit": ld.git_commit,
        }

    @web.get("/version")
    async def version(self) -> JSONResponse:
        if self.loaded is None:
            return self._not_ready()
        return JSONResponse(await anyio.to_thread.run_sync(self._version))

    @web.get("/catalog")
    async def catalog(self) -> JSONResponse:
        """Labels, units, kinds and groups of the signals (the spec), the rule bands and
        weights (``configs/rules.yaml``) and the model's band thresholds, for the page."""
        if self.loaded is None:
            return self._not_ready()
        ld = self.loaded
        features, thresholds = list(ld.model.features), dict(ld.model.risk_thresholds)
        return JSONResponse(page_catalog(ld.cfg, SPEC, features, thresholds))

    @web.get("/ui")
    def ui(self) -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")


def calibration_info(model: Any) -> dict[str, Any]:
    """How the served probabilities were calibrated, for /version and the page's
    "probabilities recalibrated on DATE": the method, the day the calibrator was fitted
    (a model from before that was recorded: the day it was trained) and the labelled
    snapshot dates it was fitted on."""
    meta = model.metadata or {}
    on = meta.get("calibrated_at") or (str(meta.get("trained_at") or "")[:10] or None)
    dates = meta.get("calibration_as_of") or []
    return {
        "method": getattr(model.calibrator, "method", None),
        "recalibrated_on": on,
        "fitted_on_as_of": [dates[0], dates[-1]] if dates else None,
        "description": meta.get("calibration"),
    }


def _json_dumps(value: Any) -> bytes:
    """JSON text of parsed request data; the NaN and Infinity a caller sent are written as
    such, so validating the text refuses them by field (not a ValueError here: a 500)."""
    import json

    return json.dumps(value, allow_nan=True).encode("utf-8")


def score_records(
    scores: pd.DataFrame, evidence: list[Any] | None = None, names: list[Any] | None = None
) -> list[dict[str, Any]]:
    """Score rows as JSON-safe dicts (a missing contact index or band becomes null).
    Column-wise ``tolist`` rather than ``DataFrame.to_dict``: 10 000 rows in a few ms."""
    columns = {
        "client_id": scores["client_id"].astype("int64").tolist(),
        "probability": scores["probability"].astype("float64").tolist(),
        "risk_band": scores["risk_band"].astype(object).tolist(),
        "contact_index": nulls(scores["contact_index"].astype("float64").tolist()),
        "rule_band": nulls(scores["rule_band"].astype(object).tolist()),
        "evidence": nulls(list(evidence) if evidence is not None else [None] * len(scores)),
        "name": list(names) if names is not None else [None] * len(scores),
    }
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


class JsonBodiesOnly:
    """ASGI middleware: the API takes JSON only. BentoML would also try to parse multipart
    and form bodies, and a malformed one fails inside its parser with a 500; answer 415
    naming the content type instead."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in API_ROUTES:
            headers = dict(scope.get("headers") or [])
            media = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip()
            if media and media.lower() != "application/json":
                response = error(
                    415, f"content-type: {media!r} not supported; send application/json"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ReadyBody:
    """ASGI middleware: ``/readyz`` answers JSON saying which week is served (BentoML's
    own probe decides the status; this only replaces its empty body)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/readyz" or not _ACTIVE:
            await self.app(scope, receive, send)
            return
        status: dict[str, int] = {}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])

        await self.app(scope, receive, capture)
        body = _ACTIVE[0].readiness()
        code = status.get("code", 503)
        if code != 200:
            body["ready"] = False
        await JSONResponse(body, status_code=code)(scope, receive, send)


# outermost first: the key is checked before anything else looks at the request, then the
# body's size before anything reads it
ChurnService.add_asgi_middleware(RequireKey)
ChurnService.add_asgi_middleware(BodyLimit)
ChurnService.add_asgi_middleware(ErrorBodies, paths=API_ROUTES | {"/version"})
ChurnService.add_asgi_middleware(OpenAPIDoc)
ChurnService.add_asgi_middleware(ReadyBody)
ChurnService.add_asgi_middleware(JsonBodiesOnly)
