"""The weekly run: ``churn weekly`` — one week scored, stored and turned into a call list.

A centre runs this once a week on the newest export. :func:`run_weekly` is the I/O edge:
validate the raw export, build the snapshot as of the week's date, score every active
client with the champion, write the snapshot to ``data/weeks/as_of=YYYY-MM-DD.parquet``
and the week (scores and call list) to the score store in one transaction, then say what
changed since the previous stored week. :func:`score_week` is the pure part: model +
snapshot + who was recently called -> the rows the store keeps.

**One producer of lists.** :func:`build_week` (the store's exclusions, then
:func:`score_week`) is the only place a call list is made: ``churn weekly`` keeps what
:func:`prepare_week` built, ``churn call-list`` writes the same prepared week as a CSV and
keeps nothing (:func:`dry_run`), the closed-loop simulation and the benchmarks call it on
their snapshots. The service never builds a list: it reads the stored one.

Why the pieces are where they are:

* **Same numbers as everywhere else.** Probabilities and bands come from
  :func:`serving.scoring.score_frame`, the top drivers from
  :func:`serving.explain.contributions` (LightGBM's TreeSHAP on the whole frame at once, in
  the order :func:`serving.explain.explain_frame` gives), money, ranking and the
  profit-optimal size from :mod:`serving.calllist`, the holdout from :mod:`serving.holdout`,
  the evidence flag from :mod:`serving.evidence`. Nothing here redefines a score.
* **Cheap enough to run on every client.** Every client's top three drivers are stored
  (feature, value, contribution); the sentences, reason groups and actions are added for
  the listed clients only (what a specialist reads before dialling; ``/explain`` words any
  other client on request): wording 100 000 clients would cost more than scoring them.
* **Validation beside the work, its verdict first.** The full contract check
  (``features.schema.inspect_dir``: a DuckDB proof per table, pandera and the row-level
  joins only for a table the proof does not clear) runs in its own thread while the
  snapshot is built and scored, and is awaited before the snapshot is renamed or the week
  written: a bad export keeps nothing, and its one-line reason wins over whatever else
  failed on the same files. A clean result is recorded by the export's digest, so a rerun
  or ``--weeks-back`` on the same files does not repeat it.
* **Every client's drivers, at the cost of about half a snapshot.** Exact TreeSHAP for all
  clients goes through :mod:`serving.treeshap` (LightGBM's values, 2-3x faster), the JSON
  the store keeps is built column-wise (:mod:`serving.drivers`), the probabilities are the
  contributions' sum (no second pass over the trees), and the run holds the cyclic
  garbage collector off (:mod:`churn.bulk`).
* **Two consecutive weeks differ.** Clients reached on a call within
  ``serving.recall_after_days`` (``store.outcomes.recently_called``) are left out before
  the list is sized, so the next clients move up; clients no longer active are not in the
  snapshot at all.
* **The holdout is drawn over the list the centre would call**, stratified by risk decile
  of the whole scored week; the stored call list keeps called and held-out clients with
  their assignment and propensity, ``selected`` is true only for the called ones (what the
  scheduler gets). A client the store sent to the scheduler within the washout is never
  drawn as a control (it may have been called, whether or not an outcome was posted).
* **A killed run changes nothing.** The snapshot is written to a temporary file and
  renamed to a file of its own run (``as_of=D.<run id>.parquet``: never over the file a
  stored week points at); the store write is one transaction that points the week at that
  file, so until it commits every earlier week (and an earlier version of this week, with
  its snapshot) stays as it was and is served as it was. After the commit, files no stored
  week points at and temporary files of dead runs are removed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churn.bulk import collector_paused
from churn.config import Config
from churn.errors import InputError
from churn.progress import Advance, counter
from features import rules
from serving.calllist import rank_scores, with_money_columns
from serving.centres import centre_groups, has_centres
from serving.drivers import TopDrivers, reason_key, top_drivers, with_words
from serving.evidence import evidence_flags
from serving.holdout import CALL, assign_holdout, risk_deciles
from serving.scoring import score_frame
from serving.sizing import ListSizing, WeekSizing
from training.model import ChurnModel

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger("churn.weekly")
# the steps :func:`prepare_week` reports as done (a bar on a terminal): the validation
# runs beside the snapshot and the scoring, and is awaited last
PREPARE_STEPS = ("snapshot built", "scored with drivers", "export validated")
BANDS = ("high", "dynamic", "no_threat")
_BAND_LEVEL = {"no_threat": 0, "dynamic": 1, "high": 2}
# tables whose absence for a client leaves its signals at defaults ("limited evidence")
EVIDENCE_TABLES = ("users", "invoices")
VALIDATED_FILE = "validated.json"  # digests of exports that passed validation
VALIDATED_KEPT = 50
SCORE_COLUMNS = (
    "client_id",
    "centre_id",  # missing for a single centre's export
    "name",  # missing when the export has no client names
    "probability",
    "risk_band",
    "contact_index",
    "rule_band",
    "rank",
    "drivers",
    "shap_raw",  # every raw SHAP value: /explain's lookup (serving.stored_shap)
    "evidence",
    "expected_loss_rub",
    "expected_profit_rub",
    "monthly_fee_rub",
    "segment",
    "service_mode",
    "risk_decile",
)
CALL_COLUMNS = (
    "client_id",
    "centre_id",
    "rank",  # within the centre in a network export
    "selected",
    "reason",
    "ranking",
    "expected_profit_rub",
    "assignment",
    "propensity",
    "risk_decile",
    "probability",
    "expected_loss_rub",
)


@dataclass
class WeekFrames:
    """One scored week: every client's row, the call list (called + held out), its size."""

    scores: pd.DataFrame
    call_list: pd.DataFrame
    sizing: WeekSizing


