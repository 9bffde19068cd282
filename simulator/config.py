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
    # logins a month below which low activity starts to count
    low_login_threshold: float = 8.0
    # extra weight for no logins at all
    zero_logins: float = 0.6
    # weight of logins falling against the months before
    falling_activity: float = 0.7
    # weight of overdue debt
    overdue_debt: float = 0.4
    # extra weight of overdue debt for small and medium clients
    overdue_debt_small_extra: float = 0.8
    long_overdue: float = 0.6  # oldest overdue due date more than long_overdue_days ago
    # debt older than this is long overdue
    long_overdue_days: int = 45
    very_long_overdue: float = 1.5  # seed 000: termination after ~6 months of debt suspension
    # debt older than this is very long overdue
    very_long_overdue_days: int = 180
    # weight of a competitor found at the last diagnostics
    competitor_yes: float = 0.3
    # extra weight of a competitor with low activity
    competitor_yes_low_activity: float = 1.3
    # weight of an unknown competitor status
    competitor_unknown: float = 0.2
    # weight of the training norm not met
    training_norm_not_met: float = 0.35
    # weight of the payment-renewal period having arrived
    renewal_arrived: float = 0.15
    # extra weight of renewal with low activity
    renewal_low_activity: float = 0.9
    # weight of no kit updates
    no_kit_updates: float = 0.6
    # weight of neither hotline nor cabinet used
    neither_hotline_nor_cabinet: float = 0.25
    # weight of a key-user change within change_window_days
    key_user_change: float = 0.8
    # weight of a decision-maker change within change_window_days
    decision_maker_change: float = 0.5
    # how long a contact change weighs
    change_window_days: int = 180
    # weight of a new client (tenure under new_client_days)
    new_client: float = 0.4
    # extra weight of a new client with a short first advance
    new_client_short_advance: float = 0.6
    # a client is new for this many days
    new_client_days: int = 365
    # weight of newsletter clicks (negative: lowers the hazard)
    newsletter_clicks: float = -0.35
    # weight of two or more webinars (negative: lowers the hazard)
    webinars_2plus: float = -0.2
    # weight of no contact for no_contact_days
    no_contact: float = 0.3
    # no call or visit for this long counts as no contact
    no_contact_days: int = 60
    # weight of the large segment (negative: large clients stay)
    large_segment: float = -0.3
    # weight of category A (negative)
    category_a: float = -0.2
    # sd of a client's unobservable risk (logit scale)
    client_noise_sd: float = Field(0.25, ge=0)
    # sd of month-to-month unobservable noise (logit scale)
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

    # the first month starting on or after this date changes
    after: date
    # login rates are multiplied by this from then on
    logins_factor: float = Field(1.0, ge=0)
    # service-request rates are multiplied by this from then on
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
    # logit cut every taken offer gets
    floor_shift: float = Field(0.1, ge=0)
    # log-sd of the per-client responsiveness (mean 1)
    noise_sd: float = Field(0.5, ge=0)
    # months after the call's month the cut lasts
    months: int = Field(2, ge=1, le=12)
    # chance a call reaches the client
    reach_rate: float = Field(0.8, ge=0, le=1)
    # chance a reached client takes the offer (the 60 % norm)
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
    """``churn simulate-weeks``: the closed loop over a generated base (``loop.closed_loop``)."""

    base_months: int = Field(15, ge=8)  # generated history before the first simulated week
    calls_per_1000_clients: float = Field(33.3, gt=0)  # weekly capacity (100 for 3 000 clients)
    relist_after_days: int = Field(98, ge=0)  # no client listed (either arm) twice within:
    # >= horizon and >= 31 x (treatment.months + 1): see loop.closed_loop
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

    # forward paths per client and as_of (0: no reference)
    paths: int = Field(32, ge=0)
    # bases above this many clients skip the reference
    max_clients: int = Field(20_000, ge=0)
    # most copied clients simulated at once (bounds memory)
    max_replicas: int = Field(200_000, gt=0)
    horizon_days: int | None = Field(None, gt=0)  # None: training.horizon_days


class SimulateConfig(Settings):
    """Generator parameters: the shape of the synthetic client base."""

    # clients in the generated base
    clients: int = Field(2000, gt=0)
    # months of events generated
    months: int = Field(24, gt=0)
    # seed: the same seed writes the same bytes
    seed: int = 42
    centres: int = Field(0, ge=0, le=99)  # > 0: a network export with clients.centre_id
    names: bool = False  # write clients.name (firm and person names, as a CRM shows them)
    # first day of the generated window
    start_date: date = date(2024, 1, 1)
    # share of clients in each category
    category_shares: dict[str, float] = {"A": 0.2, "B": 0.35, "C": 0.45}
    # share of clients served remotely
    remote_share: float = Field(0.4, ge=0, le=1)
    # mean monthly churn the hazard's intercept is solved for
    target_monthly_churn: float = Field(0.02, gt=0, lt=1)
    # history and joining
    history_months: int = Field(3, ge=0, le=24)  # activity exported before the window
    new_client_share: float = Field(0.25, ge=0, le=1)  # clients joining during the window
    # mean tenure of the clients present at the start
    mean_tenure_years: float = Field(4.0, gt=0)
    # money
    fee_median_rub: dict[str, float] = {"A": 14000.0, "B": 8000.0, "C": 5000.0}
    # log-sd of the fee around the median
    fee_sigma: float = Field(0.5, ge=0)
    # months paid in advance -> share of clients
    advance_shares: dict[int, float] = {1: 0.35, 3: 0.25, 6: 0.15, 12: 0.25}
    # the same for a new client's first advance
    first_advance_shares: dict[int, float] = {1: 0.4, 3: 0.3, 6: 0.15, 12: 0.15}
    # share of clients whose first advance is unknown
    first_advance_missing_share: float = Field(0.15, ge=0, le=1)
    # days from invoice to due date
    invoice_due_days: int = Field(5, ge=0)
    # users
    max_users: int = Field(15, ge=1, le=50)
    # share of users without an e-mail
    missing_email_share: float = Field(0.08, ge=0, le=1)
    # share of e-mails that bounce
    bad_email_share: float = Field(0.06, ge=0, le=1)
    # share of clients without a region
    region_missing_share: float = Field(0.04, ge=0, le=1)
    # engagement and activity
    engagement_ar: float = Field(0.85, ge=0, lt=1)
    # sd of the engagement's monthly innovation
    engagement_sd: float = Field(0.35, ge=0)
    # month -> activity shift (logit): holidays and summer are quieter
    seasonality: dict[int, float] = {1: -0.25, 5: -0.1, 7: -0.3, 8: -0.35, 12: 0.05}
    # mean logins per engaged user a month
    logins_per_user: float = Field(3.0, gt=0)
    # newsletter campaigns a month
    campaigns_per_month: int = Field(2, ge=0)
    # share of users subscribed to the newsletter
    newsletter_subscribe_share: float = Field(0.5, ge=0, le=1)
    # share of diagnostics with unknown competitor status
    competitor_unknown_share: float = Field(0.2, ge=0, le=1)
    # the training norm the generator's hazard reads
    training_norm: dict[str, float] = {"A": 0.8, "B": 0.5, "C": 0.5}
    hazard: HazardConfig = HazardConfig()
    shift: ShiftConfig | None = None  # behaviour change after a date (monitoring tests)
    treatment: TreatmentConfig = TreatmentConfig()
    loop: LoopConfig = LoopConfig()
    resumption: ResumptionConfig = ResumptionConfig()
    reference: ReferenceConfig = ReferenceConfig()
    # Parquet compression of the written tables
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
