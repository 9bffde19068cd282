"""One typed, frozen configuration for every step of the flow.

Every knob (paths, windows, horizon, rule weights, search space, call capacity) lives in
``configs/*.yaml`` once and is validated here, so that a typo in a YAML file fails at
start-up with the field's name rather than deep in a run. ``configs/default.yaml`` holds
the sections; ``configs/rules.yaml`` and ``configs/reasons.yaml`` hold the rule indicator
and the reason/action mapping, which specialists rather than engineers own. The
generator's settings are not here: ``configs/simulate.yaml`` and ``simulator/config.py``.

Settings are immutable: a command-line option or a test builds a changed copy with
:meth:`Settings.override` (``cfg.override(training__n_trials=3)``), so no step can change
what another step reads. Environment variables are read in ``churn/environment.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from churn.errors import InputError

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseModel):
    """A frozen, validated group of settings; changed copies come from :meth:`override`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def override(self, **changes: Any) -> Self:
        """A validated copy with ``changes``; ``a__b=v`` reaches into sections (``a.b``).

        Changes apply in the order given, so ``paths=p, paths__raw_dir=r`` replaces the
        section and then one of its fields.
        """
        data = self.model_dump()
        for key, value in changes.items():
            *parents, leaf = key.split("__")
            node = data
            for i, name in enumerate(parents):
                if not isinstance(node.get(name), dict):
                    raise KeyError(f"override: no section {'.'.join(parents[: i + 1])!r}")
                node = node[name]
            node[leaf] = value.model_dump() if isinstance(value, BaseModel) else value
        return type(self).model_validate(data)


_Section = Settings


class PathsConfig(_Section):
    """Where things live, relative to the working directory unless absolute."""

    # the raw tables (contract Parquet) commands read when --raw is not given
    raw_dir: Path = Path("data/raw")
    # monthly snapshots churn features writes and churn train reads
    features_path: Path = Path("data/features/snapshots.parquet")
    # folder of the local MLflow store (tracking database and artifacts)
    models_dir: Path = Path("models")
    # training, weekly and monitoring reports
    reports_dir: Path = Path("reports")
    # MLflow tracking store and registry (MLFLOW_TRACKING_URI wins)
    mlflow_tracking_uri: str = "sqlite:///models/mlflow.db"
    # where MLflow runs keep their artifacts (models, plots, reports)
    mlflow_artifacts_dir: Path = Path("models/mlartifacts")
    store_path: Path = Path("data/store.db")  # the SQLite score store when store.url is unset
    weeks_dir: Path = Path("data/weeks")  # churn weekly: one snapshot Parquet per week

    def under(self, root: Path) -> PathsConfig:
        """The same layout rooted at ``root``: a throwaway workspace for tests and benchmarks."""
        models = root / "models"
        return PathsConfig(
            raw_dir=root / "raw",
            features_path=root / "features" / "snapshots.parquet",
            models_dir=models,
            reports_dir=root / "reports",
            mlflow_tracking_uri=f"sqlite:///{models / 'mlflow.db'}",
            mlflow_artifacts_dir=models / "mlartifacts",
            store_path=root / "store.db",
            weeks_dir=root / "weeks",
        )


class FeaturesConfig(_Section):
    """Where the signal spec is, and how the engine runs.

    Every signal, its window and its parameters are declared in the spec
    (``configs/signals.yaml``, :mod:`features.spec`); a relative ``signals`` path is
    relative to the directory of the config file that names it.
    """

    signals: Path = REPO_ROOT / "configs" / "signals.yaml"
    # a subscription + activity source spec (configs/sources/*.yaml, features/generic): the
    # loop runs on it and its signals are generated from it (then `signals` is not read);
    # unset: the centre's contract and `signals`. Relative: beside the config file
    source: Path | None = None
    # how often training snapshots are built (monthly)
    snapshot_every: Literal["month"] = "month"
    # DuckDB memory limit for building snapshots; beyond it the engine spills to disk.
    # DuckDB reserves far more than it holds: 4GB failed on the demo (25 monthly dates,
    # client names) at 0.7 GB resident.
    engine_memory_limit: str = "8GB"


