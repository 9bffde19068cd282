"""The churn-risk service: one BentoML service over the scoring, explanation and call-list
functions (``serving.scoring``, ``serving.explain``, ``serving.calllist``).

It loads the model by registry alias once, and the week to serve (``serving.current``:
the newest week in the score store, swapped for a newer one without a restart), in a
background thread started with the service, so ``/healthz`` answers at once and
``/readyz`` turns 200 only when both are in memory (its JSON body says which ``as_of`` is
served and from where). Settings come from the environment (set by ``churn serve``):

* ``CHURN_CONFIG``: config YAML (default ``configs/default.yaml``);
* ``CHURN_MODEL_ALIAS``: registry alias (default ``serving.alias``, i.e. champion);
* ``MLFLOW_TRACKING_URI``: the registry (default ``paths.mlflow_tracking_uri``);
* ``CHURN_STORE_URL``: the score store (default ``store.url`` / ``data/store.db``): weeks,
  outcomes and the API keys every request is checked against (``serving.access``);
* ``CHURN_FEATURES``: snapshot Parquet file, every as_of in it kept, latest by default;
  or ``CHURN_RAW_DIR``: raw data, the snapshot built as of its newest event at start-up;
  either is used only while the store holds no week;
* ``CHURN_GIT_COMMIT``: the code's commit when there is no git checkout (a built bento).

Bad input never reaches the functions as a surprise: requests are strict pydantic models
(400 naming the field), unknown clients are 404 naming them, and a :class:`ChurnError`
from a function becomes a 4xx with its one-line message. Single-client ``/score`` calls
go through ``/score_batch``, a batchable endpoint, so BentoML's adaptive batching groups
concurrent callers into one vectorised prediction.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
import bentoml
import numpy as np
import pandas as pd
from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from pydantic import Field, TypeAdapter, ValidationError
from sqlalchemy.exc import OperationalError
from starlette.staticfiles import StaticFiles

from churn.commit import git_commit
from churn.config import Config, load_config
from churn.environment import environment
from churn.errors import ChurnError, NotFound
from features.catalog import SPEC
from serving.access import CALLER_ROLE, RequireKey, refusal
from serving.auth import ADMIN
from serving.calllist import build_call_list, call_list_records
from serving.centres import client_names
from serving.changes import what_changed
from serving.current import CurrentWeek, ServedWeek, engine_for, from_store, parse_day
from serving.evidence import evidence_flags
from serving.explain import explain_client
from serving.loading import Snapshots, load_model, load_snapshots
from serving.page_catalog import page_catalog
from serving.schemas import (
    INT64_MAX,
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
from serving.sentences import json_value
from serving.stored import call_list_answer, history_answer, served_rows, stored_ranking

log = logging.getLogger("churn.service")
BatchId = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_IDS_SHOWN = 5
OUTCOME_ROWS = TypeAdapter(list[Outcome])

web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
web.mount("/ui", StaticFiles(directory=STATIC_DIR, html=True, check_dir=False), name="ui")


@dataclass
class Loaded:
    """Everything the endpoints read: built once at start-up; only ``week`` swaps the
    week it serves (``serving.current``)."""

    cfg: Config
    model: Any  # training.model.ChurnModel
    version: str
    alias: str
    run_id: str
    week: CurrentWeek
    git_commit: str


def fallback_loader(cfg: Config) -> Any:
    """Loads the start-up snapshot (``CHURN_FEATURES`` / ``CHURN_RAW_DIR``), or None."""
    raw, features = environment().raw_dir, environment().features
    if not raw and not features:
        return None

    def load() -> Snapshots:
        return load_snapshots(
            cfg,
            features_file=features,
            raw=raw if not features else None,
        )

    return load


def load_everything() -> Loaded:
    """Config, model and the served week as the environment says (module docstring)."""
    cfg = load_config(environment().config)
    from churn.tracking import setup_mlflow

    setup_mlflow(cfg)
    alias = environment().model_alias or cfg.serving.alias
    loaded = load_model(cfg, alias)
    week = CurrentWeek(
        engine_for(cfg), fallback=fallback_loader(cfg), poll_s=cfg.serving.week_poll_s
    )
    week.start()
    week.start_polling()
    return Loaded(
        cfg=cfg,
        model=loaded.model,
        version=str(loaded.version),
        alias=str(loaded.alias),
        run_id=str(loaded.run_id),
        week=week,
        git_commit=git_commit() or "unknown",
    )


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def churn_error(exc: ChurnError) -> JSONResponse:
    """A user-facing error as a 4xx; the field is the text before the first colon."""
    message = str(exc)
    field = message.split(":", 1)[0] if ":" in message else None
    return error(404 if isinstance(exc, NotFound) else 400, message, field)


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


@bentoml.service(name="churn_risk", traffic={"timeout": 120}, workers=1)
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
            log.info(
                "loaded model %s; serving %s from the %s",
                self.loaded.version,
                self.loaded.week.get().as_of_text,
                self.loaded.week.get().source,
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
        MODEL_INFO.labels(version=ld.version, alias=ld.alias, as_of=ld.week.get().as_of_text).set(1)

    def __is_ready__(self) -> bool:
        """Ready once loaded; each probe also looks for a newer week in the store."""
        ld = self.loaded
        if ld is None:
            return False
        if ld.week.refresh():
            self._model_info()
        return True

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
        week = ld.week.get()
        return {
            "ready": True,
            "as_of": week.as_of_text,
            "source": week.source,
            "model_version": ld.version,
            "week_model_version": week.model_version,
            "week_error": ld.week.last_error,
        }

    def _not_ready(self) -> JSONResponse:
        reason = self.load_error or "model and week are still loading"
        return error(503, f"service not ready: {reason}")

    # ------------------------------------------------------------------ scoring

    def _score_ids(self, week: ServedWeek, ids: list[int]) -> list[dict[str, Any]]:
        ld = self.loaded
        assert ld is not None
        scores = score_frame(ld.model, week.snapshot.loc[ids], ld.cfg.rules)
        return score_records(scores, week.evidence(ids), week.names(ids))

    def _score_features(self, clients: list[Any]) -> list[dict[str, Any]]:
        ld = self.loaded
        assert ld is not None
        frame = pd.DataFrame([c.model_dump() for c in clients])
        scores = score_frame(ld.model, frame, ld.cfg.rules)
        return score_records(scores, evidence_flags(frame).tolist())

    def _score_response(self, rows: list[dict[str, Any]], as_of: str | None) -> ScoreResponse:
        ld = self.loaded
        assert ld is not None
        count_bands("score", [r["risk_band"] for r in rows])
        return ScoreResponse.model_validate(
            {"model_version": ld.version, "as_of": as_of, "scores": rows}
        )

    @bentoml.api(route="/score")
    async def score(self, request: ScoreRequest, /) -> ScoreResponse:
        """Scores for clients of the served week (``client_ids``) or given ``clients``."""
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
                rows = await anyio.to_thread.run_sync(self._score_features, clients)
                return self._score_response(rows, None)
            week = ld.week.get()
            missing = unknown_ids(ids, week.snapshot.index)
            if missing:
                return not_found(missing)  # type: ignore[return-value]
            if len(ids) == 1:  # one caller's client: let adaptive batching group callers
                try:
                    rows = await self.to_async.score_batch([ids[0]])  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 — ids are known, so this is the batch path
                    # failing (the batcher sheds load with a 503 when busy; its internal
                    # transport can reset under concurrency): score this one client directly
                    log.warning("batched /score failed; scoring client %s directly", ids[0])
                    rows = await anyio.to_thread.run_sync(self._score_ids, week, ids)
                if rows[0]["probability"] is None:  # the week swapped in between
                    rows = await anyio.to_thread.run_sync(self._score_ids, week, ids)
                return self._score_response(rows, week.as_of_text)
            rows = await anyio.to_thread.run_sync(self._score_ids, week, ids)
            return self._score_response(rows, week.as_of_text)
        except ChurnError as exc:
            return churn_error(exc)  # type: ignore[return-value]

    # max_latency_ms is the batcher's load-shedding limit (it cancels requests it expects to
    # miss it with a 503), not a waiting time: keep it well above busy-time latencies.
    @bentoml.api(route="/score_batch", batchable=True, max_batch_size=1000, max_latency_ms=30_000)
    def score_batch(self, client_ids: list[BatchId]) -> list[dict[str, Any]]:
        """Internal: the batchable single-client path behind ``/score``. An unknown id gets
        a row of nulls rather than an error, so one caller's bad id cannot fail the other
        callers batched with it (``/score`` itself checks ids first and answers 404)."""
        if self.loaded is None:
            raise bentoml.exceptions.ServiceUnavailable("service not ready")
        week = self.loaded.week.get()
        found = np.isin(np.asarray(client_ids, dtype=np.int64), week.snapshot.index.to_numpy())
        known_ids = [c for c, f in zip(client_ids, found, strict=True) if f]
        rows = self._score_ids(week, known_ids) if known_ids else []
        scored = iter(rows)
        empty = {
            "probability": None,
            "risk_band": None,
            "contact_index": None,
            "rule_band": None,
            "evidence": None,
        }
        return [
            next(scored) if f else {"client_id": c, **empty}
            for c, f in zip(client_ids, found, strict=True)
        ]

    # ------------------------------------------------------------------ explain

    def _changes(
        self, client_id: int, row: pd.DataFrame, as_of: pd.Timestamp, reasons: Any
    ) -> dict[str, Any] | None:
        """What moved since the client's previous stored week (None without one)."""
        ld = self.loaded
        assert ld is not None
        if ld.week.get().source != "store":
            return None
        previous = ld.week.previous(client_id, as_of.date())
        if previous is None:
            return None
        prev_score, prev_row = previous
        return what_changed(
            ld.model,
            row,
            prev_row,
            reasons=reasons,
            rules=ld.cfg.rules,
            previous_score=prev_score,
        )

    def _explain(self, request: ExplainRequest) -> dict[str, Any]:
        ld = self.loaded
        assert ld is not None
        reasons = ld.cfg.reasons_in(request.lang)
        week = ld.week.get()
        snapshot, as_of = ld.week.snapshot_of(
            parse_day(request.as_of) if request.as_of is not None else None
        )
        cid = request.client_id
        if cid not in snapshot.index:
            raise NotFound(f"client_id: unknown client {cid} in the week of {as_of.date()}")
        row = snapshot.loc[[cid]]
        out = explain_client(
            ld.model, row, top_k=request.top_k, reasons=reasons, rules=ld.cfg.rules
        )
        out["model_version"] = ld.version
        out["name"] = json_value(client_names(row).iloc[0])
        out["lang"] = request.lang or ld.cfg.serving.language
        if as_of == week.as_of:
            out["evidence"] = week.evidence([cid])[0]
        else:  # an earlier week: as stored for it, else from the row's tenure
            stored = self._stored_evidence(cid, as_of.date()) if week.source == "store" else None
            out["evidence"] = stored or str(evidence_flags(row).iloc[0])
        out["changes"] = self._changes(cid, row, as_of, reasons)
        return out

    def _stored_evidence(self, client_id: int, day: Any) -> str | None:
        from store.weeks import history

        ld = self.loaded
        assert ld is not None
        for row in history(ld.week.engine, client_id, weeks=520):
            if row["as_of"] == day:
                return str(row["evidence"])
        return None

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
        week = self.loaded.week.get()
        found = await anyio.to_thread.run_sync(
            find_clients, week.snapshot, request.query, request.limit
        )
        return FindResponse.model_validate({"as_of": week.as_of_text, "clients": found})

    # ------------------------------------------------------------------ history

    def _history(self, request: HistoryRequest) -> dict[str, Any]:
        ld = self.loaded
        assert ld is not None
        week = ld.week.get()
        served = week.snapshot.index
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
        served = set(ld.week.get().snapshot.index[ld.week.get().snapshot.index.isin(ids)])
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
        inserted, known_before = add_outcomes(engine, [r.model_dump() for r in rows])
        return {"inserted": inserted, "already_recorded": known_before}

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
        try:
            rows = OUTCOME_ROWS.validate_json(_json_dumps(request.outcomes))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = validation_field(tuple(first["loc"]), "outcomes")
            return error(400, f"{field}: {first['msg']}", field)  # type: ignore[return-value]
        try:
            out = await anyio.to_thread.run_sync(self._add_outcomes, rows)
        except ChurnError as exc:
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
        ld = self.loaded
        assert ld is not None
        reasons = ld.cfg.reasons_in(request.lang)
        as_of = parse_day(request.as_of) if request.as_of is not None else None
        week = ld.week.get()
        if week.source == "store":
            return self._stored_call_list(request, week, as_of, reasons)
        snapshot, _ = ld.week.snapshot_of(as_of)
        ranking = request.ranking or ld.cfg.serving.ranking
        calls = build_call_list(
            ld.model,
            snapshot,
            capacity=request.capacity,
            reasons=reasons,
            ranking=ranking,
            segment=request.segment,
            service_mode=request.service_mode,
            rules=ld.cfg.rules,
            retention=ld.cfg.retention,
        )
        records = call_list_records(calls)
        ids = [r["client_id"] for r in records]
        if snapshot is week.snapshot:
            flags = week.evidence(ids)
        else:
            flags = evidence_flags(snapshot).reindex(ids).tolist()
        for record, flag in zip(records, flags, strict=True):
            record["evidence"] = flag
        return {
            "as_of": snapshot["as_of"].iloc[0].date().isoformat(),
            "model_version": ld.version,
            "ranking": ranking,
            "source": "snapshot",
            "clients": records,
        }

    def _stored_call_list(
        self, request: CallListRequest, week: ServedWeek, as_of: Any, reasons: Any
    ) -> dict[str, Any]:
        from store.weeks import get_week

        ld = self.loaded
        assert ld is not None
        if as_of is not None and as_of != week.day:
            info = get_week(ld.week.engine, as_of)
            if info is None:
                ld.week.snapshot_of(as_of)  # raises NotFound naming the stored weeks
            assert info is not None
            week = from_store(ld.week.engine, info)
        assert week.call_list is not None and week.scores is not None
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
        return {
            "as_of": week.as_of_text,
            "model_version": str(week.model_version),
            "ranking": request.ranking or stored,
            "source": "store",
            "clients": call_list_answer(rows, week.snapshot, ld.model, reasons=reasons),
        }

    @bentoml.api(route="/call_list")
    async def call_list(self, request: CallListRequest, /) -> CallListResponse:
        """The week's call list: the stored week's clients sent to the scheduler (with their
        top reasons and actions), or, before any week is stored, the top ``capacity`` of
        the snapshot. ``include_holdout`` (admin only) adds the held-out clients."""
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
        week = ld.week.get()
        if week.source == "store":
            available = [w.as_of.isoformat() for w in list_weeks(ld.week.engine)]
        else:
            assert ld.week.snapshots is not None
            available = [t.date().isoformat() for t in sorted(ld.week.snapshots.by_as_of)]
        return {
            "model_name": ld.cfg.registry.model_name,
            "model_version": ld.version,
            "alias": ld.alias,
            "run_id": ld.run_id,
            "as_of": week.as_of_text,
            "source": week.source,
            "week_model_version": week.model_version,
            "as_of_available": available,
            "n_clients": int(len(week.snapshot)),
            "horizon_days": int(getattr(ld.model, "horizon_days", 0)),
            "risk_thresholds": dict(ld.model.risk_thresholds),
            "calibration": calibration_info(ld.model),
            "language": ld.cfg.serving.language,
            "languages": ld.cfg.languages(),
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
    import json

    return json.dumps(value, allow_nan=False).encode("utf-8")


def _nulls(values: list[Any]) -> list[Any]:
    return [None if v is None or v != v else v for v in values]  # NaN != NaN


def score_records(
    scores: pd.DataFrame, evidence: list[Any] | None = None, names: list[Any] | None = None
) -> list[dict[str, Any]]:
    """Score rows as JSON-safe dicts (a missing contact index or band becomes null).
    Column-wise ``tolist`` rather than ``DataFrame.to_dict``: 10 000 rows in a few ms."""
    columns = {
        "client_id": scores["client_id"].astype("int64").tolist(),
        "probability": scores["probability"].astype("float64").tolist(),
        "risk_band": scores["risk_band"].astype(object).tolist(),
        "contact_index": _nulls(scores["contact_index"].astype("float64").tolist()),
        "rule_band": _nulls(scores["rule_band"].astype(object).tolist()),
        "evidence": _nulls(list(evidence) if evidence is not None else [None] * len(scores)),
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


API_ROUTES = frozenset(
    {"/score", "/score_batch", "/explain", "/call_list", "/history", "/outcomes", "/find"}
)
# outermost first: the key is checked before anything else looks at the request
ChurnService.add_asgi_middleware(RequireKey)
ChurnService.add_asgi_middleware(ReadyBody)
ChurnService.add_asgi_middleware(JsonBodiesOnly)