@dataclass(frozen=True)
class Exclusions:
    """What the store says about the clients before a week is listed.

    ``recently_called``: reached on a call within ``serving.recall_after_days`` (left off
    the list); ``held_out``: controls of a holdout still within its washout (left off the
    list in both arms); ``sent``: sent to the scheduler within the washout, whatever
    outcomes arrived (listed clients among them are called, never drawn as controls).
    """

    recently_called: frozenset[int] = frozenset()
    held_out: frozenset[int] = frozenset()
    sent: frozenset[int] = frozenset()


def washout_days(cfg: Config, model: Any) -> int:
    """``retention.holdout_washout_days``, or the model's horizon when unset."""
    days = cfg.retention.holdout_washout_days
    return int(getattr(model, "horizon_days", 90)) if days is None else int(days)


def week_exclusions(
    store: Engine | None, as_of: date, cfg: Config, model: Any, also: Collection[int] = ()
) -> Exclusions:
    """The store's exclusions for the week ``as_of`` (none without a store); ``also``: more
    clients to leave off as recently called (the simulation's relisting rule)."""
    extra = frozenset(int(c) for c in also)
    if store is None:
        return Exclusions(recently_called=extra)
    from store.outcomes import recently_called
    from store.weeks import held_out_since, sent_since

    washout = washout_days(cfg, model)
    recent = recently_called(store, as_of, cfg.serving.recall_after_days)
    return Exclusions(
        recently_called=frozenset(recent) | extra,
        held_out=frozenset(held_out_since(store, as_of, washout)),
        sent=frozenset(sent_since(store, as_of, washout)),
    )


@dataclass(frozen=True)
class Rerank:
    """Reorder a pool of the list's best candidates (``pool`` x capacity, already worded)
    by ``priority`` (higher first) and keep ``capacity`` of them: the uplift ranking of
    the simulation (``loop.closed_loop.uplift_rerank``). The holdout is drawn after."""

    priority: Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]
    name: str = "uplift"
    pool: int = 3


def build_week(
    model: ChurnModel,
    snapshot: pd.DataFrame,
    store: Engine | None,
    *,
    cfg: Config,
    as_of: date,
    capacity: int | None = None,
    missing_tables: Collection[int] = (),
    also_excluded: Collection[int] = (),
    rerank: Rerank | None = None,
) -> WeekFrames:
    """The one producer of a week: the store's exclusions (:func:`week_exclusions`) and
    :func:`score_week`. ``churn weekly``, ``churn call-list`` (its dry run), the closed-loop
    simulation and the benchmarks all build their weeks here."""
    excl = week_exclusions(store, as_of, cfg, model, also_excluded)
    return score_week(
        model,
        snapshot,
        cfg=cfg,
        as_of=as_of,
        recently_called=excl.recently_called,
        held_out=excl.held_out,
        sent=excl.sent,
        capacity=capacity,
        missing_tables=missing_tables,
        rerank=rerank,
    )