class RuleBands(_Section):
    """The documented bands an indicator value falls into (seed 002, "Фиксация отклонений")."""

    # an indicator at or above this is high risk (threat)
    high: float = 0.34
    # at or above this (and below high) is dynamic risk
    dynamic: float = 0.30
    # at or above this (and below dynamic) is no threat
    no_threat: float = 0.20


class ContactIndexWeights(_Section):
    """The contact-necessity index: a base plus a weight per condition met (seed 004)."""

    # the contact-necessity index before any condition (seed 004)
    base: float = 0.20
    # added when the payment-renewal period has arrived
    renewal_period_arrived: float = 0.30
    # added with overdue debt
    has_overdue_debt: float = 0.10
    # added when the client's kits were not updated
    no_kit_updates: float = 0.10
    # added when neither the hotline nor the personal cabinet was used
    neither_hotline_nor_lk: float = 0.05
    # added when the category's training norm is not met
    training_norm_not_met: float = 0.20
    # unreturned acts: unknown in the seed (always no), so 0
    has_unreturned_acts: float = 0.0
    # "systems use": unknown in the seed (always no), so 0
    systems_use: float = 0.0


class RulesConfig(_Section):
    """The documented rule indicator (seeds 002 and 004)."""

    bands: RuleBands = RuleBands()
    contact_index: ContactIndexWeights = ContactIndexWeights()
    # seed 002 training sub-indicator: high when the last training is older than this
    training_max_age_days: int = Field(730, gt=0)


class ParamRange(_Section):
    """One tuned LightGBM parameter: ``low``..``high``, log-uniform when ``log``."""

    # lowest value tried
    low: float
    # highest value tried
    high: float
    # sample on a log scale
    log: bool = False
    # sample whole numbers
    integer: bool = False


DEFAULT_SEARCH_SPACE: dict[str, ParamRange] = {
    "learning_rate": ParamRange(low=0.01, high=0.2, log=True),
    "num_leaves": ParamRange(low=4, high=64, log=True, integer=True),
    "min_child_samples": ParamRange(low=10, high=300, log=True, integer=True),
    "min_sum_hessian_in_leaf": ParamRange(low=1e-3, high=10.0, log=True),
    "lambda_l1": ParamRange(low=1e-8, high=10.0, log=True),
    "lambda_l2": ParamRange(low=1e-8, high=10.0, log=True),
    "feature_fraction": ParamRange(low=0.4, high=1.0),
    "bagging_fraction": ParamRange(low=0.5, high=1.0),
    "cat_smooth": ParamRange(low=1.0, high=50.0, log=True),
}


# Few rows, few positives: shallow trees, slow learning, real regularisation.
TABLE_SEARCH_SPACE: dict[str, ParamRange] = {
    "learning_rate": ParamRange(low=0.01, high=0.1, log=True),
    "num_leaves": ParamRange(low=2, high=16, log=True, integer=True),
    "min_child_samples": ParamRange(low=10, high=100, log=True, integer=True),
    "lambda_l2": ParamRange(low=1e-3, high=10.0, log=True),
    "feature_fraction": ParamRange(low=0.4, high=1.0),
    "bagging_fraction": ParamRange(low=0.5, high=1.0),
}


class ValidationConfig(_Section):
    """``churn validate``: tolerances and how much is read at a time."""

    contract_start_tolerance_days: int = Field(0, ge=0)  # events this many days early are ok
    max_examples: int = Field(3, gt=0)  # example rows listed per violation
    batch_rows: int = Field(1_000_000, gt=0)  # rows per pandera batch (bounded memory)
    duckdb_memory_limit: str = "1GB"  # cross-table checks run in DuckDB under this cap


