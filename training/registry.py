"""MLflow tracking and model registry: log a training run, register it, gate promotion.

* One experiment (``cfg.registry.experiment_name``) whose artifacts live under
  ``cfg.paths.mlflow_artifacts_dir``; one run per training.
* The model is LightGBM's text plus a JSON of metadata (:mod:`training.artifact`), logged
  as an MLflow models-from-code pyfunc (``training/pyfunc.py`` with ``training/portable.py``
  beside it): ``mlflow.pyfunc.load_model("models:/churn-risk@champion").predict(
  snapshot_rows)`` returns calibrated probabilities in any process, and
  :func:`load_by_alias` / :func:`load_version` hand serving the full ``ChurnModel``
  (booster for SHAP, thresholds, categorical levels). Versions registered as pickles
  before that format are refused with :class:`~training.artifact.ModelFormatError`.
* **Promotion gate**: a new version becomes ``champion`` only when there is no champion
  or it has a strictly higher ROC-AUC than the current champion *re-scored on the new
  test block*; otherwise it becomes ``challenger``. Comparing stored metrics of two runs
  would compare different test blocks, i.e. different months and churn rates.

Test metrics are stored as version tags ``test_<metric>`` so ``churn models`` and
:class:`LoadedModel.metrics` can show them without opening the run.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churn.commit import git_commit
from churn.config import Config
from churn.errors import ChurnError, NotFound
from training import artifact, portable
from training.artifact import ModelFormatError
from training.gate import GateDecision, against_champion, against_own_figures
from training.model import ChurnModel
from training.results import Evaluation, ScoreMetrics

CHAMPION, CHALLENGER = "champion", "challenger"
TAG_PREFIX = "test_"
TAGGED_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "lift_top_decile",
    "recall_at_capacity",
    "precision_at_capacity",
)
log = logging.getLogger(__name__)
HOLDOUT_ARTIFACT = "holdout/churn_model"  # the run's held-out selection model (same format)
PYFUNC_CODE = Path(__file__).with_name("pyfunc.py")  # the models-from-code script
PORTABLE_CODE = Path(portable.__file__)  # logged beside it: scoring without the project
FORMAT_TAG = "model_format"


@dataclass
class LoadedModel:
    model: ChurnModel
    version: str
    alias: str
    run_id: str
    metrics: dict[str, float]  # test metrics of this version (roc_auc, pr_auc, brier, ...)


@dataclass
class Registration:
    version: str
    alias: str  # champion or challenger
    promoted: bool
    champion_version: str | None  # the champion before this run, if any
    champion_roc_auc: float | None  # that champion re-scored on this run's test block
    decision: GateDecision | None = None


# --------------------------------------------------------------------------- experiment / run


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Keep the terminal to our progress lines while MLflow logs and registers.

    MLflow's hints (integer columns, cloudpickle, type hints) and artifact progress bars are
    expected here and say nothing actionable. Warnings are *recorded* rather than filtered
    because MLflow re-enables some with its own filters.
    """
    logger = logging.getLogger("mlflow")
    level = logger.level
    previous = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(record=True):
            yield
    finally:
        logger.setLevel(level)
        if previous is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = previous


def ensure_experiment(cfg: Config) -> str:
    """The experiment id, creating it with artifacts under ``mlflow_artifacts_dir``."""
    client = MlflowClient()
    name = cfg.registry.experiment_name
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = Path(cfg.paths.mlflow_artifacts_dir).resolve()
        location.mkdir(parents=True, exist_ok=True)
        return client.create_experiment(name, artifact_location=location.as_uri())
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return exp.experiment_id


def log_dataset(frame: pd.DataFrame, source: Path, context: str = "training") -> str:
    """Log the labelled snapshot table as the run's input; returns its digest."""
    dataset = mlflow.data.from_pandas(
        frame, source=str(Path(source).resolve()), name=Path(source).stem, targets="label"
    )
    mlflow.log_input(dataset, context=context)
    return dataset.digest


def log_study(study: Any) -> None:
    """Best trial, every trial as CSV, history and importance plots of the Optuna study."""
    mlflow.log_dict(
        {
            "number": study.best_trial.number,
            "value": study.best_value,
            "params": study.best_params,
            "n_trials": len(study.trials),
        },
        "optuna/best_trial.json",
    )
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "trials.csv"
        study.trials_dataframe().to_csv(csv, index=False)
        mlflow.log_artifact(str(csv), "optuna")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from optuna.visualization import matplotlib as ovm

        for name, plot in (
            ("optimization_history", ovm.plot_optimization_history),
            ("param_importances", ovm.plot_param_importances),
        ):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ax = plot(study)
                fig = ax.figure if hasattr(ax, "figure") else plt.gcf()
                fig.set_size_inches(8, 5)
                fig.tight_layout()
                fig.savefig(Path(tmp) / f"{name}.png", dpi=100)
                plt.close(fig)
                mlflow.log_artifact(str(Path(tmp) / f"{name}.png"), "optuna")
            except (ValueError, RuntimeError, ImportError) as exc:  # e.g. too few trials
                log.info(f"  (optuna {name} plot skipped: {exc})")