def score_week(
    model: ChurnModel,
    snapshot: pd.DataFrame,
    *,
    cfg: Config,
    as_of: date,
    recently_called: Collection[int] = (),
    capacity: int | None = None,
    missing_tables: Collection[int] = (),
    held_out: Collection[int] = (),
    sent: Collection[int] = (),
    rerank: Rerank | None = None,
) -> WeekFrames:
    """Score one week's snapshot (active clients as of ``as_of``) and build its call list.

    ``scores``: one row per client in the store's ``weekly_scores`` shape (rank by
    ``serving.ranking`` over all clients, top drivers, evidence, money, risk decile).
    ``call_list``: the min(capacity, profit-optimal) best clients not in
    ``recently_called``, each assigned 'call' or 'holdout' (seeded, stratified by risk
    decile of the whole week); ``selected`` is true for 'call'. ``held_out``: clients of a
    holdout still within its washout (``store.weeks.held_out_since``), left off the list in
    both arms so the control group stays uncalled. ``sent``: clients sent to the scheduler
    within the washout (``store.weeks.sent_since``): listed, they are called and never
    drawn as controls. ``sizing``: what bound the list, how many were left out as recently
    called or still held out, kept from the holdout as sent before, sent and held out.

    A network snapshot (``centre_id``, :mod:`serving.centres`) is ranked and listed per
    centre: each centre's list holds at most ``capacity`` of its own clients, ranked from
    1; ``sizing`` sums the centres and keeps each one's under ``"centres"``.
    """
    capacity = cfg.serving.default_capacity if capacity is None else int(capacity)
    if capacity <= 0:
        raise InputError(f"capacity: must be a positive number of clients, got {capacity}")
    if snapshot.empty:
        raise InputError(f"snapshot: no active clients as of {as_of}")
    snap = snapshot.reset_index(drop=True)
    ranking = cfg.serving.ranking
    drivers = top_drivers(model, snap)
    scored = with_money_columns(
        score_frame(model, snap, cfg.rules, raw=drivers.raw),
        snap,
        cfg.retention,
        horizon_days=int(getattr(model, "horizon_days", 90)),
    )
    scored["evidence"] = evidence_flags(snap, missing_tables=missing_tables).to_numpy()
    scored["risk_decile"] = risk_deciles(scored["probability"], cfg.retention.risk_deciles)
    # object dtype: pandas 3 would infer ``str`` and drop the JsonText mark the store trusts
    scored["drivers"] = pd.Series(drivers.json_texts(), index=scored.index, dtype=object)
    scored["shap_raw"] = pd.Series(drivers.shap_cells(), index=scored.index, dtype=object)
    called = set(int(c) for c in recently_called)
    controls = set(int(c) for c in held_out) - called
    network = has_centres(scored)
    groups = centre_groups(scored) if network else [(None, scored.index)]
    lists, per_centre = [], {}
    for centre, rows in groups:  # a network: each centre ranks and calls its own clients
        calls, per_centre[centre] = _one_list(
            model,
            snap,
            scored,
            rows,
            cfg=cfg,
            as_of=as_of,
            called=called,
            capacity=capacity,
            controls=controls,
            sent={int(c) for c in sent},
            drivers=drivers,
            rerank=rerank,
        )
        lists.append(calls)
    scored["rank"] = scored["rank"].astype("int64")
    assigned = pd.concat(lists, ignore_index=True)
    sent_n = int(assigned["selected"].sum())
    sizing = WeekSizing.of(
        per_centre,
        capacity=capacity,
        ranking=rerank.name if rerank is not None else ranking,
        sent=sent_n,
        held_out=len(assigned) - sent_n,
        holdout_share=float(cfg.retention.holdout_share),
    )
    keys = ["centre_id", "rank"] if network else ["rank"]
    scores = scored[list(SCORE_COLUMNS)].sort_values(keys, kind="mergesort")
    return WeekFrames(
        scores=scores.reset_index(drop=True),
        call_list=assigned[list(CALL_COLUMNS)].reset_index(drop=True),
        sizing=sizing,
    )


def _one_list(
    model: ChurnModel,
    snap: pd.DataFrame,
    scored: pd.DataFrame,
    rows: pd.Index,
    *,
    cfg: Config,
    as_of: date,
    called: set[int],
    capacity: int,
    drivers: TopDrivers,
    controls: Collection[int] = (),
    sent: Collection[int] = (),
    rerank: Rerank | None = None,
) -> tuple[pd.DataFrame, ListSizing]:
    """Rank ``rows`` of ``scored`` (one centre, or the whole single-centre week) in place,
    and build their call list: eligible, profit-sized, worded, holdout assigned."""
    ranking = cfg.serving.ranking
    ranked = rank_scores(scored.loc[rows], ranking)
    scored.loc[ranked.index, "rank"] = np.arange(1, len(ranked) + 1)
    recent_mask = ranked["client_id"].isin(called).to_numpy()
    control_mask = ranked["client_id"].isin(list(controls)).to_numpy() & ~recent_mask
    eligible_mask = ~(recent_mask | control_mask)
    eligible = ranked[eligible_mask]
    sizing = ListSizing.of(
        eligible,
        capacity if rerank is None else capacity * rerank.pool,
        excluded_recently_called=int(recent_mask.sum()),
        excluded_held_out=int(control_mask.sum()),
    )
    top = eligible.head(sizing.listed)
    worded = with_words(model, snap.loc[top.index], drivers.dicts(top.index.to_numpy()), cfg)
    texts = [json.dumps(d, ensure_ascii=False) for d in worded]
    scored.loc[top.index, "drivers"] = pd.Series(texts, index=top.index, dtype=object)
    top = scored.loc[top.index]
    listed = pd.DataFrame(
        {
            "client_id": top["client_id"].to_numpy(),
            "centre_id": top["centre_id"].to_numpy(),
            "rank": np.arange(1, len(top) + 1),
            "reason": [reason_key(d, cfg) for d in worded],
            "ranking": ranking,
            "expected_profit_rub": top["expected_profit_rub"].to_numpy(dtype=float),
            "probability": top["probability"].to_numpy(dtype=float),
            "expected_loss_rub": top["expected_loss_rub"].to_numpy(dtype=float),
        }
    )
    decile = top["risk_decile"].to_numpy()
    if rerank is not None:  # the pool reordered, ``capacity`` of it kept
        priority = np.asarray(rerank.priority(listed, snap.loc[top.index]), dtype=float)
        order = np.lexsort((listed["client_id"].to_numpy(), -priority))[:capacity]
        listed = listed.iloc[order].reset_index(drop=True)
        listed = listed.assign(rank=np.arange(1, len(listed) + 1), ranking=rerank.name)
        decile = decile[order]
        sizing = replace(sizing, capacity=int(capacity), listed=len(listed))
    was_sent = listed["client_id"].isin(list(sent)).to_numpy()
    assigned = assign_holdout(
        listed,
        decile=decile,
        share=cfg.retention.holdout_share,
        seed=cfg.retention.holdout_seed,
        as_of=as_of,
        eligible=~was_sent,
    )
    assigned["selected"] = (assigned["assignment"] == CALL).to_numpy()
    sizing = replace(sizing, kept_from_holdout=int(was_sent.sum()))
    return assigned, sizing