class GateConfig(_Section):
    """When a newly trained model may take the ``champion`` alias (``training.registry.gate``).

    The challenger must beat the champion on the *same* test block by more than noise: the
    lower end of the paired client-bootstrap 95 % interval of its ROC-AUC gain must exceed
    ``min_gain``, and its Brier score (and expected profit, when the evaluation has it) may
    not be worse than the champion's by more than the tolerances.
    """

    # the lower end of the AUC gain's 95 % interval must be above this
    min_gain: float = Field(0.0, ge=-1, le=1)
    brier_tolerance: float = Field(0.0005, ge=0)  # absolute Brier points
    profit_tolerance: float = Field(0.02, ge=0)  # relative drop of expected profit (EMPC)


ChurnType = Literal["termination", "suspension", "debt_suspension"]  # features.contract
CalibrationMethod = Literal["platt", "isotonic", "venn_abers"]  # training.calibrators


class CalibrationConfig(_Section):
    """How served probabilities are calibrated, and the backtest that chose how.

    ``method`` is the calibrator of the served model (``training.calibrators``);
    ``recent_update`` adds an intercept-only shift: the mean probability over the clients
    the model scores first is set to the churn rate of the newest ``recent_months``
    labelled months.
    The default is the winner by pooled log loss of the rolling backtest
    (``training.backtest``) over the newest ``backtest_blocks`` monthly blocks (0: none),
    which the training report carries; the README gives the measured comparison.
    """

    method: CalibrationMethod = "platt"
    recent_update: bool = True
    recent_months: int = Field(12, gt=0)
    backtest_blocks: int = Field(6, ge=0)
    backtest_bootstrap_rounds: int = Field(200, gt=0)


class TrainingConfig(_Section):
    """Labels, split, tuning budget and evaluation."""

    # label: churn within this many days from as_of
    horizon_days: int = Field(90, gt=0)
    # which churn types are positives; rows whose horizon holds only other types are left
    # out of training and evaluation (training/labels.py says why)
    churn_types: list[ChurnType] = Field(
        default_factory=lambda: ["termination", "suspension", "debt_suspension"], min_length=1
    )
    seed: int = 42
    n_trials: int = Field(30, gt=0)
    timeout_s: int = Field(300, gt=0)
    test_months: int = Field(3, gt=0)
    valid_months: int = Field(3, gt=0)
    min_train_months: int = Field(2, gt=0)
    # paired client-bootstrap rounds of every interval: the test block's metrics, the
    # promotion gate, the uplift report and the ranking comparison
    bootstrap_rounds: int = Field(500, gt=0)
    calibration: CalibrationConfig = CalibrationConfig()
    gate: GateConfig = GateConfig()
    search_space: dict[str, ParamRange] = Field(default_factory=lambda: dict(DEFAULT_SEARCH_SPACE))
    num_threads: int = Field(1, gt=0)
    max_boost_rounds: int = Field(1000, gt=0)
    early_stopping_rounds: int = Field(50, gt=0)
    # risk bands on the calibrated probability: "high" = the probability reached by the top
    # `high_share` of validation rows, "dynamic" = by the top `dynamic_share`
    risk_high_share: float = Field(0.10, gt=0, lt=1)
    risk_dynamic_share: float = Field(0.25, gt=0, lt=1)
    # `churn train --table`: trials per outer fold; the time budget is split across folds.
    # Small flat tables are tuned by inner stratified K-fold CV in a narrower space (a single
    # inner split picked noisy, over-fitted trials: measured 0.745 vs 0.768 CV ROC-AUC).
    table_trials: int = Field(20, gt=0)
    table_timeout_s: float = Field(120, gt=0)
    table_inner_folds: int = Field(3, ge=2)
    table_early_stopping_rounds: int = Field(100, gt=0)
    table_max_category_share: float = Field(0.5, gt=0, le=1)  # more distinct texts: id-like
    table_search_space: dict[str, ParamRange] = Field(
        default_factory=lambda: dict(TABLE_SEARCH_SPACE)
    )

    @model_validator(mode="after")
    def _distinct_churn_types(self) -> TrainingConfig:
        if len(set(self.churn_types)) != len(self.churn_types):
            raise ValueError(f"training.churn_types: listed twice in {self.churn_types}")
        return self