def log_model(cfg: Config, model: ChurnModel, example: pd.DataFrame) -> str:
    """Log the pyfunc with signature + input example and register it; returns the version."""
    from mlflow.models import infer_signature

    example = example[model.features].head(5)
    signature = infer_signature(example, model.predict_proba(example))
    with tempfile.TemporaryDirectory() as tmp:
        folder = artifact.save(model, Path(tmp) / portable.ARTIFACT_KEY)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_CODE),
            artifacts={portable.ARTIFACT_KEY: str(folder)},
            code_paths=[str(PORTABLE_CODE)],
            signature=signature,
            input_example=example,
            registered_model_name=cfg.registry.model_name,
            pip_requirements=_requirements(),
        )
    version = str(info.registered_model_version)
    MlflowClient().set_model_version_tag(
        cfg.registry.model_name,
        version,
        FORMAT_TAG,
        f"{portable.FORMAT} v{portable.FORMAT_VERSION}",
    )
    return version


def log_holdout(model: ChurnModel) -> None:
    """Log the held-out selection model beside the served one (the gate re-scores it later)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = artifact.save(model, Path(tmp) / Path(HOLDOUT_ARTIFACT).name)
        mlflow.log_artifacts(str(folder), HOLDOUT_ARTIFACT)


def _requirements() -> list[str]:
    """Pinned requirements of the pyfunc (explicit: inferring them costs a subprocess)."""
    from importlib.metadata import version

    pkgs = ("mlflow", "lightgbm", "pandas", "numpy", "scipy")
    return [f"{p}=={version(p)}" for p in pkgs]


def _flat_metrics(result: Evaluation) -> dict[str, float]:
    """test_<score>_<metric> for every numeric metric of model / rule / baseline / reference,
    plus the gains over the rule and over the baseline (no ``test_rule_*`` metric at all
    where the source has no rule indicator: the run's ``rule_indicator`` tag says why)."""
    out: dict[str, float] = {}
    for name in ("model", "rule", "baseline", "reference"):
        metrics = result.scores.get(name)
        for key, value in (metrics.numbers() if metrics is not None else {}).items():
            out[f"test_{name}_{key}"] = value
    for prefix, interval in (
        ("auc_gain", result.auc_gain),
        ("baseline_gain", result.baseline_gain),
    ):
        gain = interval.to_dict() if interval is not None else {}
        for key, value in gain.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"test_{prefix}_{key}"] = float(value)
    if result.gap_closed is not None:
        out["test_gap_closed"] = float(result.gap_closed)
    backtest = result.calibration_backtest or {}
    for name, pooled in (backtest.get("pooled") or {}).items():
        for key in ("calibration_in_the_large", "ece", "brier", "log_loss"):
            if isinstance(pooled.get(key), int | float):
                out[f"backtest_{name.replace('+', '_')}_{key}"] = float(pooled[key])
    return out


def log_run(
    cfg: Config,
    frame: pd.DataFrame,
    source: Path,
    model: ChurnModel,
    tuned: Any,
    result: Evaluation,
    scores: dict,
    blocks: Any,
) -> str:
    """Log params, config, dataset, git commit, metrics, study, plots + HTML; returns digest."""
    from training.plots import write_plots_and_report

    mlflow.log_params({k: v for k, v in tuned.params.items()})
    mlflow.log_params(
        {
            "best_iteration": tuned.best_iteration,
            "horizon_days": cfg.training.horizon_days,
            "n_trials": cfg.training.n_trials,
            "calibration": cfg.training.calibration.method
            + ("+recent" if cfg.training.calibration.recent_update else ""),
            "n_features": len(model.features),
        }
    )
    mlflow.log_dict(cfg.model_dump(mode="json"), "config/config.json")
    mlflow.log_dict(blocks.split.describe(), "config/split.json")
    mlflow.log_dict(model.risk_thresholds, "config/risk_thresholds.json")
    commit = git_commit()
    mlflow.set_tags({"git_commit": commit or "unknown", "model_name": cfg.registry.model_name})
    rule = result.rule_indicator or {"available": True}
    mlflow.set_tag(
        "rule_indicator",
        "available"
        if rule.get("available", True)
        else f"not available: {(rule.get('reason') or {}).get('en', '')}",
    )
    digest = log_dataset(frame, source)
    mlflow.set_tag("dataset_digest", digest)
    mlflow.log_metric("valid_roc_auc", tuned.best_score)
    mlflow.log_metrics(_flat_metrics(result))
    log_study(tuned.study)
    with tempfile.TemporaryDirectory() as tmp:
        y = blocks.test["label"].to_numpy()
        try:
            paths = write_plots_and_report(result, y, scores, Path(tmp), model, blocks.test)
        except Exception as exc:  # plots are a convenience: never lose the run for them
            log.warning(f"  (plots skipped: {type(exc).__name__}: {exc})")
            paths = []
        for path in paths:
            mlflow.log_artifact(str(path), "evaluation")
    return digest


