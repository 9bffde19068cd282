"""The week the service serves: the newest week in the score store, swapped in without a restart.

The weekly run (``churn weekly``) writes a week into the store in one transaction: its
scores, its call list and the path of the snapshot Parquet it scored. The service holds one
:class:`ServedWeek` at a time and looks for a newer one at most every
``serving.week_poll_s`` seconds (a background thread) and whenever ``/readyz`` is asked.
A newer week (later ``as_of``, or the same ``as_of`` rewritten by another model) is read
completely first (scores, call list, snapshot) and only then replaces the old one in a
single assignment, so a request sees either the old week or the new one, never a mix,
and a week that cannot be read (its snapshot file is gone) leaves the old one served.

The service only reads what the weekly run stored: with no week in the store the data
endpoints answer 503 "no week scored yet: run churn weekly" (:class:`NoWeekYet`) and
``/readyz`` says so, until the poller finds the first week.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from churn.config import REPO_ROOT, Config
from churn.errors import ChurnError, InputError, NotFound
from churn.utc import utc_day
from features.rules import available as rules_available
from features.rules import snapshot_flags
from features.snapshot_file import read_snapshot_file
from serving import stored_shap
from serving.loading import index_snapshots
from store import weeks as store_weeks

log = logging.getLogger("churn.service")
NO_WEEK = "no week scored yet: run churn weekly"
SNAPSHOTS_CACHED = 4  # earlier weeks' snapshots kept in memory (previous week, /explain as_of)


@functools.cache
def store_engine(url: str, busy_timeout_s: float = 30.0) -> Engine:
    """One engine per store URL and process (the service and its key check share it)."""
    from store.db import connect

    return connect(url, busy_timeout_s=busy_timeout_s)


def engine_for(cfg: Config) -> Engine:
    from store.db import store_url

    return store_engine(store_url(cfg), cfg.store.busy_timeout_s)


def resolve_snapshot_path(path: str) -> Path:
    """A stored snapshot path as a file: absolute as written; a relative one from the
    service's working directory, else from the repository root (where ``churn weekly``
    runs in the demo)."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return REPO_ROOT / p


def read_week_snapshot(path: str, as_of: date) -> pd.DataFrame:
    """The snapshot rows of ``as_of`` from a week's Parquet file, indexed by client_id."""
    file = resolve_snapshot_path(path)
    snaps = index_snapshots(read_snapshot_file(file), str(file))
    return snaps.get(as_of)


class NoWeekYet(ChurnError):
    """The store holds no week: nothing to answer from (the service answers 503)."""

    exit_code = 3


@dataclass(frozen=True, eq=False)
class ServedWeek:
    """One stored week as served: never mutated; replaced whole when a newer week arrives.
    Every number a data endpoint answers for its clients is read from here."""

    as_of: pd.Timestamp  # UTC midnight
    snapshot: pd.DataFrame  # the week's snapshot rows, indexed by client_id
    scores: pd.DataFrame  # stored scores, indexed by client_id
    call_list: pd.DataFrame  # stored call list by rank
    model_version: str  # the model that scored the week
    created_at: datetime | None = None
    snapshot_path: str | None = None
    # every client's raw SHAP values and base by position, as stored (serving.stored_shap);
    # None for a week stored without them
    shap: np.ndarray | None = None

    @property
    def day(self) -> date:
        return self.as_of.date()

    @property
    def as_of_text(self) -> str:
        return self.day.isoformat()

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.day, self.model_version, self.created_at)

    def names(self, ids: list[int]) -> list[str | None]:
        """The clients' names from the week's snapshot (None without one)."""
        from serving.centres import client_names

        names = client_names(self.snapshot).reindex(ids)
        return [v if isinstance(v, str) else None for v in names.tolist()]

    def position(self, client_id: int) -> int | None:
        """The client's row in :attr:`score_columns` (None: the week does not hold it)."""
        return self._position.get(int(client_id))

    def evidence(self, ids: list[int]) -> list[str | None]:
        """'full' | 'limited' per id as stored for the week; None for an id it does not hold."""
        flags = self.scores["evidence"]
        return [None if v is None or v != v else str(v) for v in flags.reindex(ids).tolist()]

    @functools.cached_property
    def score_columns(self) -> dict[str, list[Any]]:
        """The stored score columns ``/score`` answers, as plain Python lists by position
        (a lookup per request, no pandas row access): see :meth:`positions`."""
        s = self.scores
        return {
            "client_id": s["client_id"].astype("int64").tolist(),
            "probability": s["probability"].astype("float64").tolist(),
            "risk_band": s["risk_band"].astype(object).tolist(),
            "contact_index": nulls(s["contact_index"].astype("float64").tolist()),
            "rule_band": nulls(s["rule_band"].astype(object).tolist()),
            "evidence": nulls(s["evidence"].astype(object).tolist()),
            "name": self.names(s["client_id"].astype("int64").tolist()),
        }

    @functools.cached_property
    def _position(self) -> dict[int, int]:
        return {int(c): i for i, c in enumerate(self.scores["client_id"].tolist())}

    def positions(self, ids: list[int]) -> list[int | None]:
        """Each id's row in :attr:`score_columns`, None for a client the week does not hold."""
        where = self._position
        return [where.get(int(c)) for c in ids]

    @functools.cached_property
    def flags(self) -> pd.DataFrame | None:
        """Which contact-index conditions hold for each client of the snapshot
        (``features.rules.snapshot_flags``: an engine round trip, so once per week, not
        once per ``/explain``); None for a source without the rule indicator."""
        if not rules_available():
            return None
        try:
            return snapshot_flags(self.snapshot)
        except InputError as exc:  # its inputs missing: each /explain says so itself
            log.warning("week %s: rule conditions not precomputed: %s", self.as_of_text, exc)
            return None

    def shap_of(self, client_id: int, n_features: int) -> tuple[np.ndarray, float] | None:
        """The client's stored raw SHAP values and base (None: the week stored none, or
        not for a model of ``n_features`` features, or does not hold the client)."""
        if self.shap is None:
            return None
        i = self._position.get(int(client_id))
        return None if i is None else stored_shap.split(self.shap[i], n_features)

    def stored_row(self, client_id: int) -> dict[str, Any] | None:
        """The client's stored row as ``store.weeks.previous_score`` gives it (the week's
        as_of, model version, snapshot path, score and SHAP cell), None if not held."""
        i = self._position.get(int(client_id))
        if i is None:
            return None
        out = {name: values[i] for name, values in self.score_columns.items()}
        out.pop("name")
        cell = self.shap[i].tobytes() if self.shap is not None else None
        return {
            **out,
            "as_of": self.day,
            "model_version": self.model_version,
            "snapshot_path": self.snapshot_path,
            "shap_raw": cell,
        }

    def score_rows(self, ids: list[int]) -> list[dict[str, Any]]:
        """The stored score rows of ``ids`` (all held by the week), as ``/score`` answers."""
        cols = self.score_columns
        names = list(cols)
        return [{n: cols[n][i] for n in names} for i in self.positions(ids)]  # type: ignore[index]