class ServingConfig(_Section):
    """What the service loads and how it ranks."""

    alias: str = "champion"  # the registry alias the service, scoring and monitoring load
    # `churn serve` binds this address (loopback: the service holds client fees and debts);
    # --host 0.0.0.0 exposes it on every interface
    host: str = "127.0.0.1"
    # port of churn serve
    port: int = 3000
    # most client ids or rows one /score request may carry
    max_clients_per_request: int = 10_000
    # order of the call list: expected loss (RUB at stake), probability or profit
    ranking: Literal["expected_loss", "probability", "expected_profit"] = "expected_loss"
    # calls the specialists make a week: the weekly list's length, and the list the
    # training evaluation replays on the test block
    default_capacity: int = Field(100, gt=0)
    # the weekly call list leaves out clients reached on a call within this many days
    recall_after_days: int = Field(28, ge=0)
    # language of sentences and of the /ui page: "en" (reasons.yaml) or a reasons.<lang>.yaml
    # beside the config (default.yaml says ru); a request may ask for another (?lang=en)
    language: str = "en"
    # the service checks the store for a newer week at most this often (and on /readyz)
    week_poll_s: float = Field(30.0, gt=0)
    # verified API keys are remembered this long: a revoked key stops working within it
    key_cache_s: float = Field(30.0, ge=0)
    # at most this many call outcomes in one POST /outcomes
    max_outcomes_per_request: int = Field(1000, ge=1)
    # a request body above this many bytes is answered 413 before it is read or parsed
    max_body_bytes: int = Field(16_000_000, ge=1024)
    # an outcome's called_on may lie at most this many days after today (time zones, clocks)
    called_on_future_days: int = Field(1, ge=0)


class RetentionConfig(_Section):
    """What a retention call is worth and costs, and the randomised holdout.

    A client kept is worth ``monthly fee x value_months`` (the expected remaining months
    of a retained subscription). A churner who is called accepts the offer with a rate
    gamma ~ Beta whose mean is the retention department's efficiency norm (60 %, seed 000)
    and whose spread is ``efficiency_sd``; every call costs ``contact_cost_rub`` and every
    client who takes the offer (all non-churners, the accepting churners) costs
    ``incentive_rub`` (Verbraken et al. 2013). ``holdout_share`` of the clients the list
    would call are held out at random each week, so the effect of calls can be measured.
    """

    # share of reached at-risk clients a call retains (the 60 % norm, seed 000)
    efficiency: float = Field(0.6, gt=0, lt=1)
    # sd of that share: EMPC integrates over a Beta with this mean and sd
    efficiency_sd: float = Field(0.15, gt=0, lt=0.5)
    # months of fee a retained client is worth
    value_months: float = Field(24.0, gt=0)
    # cost of one call, RUB
    contact_cost_rub: float = Field(500.0, ge=0)
    # cost of the offer made to a client who accepts, RUB
    incentive_rub: float = Field(1000.0, ge=0)
    # share of the weekly list held out at random (not called)
    holdout_share: float = Field(0.10, ge=0, lt=1)
    # seed of the holdout draw (with the week's date)
    holdout_seed: int = 0
    # a held-out client stays off every list (both arms) for this many days after the week
    # it was held out, so the control group stays uncalled over its label horizon;
    # None = the served model's horizon (training.horizon_days)
    holdout_washout_days: int | None = Field(None, ge=0)
    risk_deciles: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _spread_fits(self) -> RetentionConfig:
        m = self.efficiency
        if self.efficiency_sd**2 >= m * (1 - m):
            raise ValueError(
                f"retention.efficiency_sd: {self.efficiency_sd} is too wide for a Beta with mean "
                f"{m} (needs sd < {(m * (1 - m)) ** 0.5:.3f})"
            )
        return self

    def beta_parameters(self) -> tuple[float, float]:
        """(alpha, beta) of the acceptance-rate Beta with this mean and sd."""
        m, var = self.efficiency, self.efficiency_sd**2
        concentration = m * (1 - m) / var - 1
        return m * concentration, (1 - m) * concentration


