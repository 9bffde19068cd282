"""One typed configuration for every step of the flow.

Every knob (paths, generator parameters, windows, horizon, rule weights, search
space, call capacity) lives in ``configs/*.yaml`` and is validated here, so that a
typo in a YAML file fails at start-up with the field's name rather than deep in a run.
``configs/default.yaml`` holds the sections; ``configs/rules.yaml`` and
``configs/reasons.yaml`` hold the rule indicator and the reason/action mapping, which
specialists rather than engineers own.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from churn.errors import InputError

CONFIG_DIR_ENV = "CHURN_CONFIG_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class PathsConfig(_Section):
    """Where things live, relative to the working directory unless absolute."""

    raw_dir: Path = Path("data/raw")
    features_path: Path = Path("data/features/snapshots.parquet")
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")
    mlflow_tracking_uri: str = "sqlite:///models/mlflow.db"
    mlflow_artifacts_dir: Path = Path("models/mlartifacts")


class SimulateConfig(_Section):
    """Generator parameters: the shape of the synthetic client base."""

    clients: int = Field(2000, gt=0)
    months: int = Field(24, gt=0)
    seed: int = 42
    start_date: date = date(2024, 1, 1)
    category_shares: dict[str, float] = {"A": 0.2, "B": 0.35, "C": 0.45}
    remote_share: float = Field(0.4, ge=0, le=1)
    target_monthly_churn: float = Field(0.02, gt=0, lt=1)
    extra: dict[str, Any] = {}


class FeaturesConfig(_Section):
    """Windows (days) for the point-in-time signals."""

    login_windows_days: list[int] = [7, 30, 90]
    trend_recent_days: int = 30
    trend_base_days: int = 60
    webinar_window_days: int = 180
    cabinet_window_days: int = 90
    hotline_window_days: int = 60
    newsletter_windows_days: list[int] = [30, 90]
    video_window_days: int = 90
    kit_update_window_days: int = 90
    contact_change_window_days: int = 180
    certificate_valid_days: int = 730
    renewal_window_days: int = 30
    training_norm: dict[str, float] = {"A": 0.8, "B": 0.5, "C": 0.5}
    snapshot_every: Literal["month"] = "month"


class RuleBands(_Section):
    high: float = 0.34
    dynamic: float = 0.30
    no_threat: float = 0.20


class ContactIndexWeights(_Section):
    base: float = 0.20
    renewal_period_arrived: float = 0.30
    has_overdue_debt: float = 0.10
    no_kit_updates: float = 0.10
    neither_hotline_nor_lk: float = 0.05
    training_norm_not_met: float = 0.20
    has_unreturned_acts: float = 0.0
    systems_use: float = 0.0


class RulesConfig(_Section):
    """The documented rule indicator (seeds 002 and 004)."""

    bands: RuleBands = RuleBands()
    contact_index: ContactIndexWeights = ContactIndexWeights()
    # seed 002 training sub-indicator: high when the last training is older than this
    training_max_age_days: int = Field(730, gt=0)
    extra: dict[str, Any] = {}


class TrainingConfig(_Section):
    """Labels, split, tuning budget and evaluation."""

    horizon_days: int = Field(90, gt=0)
    seed: int = 42
    n_trials: int = Field(30, gt=0)
    timeout_s: int = Field(300, gt=0)
    test_months: int = 3
    valid_months: int = 3
    capacity_per_week: int = Field(100, gt=0)
    model_name: str = "churn-risk"
    experiment_name: str = "churn-risk"
    bootstrap_rounds: int = 500
    search_space: dict[str, Any] = {}
    extra: dict[str, Any] = {}


class ServingConfig(_Section):
    """What the service loads and how it ranks."""

    model_name: str = "churn-risk"
    alias: str = "champion"
    port: int = 3000
    max_clients_per_request: int = 10_000
    ranking: Literal["expected_loss", "probability"] = "expected_loss"
    default_capacity: int = 100
    extra: dict[str, Any] = {}


class Config(_Section):
    paths: PathsConfig = PathsConfig()
    simulate: SimulateConfig = SimulateConfig()
    features: FeaturesConfig = FeaturesConfig()
    rules: RulesConfig = RulesConfig()
    training: TrainingConfig = TrainingConfig()
    serving: ServingConfig = ServingConfig()
    reasons: dict[str, Any] = {}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping at the top level")
    return data


def config_dir() -> Path:
    return Path(os.environ.get(CONFIG_DIR_ENV, REPO_ROOT / "configs"))


def load_config(path: Path | str | None = None) -> Config:
    """Load ``default.yaml`` (or ``path``) plus ``rules.yaml`` and ``reasons.yaml`` beside it."""
    main = Path(path) if path else config_dir() / "default.yaml"
    if not main.exists():
        raise InputError(f"config file not found: {main}")
    data = _read_yaml(main)
    for section, name in (("rules", "rules.yaml"), ("reasons", "reasons.yaml")):
        side = main.parent / name
        if section not in data and side.exists():
            data[section] = _read_yaml(side)
    try:
        return Config.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError: name the field
        raise InputError(f"{main}: invalid config: {exc}") from exc