# --------------------------------------------------------------------------- gate


def _alias_version(client: MlflowClient, name: str, alias: str) -> Any | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


@dataclass
class ChampionScores:
    """The champion re-scored on (part of) a new test block, or why it could not be."""

    version: str | None
    proba: np.ndarray | None = None
    rows: np.ndarray | None = None  # boolean mask of the test rows it was scored on
    detail: str | None = None  # which artefact was scored, or why it could not be


def seen_as_of(model: ChurnModel) -> list[pd.Timestamp]:
    """The snapshot dates whose rows (features or labels) fitted the model or its calibrator."""
    meta = model.metadata or {}
    dates = meta.get("seen_as_of") or [*meta.get("train_as_of", []), *meta.get("valid_as_of", [])]
    return [pd.Timestamp(d) for d in dates]


def unseen_rows(model: ChurnModel, as_of: pd.Series, horizon_days: int) -> np.ndarray:
    """Test rows whose label window starts after every label the model was fitted on.

    A row at ``as_of`` is fair game only if ``max(seen) + horizon < as_of``: the same rule as
    the gaps of :func:`training.split.time_split` (an overlapping window would let the model
    have seen the very churn event it is being scored on).
    """
    seen = seen_as_of(model)
    dates = pd.to_datetime(as_of, utc=True).dt.tz_localize(None)
    if not seen:
        return np.ones(len(dates), dtype=bool)
    last = max(d.tz_localize(None) if d.tzinfo else d for d in seen)
    return (dates > last + pd.Timedelta(days=horizon_days)).to_numpy()


def holdout_twin(run_id: str) -> ChurnModel | None:
    """The run's held-out selection model (fitted before its test block), when it logged one
    in the current format (a run of the old pickle format has none this code reads)."""
    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=HOLDOUT_ARTIFACT)
        return artifact.load(Path(path))
    except (MlflowException, OSError, ModelFormatError):
        return None


def rescore_champion(cfg: Config, test_rows: pd.DataFrame) -> ChampionScores:
    """The current champion's probabilities on the test rows it has never seen.

    A served champion is refitted on every labelled row up to its training date (see
    :func:`training.pipeline.refit_served`), so it may have been fitted on this very test
    block; its run's held-out twin (same recipe, fitted before that run's test block) is
    re-scored instead, which is the like-for-like comparison with this run's held-out model.
    Rows that even the scored artefact saw are left out of the comparison.
    """
    try:
        current = load_alias(cfg.registry.model_name, CHAMPION)
    except NotFound:
        return ChampionScores(None)
    except ModelFormatError as exc:  # an old champion: judged against the rule instead
        mv = _alias_version(MlflowClient(), cfg.registry.model_name, CHAMPION)
        return ChampionScores(str(mv.version) if mv else "?", detail=str(exc))
    twin = holdout_twin(current.run_id)
    scorer = twin or current.model
    what = "its held-out twin" if twin is not None else "the served model"
    rows = unseen_rows(scorer, test_rows["as_of"], cfg.training.horizon_days)
    if not rows.any():
        return ChampionScores(
            current.version,
            detail=f"v{current.version} ({what}) was fitted on every row of this test block",
        )
    try:
        proba = scorer.predict_proba(test_rows[rows])
    except ChurnError as exc:  # e.g. the champion needs columns this snapshot lacks
        return ChampionScores(current.version, detail=f"v{current.version} cannot score it: {exc}")
    detail = f"v{current.version}, {what}, on {int(rows.sum())} of {len(rows)} test rows"
    return ChampionScores(current.version, proba, rows, detail)