class StoreConfig(_Section):
    """The score store (``store/``): weeks, call lists, outcomes, API keys.

    ``url`` is a SQLAlchemy URL (``postgresql+psycopg://user@host/db``); unset means the
    SQLite file ``paths.store_path``. ``CHURN_STORE_URL`` overrides both.
    """

    # SQLAlchemy URL of the store (CHURN_STORE_URL wins); unset: paths.store_path
    url: str | None = None
    busy_timeout_s: float = Field(30.0, gt=0)  # how long a SQLite writer waits for another
    # stored SHAP values (weekly_scores.shap_raw) kept for the newest this many weeks; each
    # weekly write clears them in older weeks, whose /explain computes them again
    shap_weeks: int = Field(2, ge=1)


class ReasonGroup(_Section):
    """A reason group (seeds 001/003) and its first retention action."""

    # the group's name as people read it
    label: str
    # the first retention action for clients whose main reason is in it
    action: str


class FeatureReason(_Section):
    """A signal's own wording where the templates by kind do not read well: template cases,
    and an action that overrides its reason group's. The signal's reason group and label
    are in the signal spec (``configs/signals.yaml``)."""

    # an action of its own instead of the group's
    action: str | None = None
    # case -> template; cases: missing, a category value, zero, one, default
    text: dict[str, str] = {}


class ChangeWords(_Section):
    """How a change of one signal between two weeks reads ({label}, {before}, {after})."""

    # how a value that went up reads
    rose: str = "{label} rose from {before} to {after}"
    # how a value that went down reads
    fell: str = "{label} fell from {before} to {after}"
    # how a changed category reads
    changed: str = "{label} changed from {before} to {after}"


class ReasonsConfig(_Section):
    """``configs/reasons.yaml``: drivers in plain words, reason groups and actions."""

    language: str = "en"  # plural rules of {value:days}: en or ru
    # words after a driver that raises risk
    raises: str = "raises risk"
    # words after a driver that lowers risk
    lowers: str = "lowers risk"
    # between a driver's sentence and its direction
    separator: str = " — "
    # said wherever the rule indicator would be shown when the source has none (the signal
    # spec declares no rule_indicator entries: features.rules.available)
    no_rule: str = "no rule indicator: this source lacks its inputs"
    # reason groups by code: label and first action
    groups: dict[str, ReasonGroup] = {}
    # per signal: its own wording and action where the templates by kind do not read well
    features: dict[str, FeatureReason] = {}
    # words the templates' format specs use: missing values, days (plural forms one / few /
    # many, "{n}" is the number), rule bands, category values, changes between weeks
    unknown: str = "unknown"
    decimal: str = "."  # decimal separator of {value:2f}
    days: dict[str, str] = {"one": "{n} day", "few": "{n} days", "many": "{n} days"}
    bands: dict[str, str] = {"high": "high", "dynamic": "dynamic", "no_threat": "no threat"}
    values: dict[str, str] = {}
    changes: ChangeWords = ChangeWords()
    # templates by the signal's kind (count, money, days, flag, share, index, category) for
    # a signal without its own `features` wording; {label} is its label in this language
    kinds: dict[str, dict[str, str]] = {}


