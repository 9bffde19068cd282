"""The generator's settings (``configs/simulate.yaml``): the shape of the synthetic base.

They live beside the simulator, not in the program's config (``churn/config.py``): the
scoring program never reads them, and a centre's real export has none of them. Loaded by
:func:`load_simulate_config` from ``simulate.yaml`` beside the main config (else the
repository's), frozen like every other setting: a changed copy comes from
``sim.override(clients=800, reference__paths=0)``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, model_validator

from churn.config import REPO_ROOT, Settings, TrainingConfig, _read_yaml, config_dir
from churn.errors import InputError

SIMULATE_FILE = "simulate.yaml"


class HazardConfig(Settings):
    """Hidden monthly churn hazard of the generator (logit scale, lagged observable signals).

    Each weight multiplies a signal a specialist could see before the month starts; the
    interaction weights make the risk non-additive so that a model can beat the rule.
    The intercept is solved each month so the mean hazard equals ``target_monthly_churn``.
    """

    low_activity: float = 1.1  # saturating: (low_login_threshold - logins) / threshold, clipped
    low_login_threshold: float = 8.0
    zero_logins: float = 0.6
    falling_activity: float = 0.7
    overdue_debt: float = 0.4
    overdue_debt_small_extra: float = 0.8
    long_overdue: float = 0.6  # oldest overdue due date more than long_overdue_days ago
    long_overdue_days: int = 45
    very_long_overdue: float = 1.5  # seed 000: termination after ~6 months of debt suspension
    very_long_overdue_days: int = 180
    competitor_yes: float = 0.3
    competitor_yes_low_activity: float = 1.3
    competitor_unknown: float = 0.2
    training_norm_not_met: float = 0.35
    renewal_arrived: float = 0.15
    renewal_low_activity: float = 0.9
    no_kit_updates: float = 0.6
    neither_hotline_nor_cabinet: float = 0.25
    key_user_change: float = 0.8
    decision_maker_change: float = 0.5
    change_window_days: int = 180
    new_client: float = 0.4
    new_client_short_advance: float = 0.6
    new_client_days: int = 365
    newsletter_clicks: float = -0.35
    webinars_2plus: float = -0.2
    no_contact: float = 0.3
    no_contact_days: int = 60
    large_segment: float = -0.3
    category_a: float = -0.2
    client_noise_sd: float = Field(0.25, ge=0)
    month_noise_sd: float = Field(0.1, ge=0)


class ShiftConfig(Settings):
    """A change of behaviour from a date on (``simulate.yaml: shift``): what monitoring must catch.

    From the first simulated month that starts on or after ``after``, every client's login
    rate is multiplied by ``logins_factor`` and its service-request rate (hotline,
    consultation centre, personal cabinet) by ``requests_factor``. Months before are the
    same bytes as without the shift (same seed), so a base with and one without it differ
    only from ``after`` on. The hidden hazard keeps reading the observable signals, so the
    churn it implies moves with them (the intercept still holds the mean monthly churn).
    """

    after: date
    logins_factor: float = Field(1.0, ge=0)
    requests_factor: float = Field(1.0, ge=0)


class TreatmentConfig(Settings):
    """What a retention call does to the hidden hazard (``simulator.treatment``).

    A call that reaches the client (``reach_rate``) and whose offer is taken
    (``accept_rate``, the retention department's 60 % norm, seed 000) removes a share of
    each addressable driver's logit contribution for ``months`` months after the month of
    the call: paying off a debt plan or training an idle key user removes a lot, a client
    who is relocating or leaving for reasons nobody controls is hardly moved. Every
    accepted call also gets ``floor_shift`` off the logit; the per-client responsiveness
    is log-normal with mean 1 and log-sd ``noise_sd``, drawn from its own random stream.
    """

    removal: dict[str, float] = {
        "debt": 0.8,  # financial difficulties: payment plan
        "engagement": 0.7,  # low engagement / service quality: training, pilot request
        "training": 0.6,
        "renewal": 0.5,
        "new_client": 0.4,
        "contacts": 0.4,  # not the decision maker
        "competitor": 0.2,  # changed preferences: hard to win back
        "base": 0.0,  # uncontrollable, relocation, other
    }
    floor_shift: float = Field(0.1, ge=0)
    noise_sd: float = Field(0.5, ge=0)
    months: int = Field(2, ge=1, le=12)
    reach_rate: float = Field(0.8, ge=0, le=1)
    accept_rate: float = Field(0.6, ge=0, le=1)
    seed_stream: int = 7171  # the treatment's own stream: default_rng([seed, stream, week])

    @model_validator(mode="after")
    def _removal_shares(self) -> TreatmentConfig:
        bad = {k: v for k, v in self.removal.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(
                f"simulate.yaml treatment.removal: shares must be in [0, 1], got {bad}"
            )
        return self


class LoopConfig(Settings):
    """``churn simulate-weeks``: the closed loop over a generated base (``cli.closed_loop``)."""

    base_months: int = Field(15, ge=8)  # generated history before the first simulated week
    calls_per_1000_clients: float = Field(33.3, gt=0)  # weekly capacity (100 for 3 000 clients)
    relist_after_days: int = Field(98, ge=0)  # no client listed (either arm) twice within:
    # >= horizon and >= 31 x (treatment.months + 1): see cli.closed_loop
    n_trials: int = Field(5, gt=0)  # Optuna trials of the model trained on the base


class ResumptionConfig(Settings):
    """Suspensions that end (``simulator/resumption.py``): off by default, so a base made
    with the default config is byte-identical to one made before resumption existed."""

    share: float = Field(0.0, ge=0, le=1)  # of suspension / debt_suspension churners
    mean_days: float = Field(60.0, ge=1)  # mean suspension length (geometric, whole days)


class ReferenceConfig(Settings):
    """The honest reference the generator writes (``simulator/horizon_truth.py``).

    For each monthly ``as_of`` whose horizon ends inside the window: the true probability
    of churning within ``horizon_days`` given the generator's whole state at ``as_of``,
    estimated from ``paths`` Monte Carlo forward simulations with their own random stream
    (the contract tables do not change). 0 paths: not written. The cost is about
    ``paths x clients x 3.3`` simulated client-months per as_of month, so bases with more
    than ``max_clients`` clients skip it (the summary says so). ``max_replicas`` bounds how
    many copied clients are simulated at once (memory); ``horizon_days`` None means
    ``training.horizon_days`` (filled in when the whole config is loaded).
    """

    paths: int = Field(32, ge=0)
    max_clients: int = Field(20_000, ge=0)
    max_replicas: int = Field(200_000, gt=0)
    horizon_days: int | None = Field(None, gt=0)  # None: training.horizon_days


class SimulateConfig(Settings):
    """Generator parameters: the shape of the synthetic client base."""

    clients: int = Field(2000, gt=0)
    months: int = Field(24, gt=0)
    seed: int = 42
    centres: int = Field(0, ge=0, le=99)  # > 0: a network export with clients.centre_id
    names: bool = False  # write clients.name (firm and person names, as a CRM shows them)
    start_date: date = date(2024, 1, 1)
    category_shares: dict[str, float] = {"A": 0.2, "B": 0.35, "C": 0.45}
    remote_share: float = Field(0.4, ge=0, le=1)
    target_monthly_churn: float = Field(0.02, gt=0, lt=1)
    # history and joining
    history_months: int = Field(3, ge=0, le=24)  # activity exported before the window
    new_client_share: float = Field(0.25, ge=0, le=1)  # clients joining during the window
    mean_tenure_years: float = Field(4.0, gt=0)
    # money
    fee_median_rub: dict[str, float] = {"A": 14000.0, "B": 8000.0, "C": 5000.0}
    fee_sigma: float = Field(0.5, ge=0)
    advance_shares: dict[int, float] = {1: 0.35, 3: 0.25, 6: 0.15, 12: 0.25}
    first_advance_shares: dict[int, float] = {1: 0.4, 3: 0.3, 6: 0.15, 12: 0.15}
    first_advance_missing_share: float = Field(0.15, ge=0, le=1)
    invoice_due_days: int = Field(5, ge=0)
    # users
    max_users: int = Field(15, ge=1, le=50)
    missing_email_share: float = Field(0.08, ge=0, le=1)
    bad_email_share: float = Field(0.06, ge=0, le=1)
    region_missing_share: float = Field(0.04, ge=0, le=1)
    # engagement and activity
    engagement_ar: float = Field(0.85, ge=0, lt=1)
    engagement_sd: float = Field(0.35, ge=0)
    seasonality: dict[int, float] = {1: -0.25, 5: -0.1, 7: -0.3, 8: -0.35, 12: 0.05}
    logins_per_user: float = Field(3.0, gt=0)
    campaigns_per_month: int = Field(2, ge=0)
    newsletter_subscribe_share: float = Field(0.5, ge=0, le=1)
    competitor_unknown_share: float = Field(0.2, ge=0, le=1)
    training_norm: dict[str, float] = {"A": 0.8, "B": 0.5, "C": 0.5}
    hazard: HazardConfig = HazardConfig()
    shift: ShiftConfig | None = None  # behaviour change after a date (monitoring tests)
    treatment: TreatmentConfig = TreatmentConfig()
    loop: LoopConfig = LoopConfig()
    resumption: ResumptionConfig = ResumptionConfig()
    reference: ReferenceConfig = ReferenceConfig()
    compression: str = "zstd"


def simulate_config_path(config_path: Path | str | None = None) -> Path:
    """``simulate.yaml`` beside the main config ``config_path`` (or beside the default one),
    else the repository's."""
    folder = Path(config_path).parent if config_path else config_dir()
    side = folder / SIMULATE_FILE
    return side if side.exists() else REPO_ROOT / "configs" / SIMULATE_FILE


def load_simulate_config(config_path: Path | str | None = None) -> SimulateConfig:
    """The generator's settings beside the main config ``config_path`` (module docstring).

    ``reference.horizon_days`` left empty takes the main config's ``training.horizon_days``,
    so the generator's reference answers the label's question.
    """
    path = simulate_config_path(config_path)
    data = _read_yaml(path)
    main = Path(config_path) if config_path else config_dir() / "default.yaml"
    reference = data.get("reference") or {}
    if reference.get("horizon_days") is None:
        training = (_read_yaml(main).get("training") or {}) if main.exists() else {}
        horizon = training.get("horizon_days", TrainingConfig().horizon_days)
        data["reference"] = {**reference, "horizon_days": horizon}
    try:
        return SimulateConfig.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError: name the field
        raise InputError(f"{path}: invalid simulator config: {exc}") from exc