def _profit(cfg: Config, y: np.ndarray, proba: np.ndarray, rows: pd.DataFrame) -> float | None:
    """Expected profit (EMPC, RUB per client) when the evaluation has that measure."""
    try:
        from training.profit import empc_rub
    except ImportError:
        return None
    value = empc_rub(y, proba, rows, cfg)
    return None if value is None or not np.isfinite(value) else float(value)


def decide(
    cfg: Config,
    proba: np.ndarray,
    result: Evaluation,
    test_rows: pd.DataFrame,
    y_test: np.ndarray,
) -> GateDecision:
    """The gate's decision for a challenger's test probabilities (the registry is untouched)."""
    t = cfg.training
    champ = rescore_champion(cfg, test_rows)
    if champ.version is None:
        _, reason, comparison = against_own_figures(result, gate=t.gate)
        return GateDecision(
            True, "promoted: no champion yet; " + reason.split(": ", 1)[1], None, "none", None,
            comparison,
        )  # fmt: skip
    if champ.proba is None:
        ok, reason, comparison = against_own_figures(result, gate=t.gate)
        against = "the rule" if comparison.against == "rule" else "the logistic baseline"
        reason = f"champion incompatible ({champ.detail}); judged against {against}: {reason}"
        return GateDecision(ok, reason, champ.version, "incompatible", champ.detail, comparison)
    rows = champ.rows if champ.rows is not None else np.ones(len(test_rows), dtype=bool)
    y, new = np.asarray(y_test)[rows], np.asarray(proba, dtype=float)[rows]
    sub = test_rows[rows]
    profit = (_profit(cfg, y, new, sub), _profit(cfg, y, champ.proba, sub))
    ok, reason, comparison = against_champion(
        y,
        new,
        champ.proba,
        sub["client_id"].to_numpy(),
        gate=t.gate,
        rounds=t.bootstrap_rounds,
        seed=t.seed,
        profit=profit,
    )
    return GateDecision(ok, reason, champ.version, "compared", champ.detail, comparison)


def gate(
    cfg: Config,
    version: str,
    proba: np.ndarray,
    result: Evaluation,
    test_rows: pd.DataFrame,
    y_test: np.ndarray,
) -> Registration:
    """Give ``version`` the champion alias only if it beats the champion beyond noise.

    ``proba`` are the challenger's held-out probabilities on ``test_rows`` and ``result``
    its evaluation (:func:`training.evaluate.evaluate_block`). The decision is stored on the
    version (tags ``gate_*`` and its description); otherwise it becomes ``challenger``.
    """
    decision = decide(cfg, proba, result, test_rows, y_test)
    alias = CHAMPION if decision.promote else CHALLENGER
    name = cfg.registry.model_name
    client = MlflowClient()
    client.set_registered_model_alias(name, alias, version)
    comparison = decision.comparison
    gain = comparison.auc_gain if comparison is not None else None
    tags = {
        "gate_alias": alias,
        "gate_champion_status": decision.champion_status,
        "gate_against": comparison.against if comparison is not None else "",
        "gate_reason": decision.reason[:4900],
        "gate_auc_gain_ci_low": _tag_number(gain.ci_low if gain is not None else None),
    }
    if decision.champion_version is not None:
        tags["gate_champion"] = f"v{decision.champion_version}"
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_model_version(name, version, description=f"gate: {decision.reason}"[:4900])
    compared = decision.champion_status == "compared" and comparison is not None
    champ_auc = comparison.roc_auc.reference if compared else None
    return Registration(
        version, alias, decision.promote, decision.champion_version, champ_auc, decision
    )


def _tag_number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def tag_version(cfg: Config, version: str, metrics: ScoreMetrics, test_dates: list[str]) -> None:
    """Store the test metrics and the test block's dates on the model version."""
    client = MlflowClient()
    name = cfg.registry.model_name
    for key in TAGGED_METRICS:
        value = metrics.get(key)
        if value is not None:
            client.set_model_version_tag(name, version, f"{TAG_PREFIX}{key}", f"{value:.6f}")
    client.set_model_version_tag(name, version, "test_block", ",".join(test_dates))


# --------------------------------------------------------------------------- user commands


def load_by_alias(cfg: Config, alias: str | None = None) -> LoadedModel:
    """Load ``models:/{registry.model_name}@{alias}`` as a ChurnModel with its metadata.

    ``alias`` defaults to ``serving.alias`` (champion). A missing model or alias is
    :class:`NotFound` with a one-line hint to run ``churn train``.
    """
    return load_alias(cfg.registry.model_name, alias or cfg.serving.alias)