class MonitoringConfig(_Section):
    """``churn monitor``: drift of the served weeks against the champion's training rows,
    realised performance once a week's label horizon has passed, and when to alert.

    PSI bands (the usual reading): below ``moderate_psi`` stable, up to ``significant_psi``
    moderate, above it significant; only *significant* drift of a model feature or of the
    score raises an alert. The reference is a seeded sample of ``reference_rows`` training
    rows from the newest ``reference_months`` labelled snapshot dates of the served model
    (0 = all of them), logged with the model at train time. Twelve months hold every season
    once: with only the newest three, a summer-low reference made December's normal logins
    look like drift and hid a halving of logins (measured on the demo base, README).
    """

    psi_bins: int = Field(10, ge=2, le=100)  # quantile bins of the reference (+ a NaN bin)
    # PSI from here is moderate drift (reported, no alert)
    moderate_psi: float = Field(0.1, gt=0)
    # PSI above this is significant drift: an alert
    significant_psi: float = Field(0.25, gt=0)
    min_auc: float = Field(0.65, ge=0, le=1)  # realised ROC-AUC below this alerts
    weeks: int = Field(4, gt=0)  # newest stored weeks checked for drift
    performance_weeks: int = Field(26, gt=0)  # newest matured weeks whose performance is read
    min_labelled_rows: int = Field(200, gt=0)  # fewer: performance reported, never alerted
    # a matured week's mean probability / observed churn rate outside this band, beyond the
    # week's own binomial noise, alerts (performance:calibration)
    calibration_band: tuple[float, float] = (0.8, 1.25)
    reference_rows: int = Field(5000, gt=0)
    reference_months: int = Field(12, ge=0)
    reference_seed: int = 0
    calibration_bins: int = Field(10, ge=2)
    # the last report (what the service's /metrics reads) and the HTML page; unset means
    # paths.reports_dir / "monitoring" / "monitor.json" and paths.reports_dir / "monitoring"
    report_path: Path | None = None
    html_dir: Path | None = None

    @model_validator(mode="after")
    def _bands_ordered(self) -> MonitoringConfig:
        low, high = self.calibration_band
        if not 0 < low <= 1 <= high:
            raise ValueError(
                f"monitoring.calibration_band: {list(self.calibration_band)} must hold 1 "
                "with a positive lower end"
            )
        if self.significant_psi <= self.moderate_psi:
            raise ValueError(
                f"monitoring.significant_psi: {self.significant_psi} must exceed "
                f"moderate_psi {self.moderate_psi}"
            )
        return self

    def report_file(self, paths: PathsConfig) -> Path:
        """Where ``churn monitor`` writes its last JSON report by default."""
        return self.report_path or Path(paths.reports_dir) / "monitoring" / "monitor.json"

    def html_folder(self, paths: PathsConfig) -> Path:
        """Where ``churn monitor`` writes its HTML page by default."""
        return self.html_dir or Path(paths.reports_dir) / "monitoring"


class RegistryConfig(_Section):
    """The MLflow names: what training registers is what serving and monitoring load."""

    # the registered model's name: what training registers, serving loads
    model_name: str = "churn-risk"
    # the MLflow experiment training runs are logged to
    experiment_name: str = "churn-risk"


class Config(_Section):
    paths: PathsConfig = PathsConfig()
    registry: RegistryConfig = RegistryConfig()
    features: FeaturesConfig = FeaturesConfig()
    rules: RulesConfig = RulesConfig()
    validation: ValidationConfig = ValidationConfig()
    training: TrainingConfig = TrainingConfig()
    serving: ServingConfig = ServingConfig()
    retention: RetentionConfig = RetentionConfig()
    store: StoreConfig = StoreConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    reasons: ReasonsConfig = ReasonsConfig()
    # the same sentences in other languages: configs/reasons.<lang>.yaml (e.g. ru)
    reasons_by_language: dict[str, ReasonsConfig] = {}

    @model_validator(mode="after")
    def _language_known(self) -> Config:
        if self.serving.language not in self.languages():
            have = ", ".join(self.languages())
            raise ValueError(
                f"serving.language: unknown language {self.serving.language!r}; have {have}"
            )
        return self

    def languages(self) -> list[str]:
        """The languages sentences can be given in: en plus every reasons.<lang>.yaml."""
        return ["en", *(k for k in self.reasons_by_language if k != "en")]

    def reasons_in(self, language: str | None = None) -> ReasonsConfig:
        """The reasons (sentences, groups, actions) in ``language`` (default serving.language)."""
        language = language or self.serving.language
        if language == "en":
            return self.reasons
        if language not in self.reasons_by_language:
            have = ", ".join(self.languages())
            raise InputError(f"lang: unknown language {language!r}; expected one of {have}")
        return self.reasons_by_language[language]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping at the top level")
    return data