# ---------------------------------------------------------------- the weekly run (I/O)


@dataclass
class WeekSummary:
    """What ``churn weekly`` reports: the week, its bands, what moved, the call list."""

    as_of: str
    model_version: str
    alias: str
    clients: int
    bands: dict[str, int]
    rule_bands: dict[str, int]
    previous_as_of: str | None
    changed_band: int | None
    rose: int | None
    fell: int | None
    new_clients: int | None
    call_list: int
    sent: int
    held_out: int
    excluded_recently_called: int
    capacity: int
    profit_optimal_count: int
    capacity_binds: bool
    ranking: str
    snapshot_path: str
    store: str
    validation: str = "full"
    excluded_held_out: int = 0
    kept_from_holdout: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    no_rule: dict[str, str] | None = None  # language -> why there are no rule bands

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self, lang: str = "en") -> list[str]:
        """The printed summary, in English or Russian."""
        words = _WORDS["ru" if lang == "ru" else "en"]
        bands = ", ".join(f"{b} {self.bands.get(b, 0)}" for b in BANDS)
        rules = ", ".join(f"{b} {self.rule_bands.get(b, 0)}" for b in BANDS)
        if self.no_rule:
            rules = self.no_rule.get(lang) or self.no_rule.get("en", "")
        out = [
            words["week"].format(s=self, validation=words.get(self.validation, self.validation)),
            words["bands"].format(bands=bands, rules=rules),
        ]
        if self.previous_as_of is None:
            out.append(words["first"])
        else:
            out.append(words["changes"].format(s=self))
        bound = words["capacity_binds"] if self.capacity_binds else words["profit_binds"]
        out.append(words["calls"].format(s=self, bound=bound))
        out.append(words["where"].format(s=self))
        return out


_WORDS = {
    "en": {
        "week": "week {s.as_of}: {s.clients} active clients scored with model version "
        "{s.model_version} ({s.alias}); export {validation}",
        "full": "validated",
        "already validated": "already validated (same files)",
        "bands": "risk bands: {bands}; rule bands: {rules}",
        "first": "no earlier week in the store: nothing to compare yet",
        "changes": "since {s.previous_as_of}: {s.changed_band} changed band ({s.rose} rose, "
        "{s.fell} fell), {s.new_clients} new clients",
        "calls": "call list: {s.call_list} clients ranked by {s.ranking} ({bound}; capacity "
        "{s.capacity}, {s.profit_optimal_count} with positive expected profit): {s.sent} sent "
        "to the scheduler, {s.held_out} held out at random, {s.excluded_recently_called} left "
        "out as recently called, {s.excluded_held_out} as controls of an earlier holdout; "
        "{s.kept_from_holdout} sent within the washout, so called and never held out",
        "capacity_binds": "capacity binds",
        "profit_binds": "the profit-optimal count binds",
        "where": "stored in {s.store}; snapshot {s.snapshot_path}",
    },
    "ru": {
        "week": "неделя {s.as_of}: оценено {s.clients} активных клиентов, модель версии "
        "{s.model_version} ({s.alias}); выгрузка {validation}",
        "full": "проверена",
        "already validated": "уже проверена (те же файлы)",
        "bands": "группы риска: {bands}; по правилу: {rules}",
        "first": "в хранилище нет предыдущей недели: сравнивать пока не с чем",
        "changes": "с {s.previous_as_of}: группа сменилась у {s.changed_band} (выше у {s.rose}, "
        "ниже у {s.fell}), новых клиентов {s.new_clients}",
        "calls": "список обзвона: {s.call_list} клиентов по {s.ranking} ({bound}; ёмкость "
        "{s.capacity}, с положительной ожидаемой прибылью {s.profit_optimal_count}): "
        "{s.sent} передано в планировщик, {s.held_out} в случайной контрольной группе, "
        "{s.excluded_recently_called} исключены как недавно обзвоненные, "
        "{s.excluded_held_out} как контрольная группа прошлых недель; "
        "{s.kept_from_holdout} уже переданы в планировщик недавно: только в обзвон, не в контроль",
        "capacity_binds": "ограничивает ёмкость",
        "profit_binds": "ограничивает число выгодных звонков",
        "where": "записано в {s.store}; снимок {s.snapshot_path}",
    },
}


