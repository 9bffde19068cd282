"""The churn-risk service: one BentoML service over the scoring, explanation and call-list
functions (``serving.scoring``, ``serving.explain``, ``serving.calllist``).

It loads the model by registry alias and the snapshot(s) once, in a background thread
started with the service, so ``/healthz`` answers at once and ``/readyz`` turns 200 only
when both are in memory. Settings come from the environment (set by ``churn serve``):

* ``CHURN_CONFIG``: config YAML (default ``configs/default.yaml``);
* ``CHURN_MODEL_ALIAS``: registry alias (default ``serving.alias``, i.e. champion);
* ``MLFLOW_TRACKING_URI``: the registry (default ``paths.mlflow_tracking_uri``);
* ``CHURN_FEATURES``: snapshot Parquet file, every as_of in it kept, latest by default;
  or ``CHURN_RAW_DIR``: raw data, the snapshot built as of its newest event at start-up;
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
import os
import subprocess
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
from pydantic import Field
from starlette.staticfiles import StaticFiles

from churn.config import REPO_ROOT, Config, load_config
from churn.errors import ChurnError, NotFound
from serving.calllist import build_call_list, call_list_records
from serving.explain import explain_client
from serving.loading import Snapshots, load_model, load_snapshots
from serving.schemas import (
    INT64_MAX,
    CallListRequest,
    CallListResponse,
    ExplainRequest,
    ExplainResponse,
    ScoreRequest,
    ScoreResponse,
)
from serving.scoring import score_frame

log = logging.getLogger("churn.service")
BatchId = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_IDS_SHOWN = 5

web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
web.mount("/ui", StaticFiles(directory=STATIC_DIR, html=True, check_dir=False), name="ui")


@dataclass
class Loaded:
    """Everything the endpoints read; built once at start-up, never mutated."""

    cfg: Config
    model: Any  # training.model.ChurnModel
    version: str
    alias: str
    run_id: str
    snapshots: Snapshots
    git_commit: str


def git_commit() -> str:
    if commit := os.environ.get("CHURN_GIT_COMMIT"):
        return commit
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def load_everything() -> Loaded:
    """Config, model and snapshots as the environment says (see the module docstring)."""
    cfg = load_config(os.environ.get("CHURN_CONFIG") or None)
    from churn.tracking import setup_mlflow

    setup_mlflow(cfg)
    alias = os.environ.get("CHURN_MODEL_ALIAS") or cfg.serving.alias
    loaded = load_model(cfg, alias)
    raw = os.environ.get("CHURN_RAW_DIR")
    features = os.environ.get("CHURN_FEATURES")
    snapshots = load_snapshots(
        cfg,
        features_file=Path(features) if features else None,
        raw=Path(raw) if raw and not features else None,
    )
    return Loaded(
        cfg=cfg,
        model=loaded.model,
        version=str(loaded.version),
        alias=str(loaded.alias),
        run_id=str(loaded.run_id),
        snapshots=snapshots,
        git_commit=git_commit(),
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


def not_found(missing: list[int]) -> JSONResponse:
    shown = ", ".join(str(i) for i in missing[:MAX_IDS_SHOWN])
    more = f" and {len(missing) - MAX_IDS_SHOWN} more" if len(missing) > MAX_IDS_SHOWN else ""
    noun = "client" if len(missing) == 1 else "clients"
    return error(404, f"client_ids: unknown {noun} {shown}{more}", "client_ids")


# Prometheus metrics beside BentoML's request metrics (bentoml.metrics builds them lazily,
# in multiprocess mode): what the service is scoring, and with which model.
SCORED = bentoml.metrics.Counter(
    name="churn_scored_clients",
    documentation="Clients answered, by endpoint and model risk band",
    labelnames=["endpoint", "risk_band"],
)
MODEL_INFO = bentoml.metrics.Gauge(
    name="churn_model_info",
    documentation="1 for the loaded model version, alias and snapshot date",
    labelnames=["version", "alias", "as_of"],
)


def count_bands(endpoint: str, bands: list[str]) -> None:
    for band, n in collections.Counter(bands).items():
        SCORED.labels(endpoint=endpoint, risk_band=str(band)).inc(n)


@bentoml.service(name="churn_risk", traffic={"timeout": 120}, workers=1)
@bentoml.asgi_app(web, path="/")
class ChurnService:
    """Scores, explanations and the call list for the loaded model and snapshot."""

    def __init__(self) -> None:
        self.loaded: Loaded | None = None
        self.load_error: str | None = None
        threading.Thread(target=self._load, name="churn-loader", daemon=True).start()

    def _load(self) -> None:
        try:
            self.loaded = load_everything()
            MODEL_INFO.labels(
                version=self.loaded.version,
                alias=self.loaded.alias,
                as_of=self.loaded.snapshots.latest.date().isoformat(),
            ).set(1)
            log.info(
                "loaded model %s and %d snapshot(s)",
                self.loaded.version,
                len(self.loaded.snapshots.by_as_of),
            )
        except ChurnError as exc:  # a user-facing problem: one line, no traceback
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("loading the model or snapshot failed: %s", self.load_error)
        except Exception as exc:  # noqa: BLE001 — reported by /readyz and every endpoint
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("loading the model or snapshot failed")

    def __is_ready__(self) -> bool:
        return self.loaded is not None

    def _not_ready(self) -> JSONResponse:
        reason = self.load_error or "model and snapshot are still loading"
        return error(503, f"service not ready: {reason}")

    # ------------------------------------------------------------------ scoring

    def _score_ids(self, ids: list[int]) -> pd.DataFrame:
        ld = self.loaded
        assert ld is not None
        snapshot = ld.snapshots.get()
        return score_frame(ld.model, snapshot.loc[ids], ld.cfg.rules)

    def _score_features(self, clients: list[Any]) -> pd.DataFrame:
        ld = self.loaded
        assert ld is not None
        frame = pd.DataFrame([c.model_dump() for c in clients])
        return score_frame(ld.model, frame, ld.cfg.rules)

    def _score_response(self, rows: list[dict[str, Any]], as_of: str | None) -> ScoreResponse:
        ld = self.loaded
        assert ld is not None
        count_bands("score", [r["risk_band"] for r in rows])
        return ScoreResponse.model_validate(
            {"model_version": ld.version, "as_of": as_of, "scores": rows}
        )

    @bentoml.api(route="/score")
    async def score(self, request: ScoreRequest, /) -> ScoreResponse:
        """Scores for clients of the loaded snapshot (``client_ids``) or given ``clients``."""
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
                scores = await anyio.to_thread.run_sync(self._score_features, clients)
                return self._score_response(score_records(scores), None)
            missing = unknown_ids(ids, ld.snapshots.get().index)
            if missing:
                return not_found(missing)  # type: ignore[return-value]
            as_of = ld.snapshots.latest.date().isoformat()
            if len(ids) == 1:  # one caller's client: let adaptive batching group callers
                try:
                    rows = await self.to_async.score_batch([ids[0]])  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 — ids are known, so this is the batch path
                    # failing (the batcher sheds load with a 503 when busy; its internal
                    # transport can reset under concurrency): score this one client directly
                    log.warning("batched /score failed; scoring client %s directly", ids[0])
                    rows = score_records(await anyio.to_thread.run_sync(self._score_ids, ids))
                return self._score_response(rows, as_of)
            scores = await anyio.to_thread.run_sync(self._score_ids, ids)
            return self._score_response(score_records(scores), as_of)
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
        known = self.loaded.snapshots.get().index
        found = np.isin(np.asarray(client_ids, dtype=np.int64), known.to_numpy())
        known_ids = [c for c, f in zip(client_ids, found, strict=True) if f]
        rows = score_records(self._score_ids(known_ids)) if known_ids else []
        scored = iter(rows)
        empty = {"probability": None, "risk_band": None, "contact_index": None, "rule_band": None}
        return [
            next(scored) if f else {"client_id": c, **empty}
            for c, f in zip(client_ids, found, strict=True)
        ]

    # ------------------------------------------------------------------ explain

    def _explain(self, client_id: int, top_k: int, as_of: Any = None) -> dict[str, Any]:
        ld = self.loaded
        assert ld is not None
        snapshot = ld.snapshots.get(as_of)
        if client_id not in snapshot.index:
            when = snapshot["as_of"].iloc[0].date().isoformat()
            raise NotFound(f"client_id: unknown client {client_id} in the snapshot of {when}")
        row = snapshot.loc[[client_id]]
        out = explain_client(ld.model, row, top_k=top_k, reasons=ld.cfg.reasons, rules=ld.cfg.rules)
        out["model_version"] = ld.version
        return out

    @bentoml.api(route="/explain")
    async def explain(self, request: ExplainRequest, /) -> ExplainResponse:
        """SHAP contributions, drivers in words with reason group and action, and the rule."""
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
            out = await anyio.to_thread.run_sync(
                self._explain, request.client_id, request.top_k, request.as_of
            )
            count_bands("explain", [out["risk_band"]])
            return ExplainResponse.model_validate(out)
        except ChurnError as exc:
            return churn_error(exc)  # type: ignore[return-value]

    # ------------------------------------------------------------------ call list

    def _call_list(self, request: CallListRequest) -> dict[str, Any]:
        ld = self.loaded
        assert ld is not None
        snapshot = ld.snapshots.get(request.as_of)
        calls = build_call_list(
            ld.model,
            snapshot,
            capacity=request.capacity,
            reasons=ld.cfg.reasons,
            ranking=request.ranking or ld.cfg.serving.ranking,
            segment=request.segment,
            service_mode=request.service_mode,
            rules=ld.cfg.rules,
            retention=ld.cfg.retention,
        )
        return {
            "as_of": snapshot["as_of"].iloc[0].date().isoformat(),
            "model_version": ld.version,
            "ranking": request.ranking or ld.cfg.serving.ranking,
            "clients": call_list_records(calls),
        }

    @bentoml.api(route="/call_list")
    async def call_list(self, request: CallListRequest, /) -> CallListResponse:
        """The ``capacity`` clients to call first, with their top reasons and actions."""
        if self.loaded is None:
            return self._not_ready()  # type: ignore[return-value]
        try:
            out = await anyio.to_thread.run_sync(self._call_list, request)
            count_bands("call_list", [c["risk_band"] for c in out["clients"]])
            return CallListResponse.model_validate(out)
        except ChurnError as exc:
            return churn_error(exc)  # type: ignore[return-value]

    # ------------------------------------------------------------------ plain GET routes

    @web.get("/version")
    def version(self) -> JSONResponse:
        ld = self.loaded
        if ld is None:
            return self._not_ready()
        return JSONResponse(
            {
                "model_name": ld.cfg.serving.model_name,
                "model_version": ld.version,
                "alias": ld.alias,
                "run_id": ld.run_id,
                "as_of": ld.snapshots.latest.date().isoformat(),
                "as_of_available": [t.date().isoformat() for t in sorted(ld.snapshots.by_as_of)],
                "n_clients": int(len(ld.snapshots.get())),
                "horizon_days": int(getattr(ld.model, "horizon_days", 0)),
                "risk_thresholds": dict(ld.model.risk_thresholds),
                "git_commit": ld.git_commit,
            }
        )

    @web.get("/ui")
    def ui(self) -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")


def _nulls(values: list[Any]) -> list[Any]:
    return [None if v is None or v != v else v for v in values]  # NaN != NaN


def score_records(scores: pd.DataFrame) -> list[dict[str, Any]]:
    """Score rows as JSON-safe dicts (a missing contact index or band becomes null).
    Column-wise ``tolist`` rather than ``DataFrame.to_dict``: 10 000 rows in a few ms."""
    columns = {
        "client_id": scores["client_id"].astype("int64").tolist(),
        "probability": scores["probability"].astype("float64").tolist(),
        "risk_band": scores["risk_band"].astype(object).tolist(),
        "contact_index": _nulls(scores["contact_index"].astype("float64").tolist()),
        "rule_band": _nulls(scores["rule_band"].astype(object).tolist()),
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


API_ROUTES = frozenset({"/score", "/score_batch", "/explain", "/call_list"})
ChurnService.add_asgi_middleware(JsonBodiesOnly)
