"""MLflow tracking and model registry: log a training run, register it, gate promotion.

* One experiment (``cfg.training.experiment_name``) whose artifacts live under
  ``cfg.paths.mlflow_artifacts_dir``; one run per training.
* The model is a pyfunc (:class:`ChurnPyfunc`) wrapping a joblib-pickled
  :class:`~training.model.ChurnModel`, so ``mlflow.pyfunc.load_model(
  "models:/churn-risk@champion").predict(snapshot_rows)`` returns calibrated
  probabilities, and :func:`load_by_alias` hands serving the full ``ChurnModel``
  (booster for SHAP, thresholds, categorical levels).
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
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import mlflow
import numpy as np
import pandas as pd
import typer
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churn.config import Config
from churn.errors import ChurnError, NotFound
from training.model import ChurnModel
from training.pyfunc import MODEL_ARTIFACT, ChurnPyfunc

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
REPO_ROOT = Path(__file__).resolve().parent.parent


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
    name = cfg.training.experiment_name
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = Path(cfg.paths.mlflow_artifacts_dir).resolve()
        location.mkdir(parents=True, exist_ok=True)
        return client.create_experiment(name, artifact_location=location.as_uri())
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return exp.experiment_id


def git_commit() -> str | None:
    """The repository's HEAD commit, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


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
                typer.echo(f"  (optuna {name} plot skipped: {exc})")


def log_model(cfg: Config, model: ChurnModel, example: pd.DataFrame) -> str:
    """Log the pyfunc with signature + input example and register it; returns the version."""
    from mlflow.models import infer_signature

    example = example[model.features].head(5)
    signature = infer_signature(example, model.predict_proba(example))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "churn_model.joblib"
        joblib.dump(model, path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=ChurnPyfunc(),
            artifacts={MODEL_ARTIFACT: str(path)},
            signature=signature,
            input_example=example,
            registered_model_name=cfg.training.model_name,
            pip_requirements=_requirements(),
        )
    return str(info.registered_model_version)


def _requirements() -> list[str]:
    """Pinned requirements of the pyfunc (explicit: inferring them costs a subprocess)."""
    from importlib.metadata import version

    pkgs = ("mlflow", "lightgbm", "pandas", "numpy", "scikit-learn", "scipy", "joblib")
    return [f"{p}=={version(p)}" for p in pkgs]


def _flat_metrics(result: dict) -> dict[str, float]:
    """test_<score>_<metric> for every numeric metric of model / rule / oracle, plus gain."""
    out: dict[str, float] = {}
    for name in ("model", "rule", "oracle"):
        for key, value in (result.get(name) or {}).items():
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and np.isfinite(value)
            ):
                out[f"test_{name}_{key}"] = float(value)
    for key, value in (result.get("auc_gain") or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[f"test_auc_gain_{key}"] = float(value)
    if result.get("gap_closed") is not None:
        out["test_gap_closed"] = float(result["gap_closed"])
    return out


def log_run(
    cfg: Config,
    frame: pd.DataFrame,
    source: Path,
    model: ChurnModel,
    tuned: Any,
    result: dict,
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
            "calibration": "platt",
            "n_features": len(model.features),
        }
    )
    mlflow.log_dict(cfg.model_dump(mode="json"), "config/config.json")
    mlflow.log_dict(blocks.split.describe(), "config/split.json")
    mlflow.log_dict(model.risk_thresholds, "config/risk_thresholds.json")
    commit = git_commit()
    mlflow.set_tags({"git_commit": commit or "unknown", "model_name": cfg.training.model_name})
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
            typer.echo(f"  (plots skipped: {type(exc).__name__}: {exc})")
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