def new_run_id() -> str:
    """``<pid>-<random>``: names one run's snapshot file. The pid says whether the run that
    wrote a file is still alive (:func:`clean_weeks_dir`)."""
    import uuid

    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def week_path(cfg: Config, as_of: date, run_id: str) -> Path:
    """``<weeks_dir>/as_of=YYYY-MM-DD.<run_id>.parquet``: the snapshot one run of a week
    scored. A file per run: a rerun of a stored week never replaces the file the stored
    week points at, so a run killed or failing before its commit leaves the served week
    whole (issue 18, item 3); the store points at the file of the run it committed."""
    return Path(cfg.paths.weeks_dir) / f"as_of={as_of.isoformat()}.{run_id}.parquet"


_WEEK_FILE = re.compile(r"^as_of=\d{4}-\d{2}-\d{2}\.(\d+)-[0-9a-f]+\.parquet$")
_TMP_FILE = re.compile(r"^\..+\.(\d+)\.tmp$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_weeks_dir(cfg: Config, referenced: Collection[str]) -> list[Path]:
    """Remove what no stored week needs from ``weeks_dir``: run snapshot files that no
    stored week points at (a rerun's replaced file, a killed run's renamed one) and the
    temporary files of runs no longer alive. Files of a run still alive (another weekly
    run between its rename and its commit) are kept. Returns what was removed."""
    folder = Path(cfg.paths.weeks_dir)
    if not folder.is_dir():
        return []
    keep = {Path(p).resolve() for p in referenced}
    removed = []
    for path in folder.iterdir():
        run = _WEEK_FILE.match(path.name)
        tmp = _TMP_FILE.match(path.name)
        if run and (path.resolve() in keep or _alive(int(run.group(1)))):
            continue
        if tmp and _alive(int(tmp.group(1))):
            continue
        if run or tmp:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def validate_raw(cfg: Config, raw_dir: Path, *, revalidate: bool = False) -> str:
    """The checks of ``churn validate``; the first violation named in one line.

    A clean result is recorded by the export's digest (:func:`features.provenance.raw_digest`:
    names, sizes and Parquet footers of every table) in ``<weeks_dir>/validated.json``; the
    same export again (a rerun, ``--weeks-back``) skips the value checks, which read every
    event and cost several times the snapshot. Any changed file changes the digest.
    Returns ``"full"`` or ``"already validated"``.
    """
    from features.provenance import raw_digest
    from features.source import violations as contract_violations

    record = Path(cfg.paths.weeks_dir) / VALIDATED_FILE
    try:
        digest: str | None = raw_digest(raw_dir)
    except InputError:
        digest = None  # not even readable footers: the full check names the file
    known = _validated(record)
    if digest is not None and digest in known and not revalidate:
        return "already validated"
    violations = contract_violations(cfg, raw_dir)
    if violations:
        tables = sorted({v.table for v in violations})
        raise InputError(
            f"{raw_dir}: {len(violations)} contract violation(s) in {', '.join(tables)}; "
            f"first: {violations[0].line()} (churn validate {raw_dir} lists all)"
        )
    if digest is not None:
        known[digest] = {"raw_dir": str(Path(raw_dir).resolve()), "validated_at": _now()}
        _write_json(record, dict(list(known.items())[-VALIDATED_KEPT:]))
    return "full"


def _validated(record: Path) -> dict[str, Any]:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` next to ``path`` and rename it into place (never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def week_date(
    raw_dir: Path, as_of: date | None, today: date | None = None, cfg: Config | None = None
) -> date:
    """The week's as_of: the day after the newest event by default; never later than
    that (nothing would be known of those days), never in the future, never on or before
    the first activity event. ``cfg`` says which source (default: the centre's)."""
    if cfg is None:
        from features.dates import data_span as centre_span

        first, newest = centre_span(raw_dir)
    else:
        from features.source import data_span

        first, newest = data_span(cfg, raw_dir)
    latest = newest + timedelta(days=1)
    today = today or date.today()
    if as_of is None:
        return latest
    if as_of > today:
        raise InputError(f"--as-of: {as_of} is in the future (today is {today})")
    if as_of > latest:
        raise InputError(
            f"--as-of: {as_of} is after the day after the newest event ({newest}) in {raw_dir}"
        )
    if as_of <= first:
        raise InputError(
            f"--as-of: {as_of} is not after the first activity event ({first}): nothing known yet"
        )
    return as_of


def clients_missing_tables(
    raw_dir: Path, as_of: date, tables: Collection[str] = EVIDENCE_TABLES
) -> set[int]:
    """Clients with no row before ``as_of`` in one of ``tables`` (their signals default)."""
    import duckdb

    raw_dir = Path(raw_dir)
    cutoff = pd.Timestamp(as_of).isoformat()
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        clients = f"read_parquet('{(raw_dir / 'clients.parquet').as_posix()}')"
        missing: set[int] = set()
        for name in tables:
            path = (raw_dir / f"{name}.parquet").as_posix()
            rows = con.execute(
                f"SELECT c.client_id FROM {clients} c WHERE NOT EXISTS (SELECT 1 FROM "
                f"read_parquet('{path}') t WHERE t.client_id = c.client_id AND t.ts < "
                "CAST(? AS TIMESTAMPTZ))",
                [cutoff],
            ).fetchall()
            missing.update(int(r[0]) for r in rows)
    finally:
        con.close()
    return missing


def build_week_snapshot(
    cfg: Config, raw_dir: Path, as_of: date, engine: str = "duckdb"
) -> tuple[pd.DataFrame, Path]:
    """The snapshot as of ``as_of`` written to a temporary file in ``weeks_dir`` (renamed
    by the caller to its run's own name once the week is scored), provenance checked, and
    read back."""
    from features import provenance
    from features.source import write_snapshots

    folder = Path(cfg.paths.weeks_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".as_of={as_of.isoformat()}.parquet.{os.getpid()}.tmp"
    if engine == "duckdb":
        write_snapshots(cfg, Path(raw_dir), [as_of], tmp)
    elif engine == "spark":
        _write_snapshot_spark(cfg, raw_dir, as_of, tmp)
    else:
        raise InputError(f"--engine: unknown engine {engine!r}; expected duckdb or spark")
    try:
        provenance.check(tmp, Path(raw_dir), flag="--raw")
        frame = pd.read_parquet(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return frame, tmp


def _write_snapshot_spark(cfg: Config, raw_dir: Path, as_of: date, out: Path) -> None:
    """The same snapshot built on Spark (``features.spark``: the DuckDB path's Ibis
    expression), written to one file with the raw directory's digest. An active
    SparkSession is used and left running; otherwise a local one is started and stopped."""
    from pyspark.sql import SparkSession

    from features import provenance
    from features.spark import build_snapshots_spark, local_session

    active = SparkSession.getActiveSession()
    session = active or local_session()
    try:
        frame = build_snapshots_spark(Path(raw_dir), [as_of], cfg, session=session)
    finally:
        if active is None:
            session.stop()
    frame.to_parquet(out, index=False)
    provenance.stamp(out, Path(raw_dir))


def _band_counts(values: pd.Series) -> dict[str, int]:
    counts = values.value_counts()
    return {b: int(counts.get(b, 0)) for b in BANDS}


def compare_weeks(current: pd.DataFrame, previous: pd.DataFrame) -> dict[str, int]:
    """How many clients changed band since ``previous`` (and rose / fell), how many are new."""
    both = current[["client_id", "risk_band"]].merge(
        previous[["client_id", "risk_band"]], on="client_id", suffixes=("", "_prev")
    )
    now = both["risk_band"].map(_BAND_LEVEL)
    before = both["risk_band_prev"].map(_BAND_LEVEL)
    return {
        "changed_band": int((now != before).sum()),
        "rose": int((now > before).sum()),
        "fell": int((now < before).sum()),
        "new_clients": int((~current["client_id"].isin(previous["client_id"])).sum()),
    }


def _discard(building: Future) -> None:
    """Wait for a snapshot build that is no longer wanted and remove its file."""
    try:
        _, tmp = building.result()
    except BaseException:  # noqa: S110 - the caller re-raises its own error
        return
    tmp.unlink(missing_ok=True)


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and the seconds it took (in its own thread)."""
    t = time.perf_counter()
    return fn(*args, **kwargs), time.perf_counter() - t


def _redacted(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


@dataclass
class PreparedWeek:
    """A week built from an export and not yet kept: what :func:`run_weekly` commits and
    ``churn call-list`` writes as a CSV (its dry run). ``tmp``: the snapshot file beside
    its final place (the caller keeps it by renaming it, or removes it)."""

    day: date
    loaded: Any  # training.registry.LoadedModel
    frames: WeekFrames
    snapshot: pd.DataFrame
    tmp: Path
    validation: str
    earlier: list[Any]  # store.weeks.WeekInfo of the weeks before ``day``
    previous: pd.DataFrame | None  # the newest earlier week's client_id and risk_band
    url: str
    seconds: dict[str, float]


def prepare_week(
    cfg: Config,
    raw_dir: Path,
    store: Engine,
    *,
    url: str,
    as_of: date | None = None,
    alias: str | None = None,
    engine: str = "duckdb",
    capacity: int | None = None,
    today: date | None = None,
    revalidate: bool = False,
    advance: Advance = lambda step=None: None,
    weeks_back: int = 0,
) -> PreparedWeek:
    """Validate ``raw_dir``, snapshot as of ``as_of`` (default the day after the newest
    event) into a temporary file, score with the aliased model (default champion) and
    build the list (:func:`build_week`, exclusions read from ``store``); nothing is kept.
    A bad export's one-line reason wins over whatever else failed on the same files.
    ``advance`` is told each of :data:`PREPARE_STEPS` as it is done (a progress bar);
    ``weeks_back``: the week that many weeks before ``as_of`` (``churn weekly --weeks-back``)."""
    from serving.loading import load_model
    from store.weeks import list_weeks, read_scores

    seconds: dict[str, float] = {}
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise InputError(f"--raw: directory not found: {raw_dir}")
    if engine not in ("duckdb", "spark"):
        raise InputError(f"--engine: unknown engine {engine!r}; expected duckdb or spark")
    if capacity is not None and capacity <= 0:
        raise InputError(f"--capacity: must be a positive number of clients, got {capacity}")
    if weeks_back < 0:
        raise InputError(f"--weeks-back: must be 0 or more weeks, got {weeks_back}")
    # the contract check runs beside the snapshot and the scoring (a clean export is
    # proved clean in DuckDB, outside the GIL) and its verdict is awaited before anything
    # is returned: a bad export keeps no snapshot, and its one-line reason wins over
    # whatever else failed on the same bad files
    checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churn-validate")
    checking = checker.submit(_timed, validate_raw, cfg, raw_dir, revalidate=revalidate)
    tmp: Path | None = None
    try:
        day = week_date(raw_dir, as_of, today, cfg) - timedelta(days=7 * weeks_back)
        # DuckDB builds the snapshot outside the GIL while this thread loads the model
        # and reads the store; Spark sessions are per thread, so Spark builds it here
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="churn-snapshot") as pool:
            t = time.perf_counter()
            building: Future = Future()
            if engine == "spark":
                building.set_result(build_week_snapshot(cfg, raw_dir, day, engine))
            else:
                building = pool.submit(build_week_snapshot, cfg, raw_dir, day, engine)
            try:
                loaded = load_model(cfg, alias)
                earlier = [w for w in list_weeks(store) if w.as_of < day]
                previous = (
                    read_scores(store, earlier[-1].as_of, columns=("client_id", "risk_band"))
                    if earlier
                    else None
                )
                missing = (
                    clients_missing_tables(raw_dir, day)
                    if cfg.features.source is None
                    else set()  # the generic source's evidence is its tenure alone
                )
            except BaseException:
                _discard(building)
                raise
            snapshot, tmp = building.result()
            seconds["snapshot"] = time.perf_counter() - t
            advance(PREPARE_STEPS[0])
        t = time.perf_counter()
        frames = build_week(
            loaded.model,
            snapshot,
            store,
            cfg=cfg,
            as_of=day,
            capacity=capacity,
            missing_tables=missing,
        )
        seconds["score"] = time.perf_counter() - t
        advance(PREPARE_STEPS[1])
        validation, seconds["validate"] = checking.result()
        advance(PREPARE_STEPS[2])
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        verdict = checking.exception()  # waits for the check to finish
        if verdict is not None:
            raise verdict from None
        raise
    finally:
        checker.shutdown(wait=True)
    return PreparedWeek(
        day=day,
        loaded=loaded,
        frames=frames,
        snapshot=snapshot,
        tmp=tmp,
        validation=validation,
        earlier=earlier,
        previous=previous,
        url=url,
        seconds=seconds,
    )


@collector_paused()
def run_weekly(
    cfg: Config,
    raw_dir: Path,
    *,
    as_of: date | None = None,
    alias: str | None = None,
    store_url: str | None = None,
    engine: str = "duckdb",
    capacity: int | None = None,
    today: date | None = None,
    revalidate: bool = False,
    weeks_back: int = 0,
) -> WeekSummary:
    """``churn weekly``: :func:`prepare_week`, then the snapshot renamed to this run's
    own file (:func:`week_path`) and the week and its call list stored in one transaction
    pointing at it; then files no stored week points at are removed
    (:func:`clean_weeks_dir`). Returns the summary. Runs with the cyclic garbage
    collector paused (:mod:`churn.bulk`)."""
    from store import db
    from store.weeks import snapshot_paths

    t0 = time.perf_counter()
    url = store_url or db.store_url(cfg)
    store = db.connect(url, busy_timeout_s=cfg.store.busy_timeout_s)
    week: PreparedWeek | None = None
    steps = (*PREPARE_STEPS, "stored")
    try:
        with counter(len(steps), "weekly run") as advance:
            week = prepare_week(
                cfg,
                raw_dir,
                store,
                url=url,
                as_of=as_of,
                alias=alias,
                engine=engine,
                capacity=capacity,
                today=today,
                revalidate=revalidate,
                advance=advance,
                weeks_back=weeks_back,
            )
            final = _store_week(cfg, store, week)
            advance(steps[-1])
        try:
            clean_weeks_dir(cfg, snapshot_paths(store))
        except OSError as exc:  # the week is stored; a leftover file is not an error
            log.warning("cleaning %s: %s", cfg.paths.weeks_dir, exc)
    finally:
        if week is not None:
            week.tmp.unlink(missing_ok=True)
        store.dispose()
    week.seconds["total"] = time.perf_counter() - t0
    return week_summary(week, snapshot_path=str(final), no_rule=rules.status(cfg).reason)


def _store_week(cfg: Config, store: Engine, week: PreparedWeek) -> Path:
    """Rename the week's snapshot to this run's own file and store the week pointing at it
    (one transaction); the file goes again when the transaction does not commit."""
    from store.weeks import write_week

    final = week_path(cfg, week.day, new_run_id())
    os.replace(week.tmp, final)  # a new name: no stored week's file is replaced
    t = time.perf_counter()
    try:
        write_week(
            store,
            as_of=week.day,
            model_version=str(week.loaded.version),
            scores=week.frames.scores,
            call_list=week.frames.call_list,
            snapshot_path=str(final),
            shap_weeks=cfg.store.shap_weeks,
        )
    except BaseException:
        final.unlink(missing_ok=True)  # not committed: nothing points at it
        raise
    week.seconds["store"] = time.perf_counter() - t
    return final


def week_summary(
    week: PreparedWeek, *, snapshot_path: str, no_rule: dict[str, str] | None = None
) -> WeekSummary:
    """What ``churn weekly`` (or its dry run) reports about a prepared week; ``no_rule``:
    why the source has no rule indicator, by language (:func:`features.rules.status`)."""
    frames = week.frames
    moved: dict[str, int | None] = dict.fromkeys(("changed_band", "rose", "fell", "new_clients"))
    previous_as_of = None
    if week.previous is not None:
        previous_as_of = week.earlier[-1].as_of.isoformat()
        moved.update(compare_weeks(frames.scores, week.previous))
    s = frames.sizing
    return WeekSummary(
        as_of=week.day.isoformat(),
        model_version=str(week.loaded.version),
        alias=str(week.loaded.alias),
        clients=len(frames.scores),
        bands=_band_counts(frames.scores["risk_band"]),
        rule_bands={} if no_rule else _band_counts(frames.scores["rule_band"]),
        no_rule=no_rule,
        previous_as_of=previous_as_of,
        changed_band=moved["changed_band"],
        rose=moved["rose"],
        fell=moved["fell"],
        new_clients=moved["new_clients"],
        call_list=len(frames.call_list),
        sent=s.sent,
        held_out=s.held_out,
        excluded_recently_called=s.total.excluded_recently_called,
        excluded_held_out=s.total.excluded_held_out,
        kept_from_holdout=s.total.kept_from_holdout,
        capacity=s.total.capacity,
        profit_optimal_count=s.total.profit_optimal_count,
        capacity_binds=s.total.capacity_binds,
        ranking=s.ranking,
        snapshot_path=snapshot_path,
        store=_redacted(week.url),
        validation=week.validation,
        seconds={k: round(v, 3) for k, v in week.seconds.items()},
    )


# the CSV of ``churn call-list``: the stored call list's columns, then what a specialist reads
DRY_RUN_SCORE_COLUMNS = ("segment", "service_mode", "monthly_fee_rub", "risk_band", "rule_band")


def call_list_table(frames: WeekFrames, as_of: date) -> pd.DataFrame:
    """The week's call list (called and held out, in stored order) as ``churn call-list``
    writes it: the store's call-list columns, a few score columns, and each listed
    client's top reasons and actions in words (from the drivers the week stores)."""
    scores = frames.scores.set_index("client_id")
    calls = frames.call_list
    table = calls.assign(as_of=as_of.isoformat())
    for col in DRY_RUN_SCORE_COLUMNS:
        if col == "rule_band" and not rules.available():
            continue  # the source has no rule indicator: no empty column
        table[col] = scores[col].reindex(calls["client_id"]).to_numpy()
    drivers = scores["drivers"].reindex(calls["client_id"]).tolist()
    parsed = [json.loads(d) if isinstance(d, str) else (d or []) for d in drivers]
    from serving.calllist import TOP_REASONS

    for i in range(TOP_REASONS):
        for key in ("text", "action"):
            name = f"{'reason' if key == 'text' else 'action'}_{i + 1}"
            table[name] = [d[i].get(key) if len(d) > i else None for d in parsed]
    return table[["as_of", *(c for c in table.columns if c != "as_of")]]


@collector_paused()
def dry_run(
    cfg: Config,
    raw_dir: Path,
    out: Path,
    *,
    as_of: date | None = None,
    alias: str | None = None,
    store_url: str | None = None,
    capacity: int | None = None,
    today: date | None = None,
) -> tuple[WeekSummary, pd.DataFrame]:
    """``churn call-list``: the week ``churn weekly`` would store (:func:`prepare_week`,
    the same exclusions read from the same store), written to ``out`` as CSV (Parquet by
    suffix), nothing stored, the snapshot's temporary file removed. The CSV is written
    beside ``out`` and renamed into place."""
    from store import db

    t0 = time.perf_counter()
    url = store_url or db.store_url(cfg)
    store = db.connect(url, busy_timeout_s=cfg.store.busy_timeout_s)
    try:
        with counter(len(PREPARE_STEPS), "call list (dry run)") as advance:
            week = prepare_week(
                cfg, raw_dir, store, url=url, as_of=as_of, alias=alias, capacity=capacity,
                today=today, advance=advance,
            )  # fmt: skip
    finally:
        store.dispose()
    week.tmp.unlink(missing_ok=True)
    table = call_list_table(week.frames, week.day)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if out.suffix.lower() == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    week.seconds["total"] = time.perf_counter() - t0
    summary = week_summary(
        week, snapshot_path="(dry run: not kept)", no_rule=rules.status(cfg).reason
    )
    return summary, table