def nulls(values: list[Any]) -> list[Any]:
    return [None if v is None or v != v else v for v in values]  # NaN != NaN


def from_store(
    engine: Engine, week: store_weeks.WeekInfo, snapshot: pd.DataFrame | None = None
) -> ServedWeek:
    """Read one stored week completely (scores, call list, snapshot unless given) into
    memory."""
    if not week.snapshot_path:
        raise NotFound(f"week {week.as_of}: the store names no snapshot file for it")
    if snapshot is None:
        snapshot = read_week_snapshot(week.snapshot_path, week.as_of)
    scores = store_weeks.read_scores(engine, week.as_of, week.model_version)
    calls = store_weeks.read_call_list(engine, week.as_of, week.model_version)
    shap = stored_shap.decode_all(scores.pop("shap_raw").tolist())  # kept once, decoded
    return ServedWeek(
        as_of=utc_day(week.as_of),
        snapshot=snapshot,
        scores=scores.set_index("client_id", drop=False).rename_axis(None),
        call_list=calls,
        model_version=week.model_version,
        created_at=week.created_at,
        snapshot_path=week.snapshot_path,
        shap=shap,
    )


class CurrentWeek:
    """The served week and the store it polls.

    Thread-safe: one refresh at a time; readers never wait for one.
    """

    def __init__(self, engine: Engine, *, poll_s: float) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self._served: ServedWeek | None = None
        # the newest stored week before the served one, in memory, with the key of the
        # served week it precedes (one assignment): what "what changed" compares with (a
        # lookup, not a store query per /explain)
        # (None in place of the week: the served week is the first stored one)
        self._previous: tuple[tuple[Any, ...], ServedWeek | None] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.last_error: str | None = None
        self._cache: OrderedDict[tuple[str, date], pd.DataFrame] = OrderedDict()
        self._cache_lock = threading.Lock()

    # ------------------------------------------------------------------ serving

    def get(self) -> ServedWeek:
        """The served week; :class:`NoWeekYet` while the store holds none."""
        served = self._served
        if served is None:
            raise NoWeekYet(NO_WEEK)
        return served

    def current(self) -> ServedWeek | None:
        return self._served

    @property
    def ready(self) -> bool:
        return self._served is not None

    def start(self) -> ServedWeek | None:
        """The first load: the newest stored week (None while the store holds none)."""
        self.refresh()
        if self._served is None:
            log.warning("%s (the service answers 503 until one is stored)", NO_WEEK)
        return self._served

    def refresh(self) -> bool:
        """Serve the newest stored week if it is not the one served; True when swapped.
        A week that cannot be read is logged (``last_error``) and the old one kept."""
        with self._lock:
            try:
                week = store_weeks.latest_week(self.engine)
            except Exception as exc:  # noqa: BLE001 — the store is down: keep serving
                self.last_error = f"reading the store failed: {type(exc).__name__}: {exc}"
                log.warning(self.last_error)
                return False
            if week is None:
                return False
            current = self._served
            key = (week.as_of, week.model_version, week.created_at)
            if current is not None and current.key == key:
                self._load_previous(current)  # an earlier week may have been (re)written
                return False
            try:
                served = from_store(self.engine, week)
            except Exception as exc:  # noqa: BLE001 — any unreadable week: keep the old one
                self.last_error = f"week {week.as_of} not served: {type(exc).__name__}: {exc}"
                log.error(self.last_error)
                return False
            served.flags  # noqa: B018 — computed before the first /explain needs them
            self._served = served  # the swap: one assignment
            self.last_error = None
            self._load_previous(served)
            log.info(
                "serving week %s (model %s, %d clients)",
                served.as_of_text,
                served.model_version,
                len(served.snapshot),
            )
            return True

    def _load_previous(self, served: ServedWeek) -> None:
        """Hold the newest stored week before the served one in memory (its snapshot
        through the cache), unless it is held already. Until it is, and for a client it
        does not hold, :meth:`previous` asks the store."""
        try:
            earlier = [w for w in store_weeks.list_weeks(self.engine) if w.as_of < served.day]
            if not earlier:  # the first week: no client has a previous one
                self._previous = (served.key, None)
                return
            if not earlier[-1].snapshot_path:
                self._previous = None
                return
            info = earlier[-1]
            held = self._previous
            key = (info.as_of, info.model_version, info.created_at)
            if held is not None and held[0] == served.key and held[1] and held[1].key == key:
                return
            snapshot = self.cached_snapshot(str(info.snapshot_path), info.as_of)
            self._previous = (served.key, from_store(self.engine, info, snapshot))
        except Exception as exc:  # noqa: BLE001 — only a lookup table: the store answers
            self._previous = None
            log.warning("previous week not held in memory: %s", exc)

    def poll(self) -> None:
        """Refresh every ``poll_s`` seconds until :meth:`stop` (a daemon thread's loop)."""
        while not self._stop.wait(self.poll_s):
            self.refresh()

    def start_polling(self) -> threading.Thread:
        thread = threading.Thread(target=self.poll, name="churn-week-poller", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ other weeks

    def cached_weeks(self) -> list[date]:
        """The as_of of each earlier week's snapshot held in memory, oldest use first."""
        with self._cache_lock:
            return [as_of for _, as_of in self._cache]

    def cached_snapshot(self, path: str, as_of: date) -> pd.DataFrame:
        """A stored week's snapshot (the last few kept in memory)."""
        key = (path, as_of)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        frame = read_week_snapshot(path, as_of)
        with self._cache_lock:
            self._cache[key] = frame
            while len(self._cache) > SNAPSHOTS_CACHED:
                self._cache.popitem(last=False)
        return frame

    def snapshot_of(self, as_of: date | None) -> tuple[pd.DataFrame, pd.Timestamp, str]:
        """The snapshot of the stored week ``as_of`` (the served week's when None or equal),
        its date and the model version that scored that week."""
        served = self.get()
        if as_of is None or as_of == served.day:
            return served.snapshot, served.as_of, served.model_version
        week = store_weeks.get_week(self.engine, as_of)
        if week is None:
            have = ", ".join(w.as_of.isoformat() for w in store_weeks.list_weeks(self.engine)[-6:])
            raise NotFound(f"as_of: no stored week {as_of.isoformat()} (latest: {have})")
        if not week.snapshot_path:
            raise NotFound(f"as_of: the store names no snapshot file for {as_of.isoformat()}")
        frame = self.cached_snapshot(week.snapshot_path, week.as_of)
        return frame, utc_day(week.as_of), str(week.model_version)

    def previous(self, client_id: int, before: date) -> tuple[dict[str, Any], pd.DataFrame] | None:
        """The client's stored score of the last week before ``before`` and that week's
        snapshot row (one-row frame); None when there is no such week or row. For the
        served week's clients, from the previous week held in memory when it holds them."""
        served, pair = self._served, self._previous
        held = None
        if served and pair and (pair[0], before) == (served.key, served.day):
            if pair[1] is None:
                return None  # no week before the served one
            held = pair[1]
        if held is not None:
            row = held.stored_row(client_id)
            if row is not None:  # the newest earlier week holds the client: that one
                if client_id not in held.snapshot.index:
                    return None
                return row, held.snapshot.loc[[client_id]]
        prev = store_weeks.previous_score(self.engine, client_id, before)
        if prev is None or not prev.get("snapshot_path"):
            return None
        try:
            frame = self.cached_snapshot(prev["snapshot_path"], prev["as_of"])
        except (ChurnError, OSError) as exc:
            log.warning("previous week %s unreadable: %s", prev["as_of"], exc)
            return None
        if client_id not in frame.index:
            return None
        return prev, frame.loc[[client_id]]


def parse_day(value: Any) -> date:
    """A request's ``as_of`` (already a date after validation) as a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"as_of: expected a date YYYY-MM-DD, got {value!r}") from None