def rescore_champion(
    cfg: Config, test_rows: pd.DataFrame, y_test: np.ndarray
) -> tuple[str | None, float | None]:
    """(version, ROC-AUC) of the current champion on these test rows; (None, None) if none."""
    from sklearn.metrics import roc_auc_score

    try:
        current = load_alias(cfg.training.model_name, CHAMPION)
    except NotFound:
        return None, None
    try:
        scores = current.model.predict_proba(test_rows)
    except ChurnError as exc:  # e.g. the champion needs columns this snapshot lacks
        typer.echo(f"  champion v{current.version} cannot score the new test block: {exc}")
        return current.version, float("inf")  # cannot compare: keep the champion
    return current.version, float(roc_auc_score(y_test, scores))


def gate(
    cfg: Config, version: str, new_auc: float, test_rows: pd.DataFrame, y_test: np.ndarray
) -> Registration:
    """Give ``version`` the champion alias only if it beats the champion on this test block."""
    name = cfg.training.model_name
    champ_version, champ_auc = rescore_champion(cfg, test_rows, y_test)
    promoted = champ_version is None or new_auc > champ_auc
    alias = CHAMPION if promoted else CHALLENGER
    client = MlflowClient()
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, "gate_alias", alias)
    if champ_version is not None and np.isfinite(champ_auc):
        client.set_model_version_tag(
            name, version, "gate_champion", f"v{champ_version} roc_auc={champ_auc:.4f}"
        )
    return Registration(version, alias, promoted, champ_version, champ_auc)


def tag_version(cfg: Config, version: str, metrics: dict[str, Any], test_dates: list[str]) -> None:
    """Store the test metrics and the test block's dates on the model version."""
    client = MlflowClient()
    name = cfg.training.model_name
    for key in TAGGED_METRICS:
        value = metrics.get(key)
        if value is not None:
            client.set_model_version_tag(name, version, f"{TAG_PREFIX}{key}", f"{value:.6f}")
    client.set_model_version_tag(name, version, "test_block", ",".join(test_dates))


# --------------------------------------------------------------------------- user commands


def load_by_alias(cfg: Config, alias: str | None = None) -> LoadedModel:
    """Load ``models:/{serving.model_name}@{alias}`` as a ChurnModel with its metadata.

    ``alias`` defaults to ``serving.alias`` (champion). A missing model or alias is
    :class:`NotFound` with a one-line hint to run ``churn train``.
    """
    return load_alias(cfg.serving.model_name, alias or cfg.serving.alias)


def load_alias(name: str, alias: str) -> LoadedModel:
    client = MlflowClient()
    mv = _alias_version(client, name, alias)
    if mv is None:
        raise NotFound(
            f"model {name}@{alias} not found in {mlflow.get_tracking_uri()}: run `churn train`"
        )
    # load the resolved version, not the alias again: the alias may move in between
    wrapper = mlflow.pyfunc.load_model(f"models:/{name}/{mv.version}").unwrap_python_model()
    model = getattr(wrapper, "model", None)
    if not isinstance(model, ChurnModel):
        raise NotFound(f"model {name}@{alias} (version {mv.version}) is not a churn model")
    metrics = {
        k.removeprefix(TAG_PREFIX): float(v)
        for k, v in mv.tags.items()
        if k.startswith(TAG_PREFIX) and k != "test_block"
    }
    return LoadedModel(model, str(mv.version), alias, mv.run_id, metrics)


def promote_version(cfg: Config, version: int | str, alias: str = CHAMPION) -> None:
    """``churn promote``: point ``alias`` at ``version`` by hand."""
    name = cfg.training.model_name
    client = MlflowClient()
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise NotFound(f"model {name} has no version {version}: see `churn models`") from None
    client.set_registered_model_alias(name, alias, str(version))
    typer.echo(f"{name}@{alias} -> version {version}")


def model_table(cfg: Config) -> pd.DataFrame:
    """One row per registered version: aliases, test metrics, test block, run id."""
    name = cfg.training.model_name
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


def print_models(cfg: Config) -> None:
    """``churn models``: list versions, aliases and test metrics."""
    table = model_table(cfg)
    if table.empty:
        raise NotFound(
            f"no versions of model {cfg.training.model_name} in {mlflow.get_tracking_uri()}: "
            "run `churn train`"
        )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        typer.echo(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
