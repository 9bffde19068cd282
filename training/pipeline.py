"""``churn train``: snapshots -> labels -> time split -> tuned LightGBM -> calibration ->
test-block evaluation beside the rule and the reference -> MLflow run + registry gate ->
report.

Each stage is a small function; :func:`run_train` only wires them and logs progress.
The test block is never seen before evaluation: tuning and early stopping use train and
validation, calibration and risk thresholds use validation only.

Reference: an explicit input, ``--reference FILE`` (client_id, as_of, probability; the
generator writes ``_truth/horizon_probability.parquet``, which ``make demo`` passes;
training reads no folder by convention). The reference score of a row is the true
probability that the client churns within the label horizon given the generator's whole
state at ``as_of``, integrated over the hidden future by Monte Carlo
(``simulator/horizon_truth.py``). It is the probability of exactly the event the label
records, so it is the ceiling of every model (up to test-block and Monte Carlo noise; the
report gives the paired bootstrap interval of reference minus model ROC-AUC).

Capacity figures evaluate the served policy: the weekly call list (``serving.
default_capacity`` calls a week, ranked by ``serving.ranking``) run on each test snapshot
(:func:`training.evaluate.weekly_capacity_metrics`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from churn.config import Config
from churn.errors import InputError
from churn.progress import counter
from churn.utc import as_utc
from features import provenance as raw_provenance
from features import rules
from features.catalog import CATALOG, CATEGORICAL_FEATURES, MODEL_FEATURES
from training.baseline import baseline_proba
from training.calibration import risk_thresholds
from training.calibrators import fit_calibrator, intercept_update
from training.labels import LABEL, churn_events_of, label_snapshots, read_churn_events
from training.model import ChurnModel, categorical_levels_from
from training.reference import log_reference
from training.results import Evaluation, ReferenceInfo, TrainingReport
from training.split import Split, time_split
from training.tune import TuneResult, tune_lgbm

RULE_SCORE = "contact_index"
HEADLINE = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "lift_top_decile",
    "recall_at_capacity",
    "empc_rub",
    "empc_share",
)


@dataclass
class Blocks:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    split: Split


log = logging.getLogger(__name__)


def _say(msg: str) -> None:
    log.info(f"[train] {msg}")


# --------------------------------------------------------------------------- data


def training_snapshots(
    cfg: Config, raw_dir: Path, features_file: Path | None
) -> tuple[pd.DataFrame, Path]:
    """The snapshot file, or monthly snapshots built from ``raw_dir`` first (the one
    loader, :func:`features.snapshot_file.load_snapshots`), checked for training.

    A file that records the digest of the raw directory it was built from must match
    ``raw_dir`` (the labels' source), else InputError; a file without one is read with a
    note ("not recorded").
    """
    from features.snapshot_file import load_snapshots

    if features_file is None:
        _say(f"building monthly snapshots from {raw_dir} -> {cfg.paths.features_path}")
    loaded = load_snapshots(cfg, features_file=features_file, raw=raw_dir, build="monthly")
    frame, features_file = loaded.frame, loaded.source
    needed = ["client_id", "as_of", *MODEL_FEATURES, *([RULE_SCORE] if rules.available() else [])]
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if missing:
        raise InputError(
            f"--features: {features_file} lacks snapshot column(s) {', '.join(missing)}"
        )
    if Path(raw_dir).is_dir():  # labels need it; labelled() names a missing directory
        status = raw_provenance.check(features_file, raw_dir)
        _say(f"snapshots vs raw {raw_dir}: digest {status}")
    return numeric_as_float(frame), features_file


def numeric_as_float(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast catalog-numeric columns that arrive as decimals/objects to float64.

    DuckDB writes sums of decimal literals as ``decimal128``, which pandas reads as Python
    ``Decimal`` objects: LightGBM, MLflow signatures and JSON all reject those.
    """
    out = frame.copy()
    numeric = [f.name for f in CATALOG if f.dtype in ("int", "float") and f.name in out.columns]
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = pd.to_numeric(out[col].astype("float64"), errors="coerce")
    return out


def labelled(cfg: Config, snapshots: pd.DataFrame, raw_dir: Path) -> pd.DataFrame:
    """Snapshots with labels from the raw churn events; rows without a full horizon dropped."""
    if not Path(raw_dir).is_dir():
        raise InputError(
            f"raw data directory not found: {raw_dir}; labels need the raw churn_events "
            "(pass --raw DIR or set paths.raw_dir)"
        )
    events, data_end = churn_events_of(cfg, raw_dir)
    out = label_snapshots(
        snapshots, events, cfg.training.horizon_days, data_end, churn_types=cfg.training.churn_types
    )
    counts = out.attrs["labels"]
    _say(
        f"labels: positives = {', '.join(counts['churn_types'])}; "
        f"{counts['dropped_other_types_only']} rows left out (only other churn types in the "
        f"horizon), {counts['dropped_gone']} rows of clients not active at as_of"
    )
    if out.empty:
        raise InputError(
            f"snapshots: no row has a full {cfg.training.horizon_days}-day horizon before the "
            f"end of the data ({data_end.date()}); need more history"
        )
    return out.reset_index(drop=True)


def split_blocks(cfg: Config, frame: pd.DataFrame) -> Blocks:
    t = cfg.training
    split = time_split(
        frame["as_of"],
        valid_months=t.valid_months,
        test_months=t.test_months,
        horizon_days=t.horizon_days,
        min_train_months=t.min_train_months,
    )
    block = split.block_of(frame["as_of"])
    parts = {
        name: frame[block == name].reset_index(drop=True) for name in ("train", "valid", "test")
    }
    for name, part in parts.items():
        if part[LABEL].nunique() < 2:
            raise InputError(f"snapshots: the {name} block has one label class only; need churners")
    return Blocks(parts["train"], parts["valid"], parts["test"], split)


@dataclass
class Reference:
    """The true horizon probability for each row, from the file ``churn train --reference``
    names (the generator writes one: ``_truth/horizon_probability.parquet``)."""

    probability: np.ndarray
    paths: int
    horizon_days: int
    missing_rows: int  # rows of the frame the file has no probability for

    def label(self) -> str:
        return reference_label(self.horizon_days, self.paths)


def reference_label(horizon_days: int, paths: int | None) -> str:
    """What the reference column measures, in the words the report and README use."""
    how = f"Monte Carlo, {paths} paths" if paths else "Monte Carlo"
    return f"true {horizon_days}-day churn probability given the state at as_of ({how})"


REFERENCE_COLUMNS = ("client_id", "as_of", "probability")


def reference_scores(path: Path | None, frame: pd.DataFrame, horizon_days: int) -> Reference | None:
    """The true horizon probability of each row of ``frame`` (keyed by client_id, as_of),
    read from ``path`` (``churn train --reference FILE``); None when no file is given.

    Real data has no such file; the generator writes ``_truth/horizon_probability.parquet``
    (not with ``reference.paths: 0`` in simulate.yaml). A file that is missing, lacks a
    column or was computed for another horizon than the labels' is bad input. A row the
    file lacks (an ``as_of`` that is not a month start) gets NaN: ranked last, and counted
    in ``missing_rows``.
    """
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--reference: file not found: {path}")
    schema = pq.read_schema(path)
    missing = [c for c in REFERENCE_COLUMNS if c not in schema.names]
    if missing:
        raise InputError(f"--reference: {path} has no column(s) {', '.join(missing)}")
    meta = schema.metadata or {}
    file_horizon = int(meta.get(b"horizon_days", b"0"))
    if file_horizon != int(horizon_days):
        raise InputError(
            f"--reference: {path} holds {file_horizon}-day probabilities, the labels use "
            f"training.horizon_days {horizon_days}"
        )
    truth = pd.read_parquet(path, columns=list(REFERENCE_COLUMNS))
    key = pd.MultiIndex.from_arrays([truth["client_id"].astype("int64"), _as_utc(truth["as_of"])])
    by_key = pd.Series(truth["probability"].to_numpy(dtype=float), index=key)
    want = pd.MultiIndex.from_arrays([frame["client_id"].astype("int64"), _as_utc(frame["as_of"])])
    prob = by_key.reindex(want).to_numpy(dtype=float)
    if np.isnan(prob).all():
        return None
    return Reference(
        probability=prob,
        paths=int(meta.get(b"paths", b"0")),
        horizon_days=file_horizon,
        missing_rows=int(np.isnan(prob).sum()),
    )


def _as_utc(values: pd.Series) -> pd.DatetimeIndex:
    """Timestamps as tz-aware UTC microseconds, whatever unit and zone they arrived in."""
    return as_utc(pd.DatetimeIndex(pd.to_datetime(values))).as_unit("us")


# --------------------------------------------------------------------------- model


def fit_model(cfg: Config, blocks: Blocks) -> tuple[ChurnModel, TuneResult]:
    """Tune + refit on train (early stopping on valid), calibrate and band on valid."""
    levels = categorical_levels_from(blocks.train, CATEGORICAL_FEATURES)
    shell = ChurnModel(
        None, None, list(MODEL_FEATURES), levels, horizon_days=cfg.training.horizon_days
    )
    X_train, X_valid = shell.prepare(blocks.train), shell.prepare(blocks.valid)
    y_train, y_valid = blocks.train[LABEL].to_numpy(), blocks.valid[LABEL].to_numpy()
    started = time.monotonic()

    with counter(cfg.training.n_trials, "tuning") as advance:

        def progress(study: Any, trial: Any) -> None:
            value = "pruned" if trial.value is None else f"auc={trial.value:.4f}"
            _say(
                f"trial {trial.number + 1}/{cfg.training.n_trials} {value} "
                f"best={study.best_value:.4f} ({time.monotonic() - started:.0f}s)"
            )
            advance()

        tuned = tune_lgbm(X_train, y_train, X_valid, y_valid, cfg=cfg.training, on_trial=progress)
    shell.booster = tuned.booster
    raw_valid = shell.predict_raw(blocks.valid)
    shell.calibrator = calibrate_on(
        cfg,
        raw_valid,
        blocks.valid,
        block="validation",
        population_raw=shell.predict_raw(blocks.test),  # features only: known when scored
        known=pd.concat([blocks.train, blocks.valid]),
    )
    shell.risk_thresholds = risk_thresholds(
        shell.predict_proba(blocks.valid),
        high_share=cfg.training.risk_high_share,
        dynamic_share=cfg.training.risk_dynamic_share,
    )
    shell.metadata = {
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "params": tuned.params,
        "best_iteration": tuned.best_iteration,
        "valid_roc_auc": tuned.best_score,
        "role": "held-out selection model (evaluated on the test block; never served)",
        "train_as_of": [d.date().isoformat() for d in blocks.split.train],
        "valid_as_of": [d.date().isoformat() for d in blocks.split.valid],
        "test_as_of": [d.date().isoformat() for d in blocks.split.test],
        "seen_as_of": [d.date().isoformat() for d in blocks.split.train.append(blocks.split.valid)],
        "calibration": f"{describe_method(cfg)} (validation block)",
        "risk_rule": (
            f"high = top {cfg.training.risk_high_share:.0%} of validation rows, "
            f"dynamic = top {cfg.training.risk_dynamic_share:.0%}"
        ),
    }
    return shell, tuned


def describe_method(cfg: Config) -> str:
    """The configured calibrator in words (``training.calibration``)."""
    c = cfg.training.calibration
    recent = (
        f" + intercept update to the churn rate of the newest {c.recent_months} labelled month(s)"
        if c.recent_update
        else ""
    )
    return c.method + recent


def calibrate_on(
    cfg: Config,
    raw: np.ndarray,
    rows: pd.DataFrame,
    *,
    block: str,
    population_raw: np.ndarray | None = None,
    known: pd.DataFrame | None = None,
) -> Any:
    """The configured calibrator fitted on held-out ``raw`` scores of ``rows``.

    With ``recent_update`` it is then shifted in log-odds (one number) so that its mean
    over ``population_raw`` (the rows it will score first: their features are known, their
    labels are not) equals the churn rate of the newest ``recent_months`` months of the
    labelled rows ``known`` (:func:`training.calibrators.intercept_update`).
    """
    c = cfg.training.calibration
    calibrator = fit_calibrator(c.method, raw, rows[LABEL].to_numpy(), block=block)
    if c.recent_update and population_raw is not None and known is not None and len(known):
        rate = recent_rate(known, c.recent_months)
        calibrator = intercept_update(
            calibrator, population_raw, np.full(len(population_raw), rate)
        )
    return calibrator


def recent_rate(known: pd.DataFrame, months: int) -> float:
    """The observed churn rate of the newest ``months`` calendar months of labelled rows."""
    as_of = pd.to_datetime(known["as_of"])
    key = (as_of.dt.year * 12 + as_of.dt.month).to_numpy()
    newest = np.isin(key, np.unique(key)[-months:])
    return float(known[LABEL].to_numpy()[newest].mean())


def backtest_calibration(cfg: Config, frame: pd.DataFrame, tuned: TuneResult) -> dict[str, Any]:
    """The rolling calibration backtest (:mod:`training.backtest`) of the served recipe."""
    from training.backtest import run_backtest

    t = cfg.training

    def fit(rows: pd.DataFrame) -> Any:
        levels = categorical_levels_from(rows, CATEGORICAL_FEATURES)
        twin = ChurnModel(None, None, list(MODEL_FEATURES), levels, horizon_days=t.horizon_days)
        twin.booster = _fit_fixed(twin, rows, tuned.params, tuned.best_iteration)
        return twin.predict_raw

    out = run_backtest(
        frame,
        fit,
        blocks=t.calibration.backtest_blocks,
        horizon_days=t.horizon_days,
        test_months=t.test_months,
        recent_months=t.calibration.recent_months,
        rounds=t.calibration.backtest_bootstrap_rounds,
        seed=t.seed,
    )
    configured = t.calibration.method + ("+recent" if t.calibration.recent_update else "")
    out["configured"] = configured
    out["configured_is_winner"] = configured == out.get("winner")
    return out


def _fit_fixed(shell: ChurnModel, rows: pd.DataFrame, params: dict[str, Any], trees: int) -> Any:
    """LightGBM with the selected parameters and tree count on ``rows`` (no early stopping)."""
    import lightgbm as lgb

    data = lgb.Dataset(shell.prepare(rows), label=rows[LABEL].to_numpy())
    return lgb.train(params, data, num_boost_round=trees)


def _dates(values: pd.Series) -> list[str]:
    return sorted({pd.Timestamp(d).date().isoformat() for d in pd.unique(values)})


def refit_served(
    cfg: Config,
    frame: pd.DataFrame,
    blocks: Blocks,
    tuned: TuneResult,
    newest: pd.DataFrame | None = None,
) -> ChurnModel:
    """The model to serve: the selected recipe refitted on every labelled snapshot.

    The held-out selection model learned from the train block only (for the demo, snapshots
    up to a year before the newest data). After selection the same parameters and tree
    count are refitted on *all* labelled rows (every ``as_of`` whose horizon is complete,
    gaps included), so the champion knows the newest behaviour it can be taught.

    Calibration must come from time the calibrated booster never saw, and no labelled time
    is left after "all". So a twin with the same recipe is fitted on every row whose label
    window closes before the test block starts (train, gap and validation blocks), scored on
    the test block, and Platt is fitted on those held-out scores; the served booster uses
    that map. Same parameters and tree count give the same log-odds scale up to the small
    change three more months of data make; the alternative (the selection fit's validation
    Platt) would map a booster fitted on less, older data, a year before the newest rows.
    Risk-band thresholds are the shares of the test block under the served model.

    With ``training.calibration.recent_update`` the calibrator's log-odds are shifted so
    that its mean over ``newest`` (the newest snapshot's rows, unlabelled: the clients the
    model scores first; default the newest labelled date's rows) is the churn rate of the
    newest ``recent_months`` labelled months (:func:`calibrate_on`).
    """
    t = cfg.training
    horizon = pd.Timedelta(days=t.horizon_days)
    levels = categorical_levels_from(frame, CATEGORICAL_FEATURES)
    shell = ChurnModel(None, None, list(MODEL_FEATURES), levels, horizon_days=t.horizon_days)
    as_of = pd.to_datetime(frame["as_of"])
    twin_rows = frame[(as_of + horizon < blocks.test["as_of"].min()).to_numpy()]
    twin = ChurnModel(None, None, shell.features, levels, horizon_days=t.horizon_days)
    twin.booster = _fit_fixed(twin, twin_rows, tuned.params, tuned.best_iteration)
    shell.booster = _fit_fixed(shell, frame, tuned.params, tuned.best_iteration)
    if newest is None:
        newest = frame[(as_of == as_of.max()).to_numpy()]
    calibrator = calibrate_on(
        cfg,
        twin.predict_raw(blocks.test),
        blocks.test,
        block="test",
        population_raw=shell.predict_raw(newest),
        known=frame,
    )
    shell.calibrator = calibrator
    shell.risk_thresholds = risk_thresholds(
        shell.predict_proba(blocks.test),
        high_share=t.risk_high_share,
        dynamic_share=t.risk_dynamic_share,
    )
    fitted, twin_dates, test_dates = (
        _dates(frame["as_of"]),
        _dates(twin_rows["as_of"]),
        _dates(blocks.test["as_of"]),
    )
    shell.metadata = {
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "role": "served model: the selected recipe refitted on every labelled snapshot",
        "params": tuned.params,
        "best_iteration": tuned.best_iteration,
        "fit_as_of": fitted,
        "seen_as_of": fitted,
        "fit_rows": int(len(frame)),
        "calibration": (
            f"{describe_method(cfg)} fitted on the test block ({test_dates[0]}..{test_dates[-1]}) "
            f"scored by a twin with the same recipe fitted on {twin_dates[0]}..{twin_dates[-1]}"
        ),
        "calibrated_at": pd.Timestamp.now(tz="UTC").date().isoformat(),
        "calibration_as_of": test_dates,
        "calibration_twin_fit_as_of": twin_dates,
        "risk_rule": (
            f"high = top {t.risk_high_share:.0%} of test-block rows, "
            f"dynamic = top {t.risk_dynamic_share:.0%}"
        ),
    }
    return shell


# --------------------------------------------------------------------------- evaluation


def churn_days(
    raw_dir: Path,
    frame: pd.DataFrame,
    churn_types: list[str] | None = None,
    cfg: Config | None = None,
) -> np.ndarray:
    """Days from each row's ``as_of`` to its client's next churn of a positive type (NaN:
    none recorded on or after ``as_of``).

    The weekly-list evaluation needs it: a churner can only be caught by a call before it
    leaves. A client may have left and resumed before ``as_of``; only events from
    ``as_of`` on count, and of the types ``training.churn_types`` makes positives.
    """
    events = read_churn_events(raw_dir) if cfg is None else churn_events_of(cfg, raw_dir)[0]
    if churn_types is not None:
        events = events[events["churn_type"].isin(churn_types)]
    rows = pd.DataFrame(
        {
            "row": np.arange(len(frame)),
            "client_id": frame["client_id"].to_numpy(),
            "as_of": _as_utc(frame["as_of"]),
        }
    )
    pairs = rows.merge(events.assign(ts=_as_utc(events["ts"]))[["client_id", "ts"]], on="client_id")
    pairs = pairs[pairs["ts"] >= pairs["as_of"]]
    days = ((pairs["ts"] - pairs["as_of"]) / pd.Timedelta(days=1)).groupby(pairs["row"]).min()
    out = np.full(len(frame), np.nan)
    out[days.index.to_numpy()] = days.to_numpy(dtype=float)
    return out


def call_policy(cfg: Config) -> Any:
    """The served call list's rules: weekly capacity, ``serving.ranking``, re-call gap."""
    from training.evaluate import CallPolicy
    from training.profit import ProfitParams

    return CallPolicy(
        capacity_per_week=cfg.serving.default_capacity,
        ranking=cfg.serving.ranking,
        recall_after_days=cfg.serving.recall_after_days,
        horizon_days=cfg.training.horizon_days,
        profit=ProfitParams.from_config(cfg.retention),
    )


def evaluate(
    cfg: Config, model: ChurnModel, blocks: Blocks, raw_dir: Path, reference: Path | None = None
) -> tuple[Evaluation, dict]:
    """Test-block metrics of model, rule, the logistic baseline on the model's signals
    (fitted on train + validation) and the ``reference`` file's true probability (when
    given); returns (evaluation, scores).

    Without the rule indicator (a source that lacks its inputs: :func:`features.rules.
    available`) the rule's score is absent and the evaluation says why.
    """
    from training.evaluate import HeldOutBlock, evaluate_block, evaluate_by_centre
    from training.profit import client_value

    reference_file = reference

    test, valid = blocks.test, blocks.valid
    y, y_valid = test[LABEL].to_numpy(), valid[LABEL].to_numpy()
    rule = rules.status(cfg)
    scores: dict[str, np.ndarray | None] = {
        "model": model.predict_proba(test),
        "rule": test[RULE_SCORE].to_numpy(dtype=float) if rule.available else None,
        "reference": None,
        "baseline": baseline_proba(
            pd.concat([blocks.train, valid]),
            test,
            list(MODEL_FEATURES),
            list(CATEGORICAL_FEATURES),
            seed=cfg.training.seed,
        ),
    }
    reference = reference_scores(reference_file, test, cfg.training.horizon_days)
    if reference is not None:
        scores["reference"] = reference.probability  # a probability already: used as is
    fee = test["monthly_fee_rub"].to_numpy(dtype=float)
    policy = call_policy(cfg)
    block = HeldOutBlock(
        y=y,
        scores=scores,
        as_of=test["as_of"].to_numpy(),
        client_id=test["client_id"].to_numpy(),
        policy=policy,
        bootstrap_rounds=cfg.training.bootstrap_rounds,
        seed=cfg.training.seed,
        calib_scores=(
            {"rule": (valid[RULE_SCORE].to_numpy(dtype=float), y_valid)} if rule.available else {}
        ),
        monthly_fee=fee,
        churn_day=churn_days(raw_dir, test, cfg.training.churn_types, cfg),
        values=client_value(fee, policy.profit),
    )
    result = evaluate_block(block)
    info = None
    if reference is not None:
        info = ReferenceInfo(
            measures=reference.label(),
            source=str(reference_file),
            paths=reference.paths,
            horizon_days=reference.horizon_days,
            rows_without_reference=reference.missing_rows,
        )
    by_centre = None
    if "centre_id" in test.columns:  # a network export: the same test block, centre by centre
        by_centre = evaluate_by_centre(block, test["centre_id"].to_numpy())
    result = replace(
        result, reference_info=info, by_centre=by_centre, rule_indicator=rule.to_dict()
    )
    return result, scores


def _span(dates: list[str]) -> str:
    return f"{dates[0]}..{dates[-1]}" if dates else ""


def figure_provenance(selection: ChurnModel, served: ChurnModel | None) -> dict[str, Any]:
    """Which rows each figure and the served model come from (``as_of`` ranges)."""
    meta = selection.metadata
    out: dict[str, Any] = {
        "test_figures": (
            f"held-out selection model: fitted on train {_span(meta['train_as_of'])}, "
            f"early-stopped and Platt-calibrated on validation {_span(meta['valid_as_of'])}, "
            f"scored on test {_span(meta['test_as_of'])} (never seen by tuning, fitting or "
            "calibration)"
        ),
        "selection_model": {
            "train_as_of": _span(meta["train_as_of"]),
            "valid_as_of": _span(meta["valid_as_of"]),
            "test_as_of": _span(meta["test_as_of"]),
        },
    }
    if served is not None:
        sm = served.metadata
        out["served_model"] = {
            "fit_as_of": _span(sm["fit_as_of"]),
            "fit_rows": sm["fit_rows"],
            "trees": sm["best_iteration"],
            "calibration": sm["calibration"],
            "note": (
                "the registered (served) model is refitted on every labelled snapshot, the "
                "test block included, so it has no held-out figures of its own; the test "
                "figures above are those of the held-out model with the same recipe"
            ),
        }
    return out


def build_report(
    result: Evaluation,
    blocks: Blocks,
    tuned: TuneResult,
    reg: Any,
    run_id: str,
    digest: str,
    selection: ChurnModel | None = None,
    served: ChurnModel | None = None,
) -> TrainingReport:
    """The report: test metrics side by side, the gain CI, gap closed, provenance of every
    figure and of the served model, and the gate's decision."""
    return TrainingReport(
        evaluation=result,
        provenance=figure_provenance(selection, served) if selection is not None else None,
        split=blocks.split.describe(),
        rows={"train": len(blocks.train), "valid": len(blocks.valid), "test": len(blocks.test)},
        tuning={
            "n_trials": len(tuned.study.trials),
            "best_params": tuned.study.best_params,
            "best_iteration": tuned.best_iteration,
            "valid_roc_auc": tuned.best_score,
        },
        dataset_digest=digest,
        run_id=run_id,
        model_version=reg.version,
        alias=reg.alias,
        promoted=reg.promoted,
        gate=getattr(reg, "decision", None),
        champion_before={
            "version": reg.champion_version,
            "roc_auc_on_this_test": reg.champion_roc_auc,
        }
        if reg.champion_version
        else None,
    )


def metrics_table(report: TrainingReport) -> str:
    """A compact model / rule / reference table for the terminal."""
    ev = report.evaluation
    cols = tuple(c for c in ("model", "rule", "baseline", "reference") if c != "rule" or ev.rule)
    lines = [f"{'metric':<22}" + "".join(f"{c:>10}" for c in cols)]
    for key in HEADLINE:
        cells = []
        for c in cols:
            metrics = ev.scores.get(c)
            value = metrics.get(key) if metrics is not None else None
            cells.append(f"{value:>10.4f}" if isinstance(value, int | float) else f"{'-':>10}")
        lines.append(f"{key:<22}" + "".join(cells))
    gap = ev.gap_closed
    for what, gain in (("rule", ev.auc_gain), ("baseline", ev.baseline_gain)):
        if gain is not None and gain.ci_low is not None:
            lines.append(
                f"AUC gain model-{what}: "
                f"{gain.observed if gain.observed is not None else gain.mean:.4f} "
                f"(95% CI {gain.ci_low:.4f} .. {gain.ci_high:.4f})"
            )
    note = rule_note(ev)
    if note is not None:
        lines.append(f"rule: {note}")
    if gap is not None:
        lines.append(f"share of the reference's AUC over chance (model-0.5)/(ref-0.5): {gap:.3f}")
    if ev.reference_info is not None:
        lines.append(f"reference: {ev.reference_info.measures}")
    perfect = (ev.profit or {}).get("perfect")
    if perfect:
        lines.append(
            f"profit ceiling (outcome known): EMPC {perfect['empc_rub']:.1f} RUB/client, "
            f"calling {perfect['empc_share']:.1%}"
        )
    if ev.calibration_backtest:
        lines.append(backtest_line(ev.calibration_backtest))
    lines.append(
        f"model version {report.model_version} -> {report.alias}"
        f"{' (promoted)' if report.promoted else ' (not promoted)'}; run {report.run_id}"
    )
    if report.gate is not None:
        lines.append(f"gate: {report.gate.reason}")
    return "\n".join(lines)


def rule_note(ev: Evaluation) -> str | None:
    """ "not available (why)" when the source has no rule indicator, else None."""
    status = ev.rule_indicator or {}
    if status.get("available", True):
        return None
    return f"not available ({(status.get('reason') or {}).get('en', 'no inputs')})"


def backtest_line(backtest: dict[str, Any]) -> str:
    """One line: the backtest's winner and the served calibrator's pooled figures."""
    winner = backtest.get("winner")
    if winner is None:
        return f"calibration backtest: {backtest.get('note', 'no block')}"
    pooled = backtest["pooled"]
    used = backtest.get("configured", winner)
    shown = pooled.get(used, pooled[winner])
    return (
        f"calibration backtest ({len(backtest['blocks'])} blocks): winner {winner} by pooled "
        f"log loss; served {used}: mean predicted / observed "
        f"{shown['calibration_in_the_large']:.3f}, ECE {shown['ece']:.4f}, "
        f"log loss {shown['log_loss']:.5f}"
    )


# --------------------------------------------------------------------------- entry point


def run_train(
    cfg: Config,
    *,
    raw: Path | None,
    features_file: Path | None,
    report: Path | None,
    reference: Path | None = None,
) -> TrainingReport:
    """``churn train --raw DIR | --features FILE [--reference FILE]``: train, evaluate
    (beside the true probabilities of ``reference``, when given), register, report."""
    from training import registry

    if raw is None and features_file is None:
        raise InputError("churn train: give --raw DIR (raw tables) or --features FILE (snapshots)")
    raw_dir = Path(raw) if raw is not None else Path(cfg.paths.raw_dir)
    if raw is not None and not raw_dir.is_dir():
        raise InputError(f"--raw: directory not found: {raw_dir}")
    snapshots, source = training_snapshots(cfg, raw_dir, features_file)
    _say(
        f"{len(snapshots)} snapshot rows, {snapshots['as_of'].nunique()} as_of dates from {source}"
    )
    frame = labelled(cfg, snapshots, raw_dir)
    label_counts = dict(frame.attrs.get("labels") or {})
    blocks = split_blocks(cfg, frame)
    for name in ("train", "valid", "test"):
        part = getattr(blocks, name)
        dates = getattr(blocks.split, name)
        _say(
            f"{name}: {len(part)} rows, churn {part[LABEL].mean():.3f}, "
            f"as_of {dates.min().date()}..{dates.max().date()}"
        )
    _say(f"tuning LightGBM: {cfg.training.n_trials} trials, <= {cfg.training.timeout_s}s")
    model, tuned = fit_model(cfg, blocks)
    _say(f"best validation ROC-AUC {tuned.best_score:.4f} at {tuned.best_iteration} trees")
    _say(
        "evaluating on the test block (model, "
        + ("rule, " if rules.available() else "")
        + "logistic baseline, reference)"
    )
    result, scores = evaluate(cfg, model, blocks, raw_dir, reference)
    if cfg.training.calibration.backtest_blocks:
        _say(
            f"calibration backtest: the served recipe replayed on the newest "
            f"{cfg.training.calibration.backtest_blocks} monthly blocks"
        )
        backtest = backtest_calibration(cfg, frame, tuned)
        result = replace(result, calibration_backtest=backtest)
        _say(backtest_line(backtest))
    newest_as_of = snapshots["as_of"].max()
    served = refit_served(
        cfg, frame, blocks, tuned, newest=snapshots[snapshots["as_of"] == newest_as_of]
    )
    fit = served.metadata["fit_as_of"]
    _say(
        f"served model: refitted on all {len(frame)} labelled rows ({fit[0]}..{fit[-1]}), "
        f"{tuned.best_iteration} trees; {served.metadata['calibration']}"
    )
    _say("logging the run and registering the model in MLflow")
    with registry.quiet_mlflow():
        out = _log_and_register(cfg, frame, source, model, served, tuned, result, scores, blocks)
    out = replace(out, labels=label_counts)  # which churn types are positives, rows left out
    if report is not None:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(out.to_dict(), indent=2, default=str)
        Path(report).write_text(text, encoding="utf-8")
        _say(f"report -> {report}")
        _copy_evaluation(out.run_id, Path(report).parent / "evaluation")
    return out


def _log_and_register(
    cfg: Config,
    frame: pd.DataFrame,
    source: Path,
    model: ChurnModel,
    served: ChurnModel,
    tuned: TuneResult,
    result: Evaluation,
    scores: dict,
    blocks: Blocks,
) -> TrainingReport:
    """One MLflow run: everything logged, the served model registered (its held-out twin
    beside it) and gated on the held-out figures; returns the report."""
    from training import registry

    experiment_id = registry.ensure_experiment(cfg)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        digest = registry.log_run(cfg, frame, source, model, tuned, result, scores, blocks)
        registry.log_holdout(model)
        log_reference(frame, served, cfg.monitoring)  # what churn monitor compares weeks with
        version = registry.log_model(cfg, served, blocks.test)
        y_test = blocks.test[LABEL].to_numpy()
        reg = registry.gate(cfg, version, scores["model"], result, blocks.test, y_test)
        registry.tag_version(cfg, version, result.model, registry_dates(blocks.split.test))
        out = build_report(result, blocks, tuned, reg, run.info.run_id, digest, model, served)
        mlflow.log_dict(out.to_dict(), "report/train.json")
    return out


def _copy_evaluation(run_id: str, dst: Path) -> None:
    """Put the run's plots and HTML report next to the JSON report, where people look first."""
    import shutil

    try:
        tmp = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="evaluation")
    except Exception:  # no plots were logged (they are a convenience); the run is complete
        return
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(tmp, dst)
    _say(f"plots and HTML report -> {dst / 'report.html'}")


def registry_dates(dates: pd.DatetimeIndex) -> list[str]:
    return [d.date().isoformat() for d in dates]