def config_dir() -> Path:
    """``CHURN_CONFIG_DIR``, else the repository's ``configs/``."""
    from churn.environment import environment

    return environment().config_dir or REPO_ROOT / "configs"


# Keys that moved; an old config naming one fails with where it went.
MOVED = {
    "simulate": "configs/simulate.yaml (the generator's own settings, simulator/config.py)",
    "training.model_name": "registry.model_name",
    "training.experiment_name": "registry.experiment_name",
    "serving.model_name": "registry.model_name",
    "training.capacity_per_week": "serving.default_capacity",
    "retention.bootstrap_rounds": "training.bootstrap_rounds",
    "training.extra": None,
    "serving.extra": None,
    "retention.extra": None,
    "rules.extra": None,
    **{  # every signal's window and parameter: the signal spec (features.signals)
        f"features.{k}": "configs/signals.yaml (the signal spec: windows and params)"
        for k in (
            "login_windows_days",
            "trend_recent_days",
            "trend_base_days",
            "active_users_window_days",
            "webinar_window_days",
            "cabinet_window_days",
            "hotline_window_days",
            "newsletter_windows_days",
            "video_window_days",
            "kit_update_window_days",
            "contact_change_window_days",
            "certificate_valid_days",
            "renewal_window_days",
            "training_norm",
        )
    },
}


def check_moved(data: dict[str, Any], where: Path) -> None:
    """Fail on a key that moved or went, naming its new place."""
    for key, target in MOVED.items():
        section, _, name = key.partition(".")
        node = data.get(section)
        present = section in data if not name else isinstance(node, dict) and name in node
        if present:
            hint = f"moved to {target}" if target else "removed (it was never read)"
            raise InputError(f"{where}: {key} is no longer a setting here: {hint}")


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, section by section (mappings merge, the rest replaces)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _config_data(main: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The settings of ``main`` as a mapping: the file it ``extends`` (relative to it)
    first, its own keys on top; side files and relative spec paths resolved per file."""
    if not main.exists():
        raise InputError(f"config file not found: {main}")
    if main.resolve() in seen:
        raise InputError(f"{main}: extends itself (through {', '.join(map(str, seen))})")
    data = _read_yaml(main)
    check_moved(data, main)
    # spec paths are relative to the config file that names them, made absolute so that a
    # copy of the settings written elsewhere (the service's) still names the same file
    for key in ("signals", "source"):
        value = (data.get("features") or {}).get(key)
        if value is not None and not Path(value).is_absolute():
            data["features"][key] = (main.parent / value).resolve()
    parent = data.pop("extends", None)
    if parent is None:
        return _with_side_files(data, main)
    base = _config_data(main.parent / parent, (*seen, main.resolve()))
    return _merged(base, data)


def _with_side_files(data: dict[str, Any], main: Path) -> dict[str, Any]:
    for section, name in (("rules", "rules.yaml"), ("reasons", "reasons.yaml")):
        side = main.parent / name
        if section not in data and side.exists():
            data[section] = _read_yaml(side)
    if "reasons_by_language" not in data:  # reasons.ru.yaml -> reasons_by_language.ru
        data["reasons_by_language"] = {
            side.name.split(".")[1]: _read_yaml(side)
            for side in sorted(main.parent.glob("reasons.*.yaml"))
        }
    return data


def load_config(path: Path | str | None = None) -> Config:
    """Load ``default.yaml`` (or ``path``) plus ``rules.yaml`` and ``reasons.yaml`` beside it.

    A config may start with ``extends: ../default.yaml``: that file (with its side files)
    is read first and this one's sections are merged over it, so a variant states only
    what differs (``configs/generic/default.yaml``)."""
    main = Path(path) if path else config_dir() / "default.yaml"
    data = _config_data(main)
    try:
        return Config.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError: name the field
        raise InputError(f"{main}: invalid config: {exc}") from exc