def load_alias(name: str, alias: str) -> LoadedModel:
    """``models:/{name}@{alias}``: NotFound with a hint when there is no such alias."""
    mv = _alias_version(MlflowClient(), name, alias)
    if mv is None:
        raise NotFound(
            f"model {name}@{alias} not found in {mlflow.get_tracking_uri()}: run `churn train`"
        )
    # load the resolved version, not the alias again: the alias may move in between
    return _load(name, mv, alias)


def load_version(name: str, version: int | str) -> LoadedModel:
    """``models:/{name}/{version}`` (e.g. the version that scored a stored week)."""
    try:
        mv = MlflowClient().get_model_version(name, str(version))
    except MlflowException:
        raise NotFound(f"model {name} has no version {version}: see `churn models`") from None
    aliases = [a for a in (mv.aliases or []) if a]
    return _load(name, mv, aliases[0] if aliases else "")


def _load(name: str, mv: Any, alias: str) -> LoadedModel:
    """The ChurnModel of a registered version, through its models-from-code pyfunc."""
    uri = f"models:/{name}/{mv.version}"
    flavor = mlflow.models.get_model_info(uri).flavors.get("python_function", {})
    if "model_code_path" not in flavor:  # a cloudpickled python_model: the pickle format
        raise ModelFormatError(
            f"model {name} version {mv.version} was registered in the old pickle format: "
            "retrain with `churn train`"
        )
    wrapper = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    art = getattr(wrapper, "artifact", None)
    if art is None or not isinstance(getattr(art, "metadata", None), dict):
        raise ModelFormatError(f"model {name} version {mv.version} is not a churn-risk model")
    model = artifact.from_artifact(art)
    metrics = {
        k.removeprefix(TAG_PREFIX): float(v)
        for k, v in mv.tags.items()
        if k.startswith(TAG_PREFIX) and k != "test_block"
    }
    return LoadedModel(model, str(mv.version), alias, mv.run_id, metrics)


def promote_version(
    cfg: Config,
    version: int | str,
    alias: str = CHAMPION,
    *,
    reason: str | None = None,
    by: str | None = None,
) -> str:
    """``churn promote``: point ``alias`` at ``version`` by hand, recording who and why;
    returns the line that says so.

    The version gets ``promoted_by`` / ``promoted_reason`` / ``promoted_at`` /
    ``promoted_alias`` tags and a line in its description, so the registry says why a
    version is champion even when the gate did not put it there.
    """
    name = cfg.registry.model_name
    client = MlflowClient()
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException:
        raise NotFound(f"model {name} has no version {version}: see `churn models`") from None
    who = by or _user()
    why = (reason or "").strip() or "no reason given"
    when = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    client.set_registered_model_alias(name, alias, str(version))
    tags = {"promoted_by": who, "promoted_reason": why, "promoted_at": when}
    tags["promoted_alias"] = alias
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, value[:4900])
    line = f"{when}: set as {alias} by hand by {who}: {why}"
    description = f"{mv.description}\n{line}" if mv.description else line
    client.update_model_version(name, str(version), description=description[-4900:])
    return f"{name}@{alias} -> version {version} (by {who}: {why})"


def _user() -> str:
    """Who ran the command: the login name, or ``unknown`` without one (e.g. in a container)."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def model_table(cfg: Config) -> pd.DataFrame:
    """One row per registered version: aliases, test metrics, test block, run id."""
    name = cfg.registry.model_name
    client = MlflowClient()
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        versions = []
    aliases: dict[str, list[str]] = {}
    if versions:
        for alias, version in client.get_registered_model(name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
    rows = []
    for mv in sorted(versions, key=lambda v: int(v.version)):
        block = mv.tags.get("test_block", "")
        rows.append(
            {
                "version": int(mv.version),
                "aliases": ",".join(sorted(aliases.get(str(mv.version), []))),
                **{m: _float(mv.tags.get(f"{TAG_PREFIX}{m}")) for m in TAGGED_METRICS[:5]},
                "test_block": f"{block.split(',')[0]}..{block.split(',')[-1]}" if block else "",
                "run_id": mv.run_id,
            }
        )
    return pd.DataFrame(rows)


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def models_text(cfg: Config) -> str:
    """``churn models``: versions, aliases and test metrics as a text table."""
    table = model_table(cfg)
    if table.empty:
        raise NotFound(
            f"no versions of model {cfg.registry.model_name} in {mlflow.get_tracking_uri()}: "
            "run `churn train`"
        )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        return table.to_string(index=False, float_format=lambda x: f"{x:.4f}")
