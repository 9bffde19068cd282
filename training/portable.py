"""The scoring half of a registered model, written so it runs without the project.

A registered version is LightGBM's own model text plus a JSON of metadata (feature list,
categorical levels, calibration, risk bands, catalog digest, training provenance). This
module is logged beside that pair (``training/pyfunc.py`` loads it from the model's
``code/`` folder), so ``mlflow.pyfunc.load_model(...)`` scores in any process that has
numpy, pandas, scipy and lightgbm: renaming or deleting the project's training modules
no longer breaks old versions, as pickled project classes did.

It imports nothing from the project, on purpose. The project's
:class:`~training.model.ChurnModel` uses the same functions (:func:`encode`,
:func:`raw_score`, :func:`probability`, the calibrators), so the registered model and the
in-process model cannot drift apart.

**Calibrators** are a small registry of classes that serialise to and from
``{"method": name, "params": {...}}``: Platt scaling, isotonic regression and the
inductive Venn-Abers predictor, each a class with ``method``, ``params()``,
``from_params()``, ``predict(raw)`` and ``shifted(delta)`` (an intercept-only update in
log-odds), decorated with :func:`calibrator`. All are non-decreasing in the raw score.
Fitting stays in ``training/calibrators.py``: only applying a fitted map has to travel
with the model.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd
from scipy.special import expit, logit

FORMAT = "churn-risk/lightgbm-text"
FORMAT_VERSION = 1
MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
ARTIFACT_KEY = "churn_model"  # the pyfunc artifact: the folder holding those two files
SMALL_BATCH_ROWS = 2_000


class ArtifactError(ValueError):
    """The files are not a model this code can read (the message says which and why)."""


# --------------------------------------------------------------------------- calibrators


class Calibrator(Protocol):
    """Raw booster score (log-odds) -> probability, and its JSON form."""

    method: ClassVar[str]

    def predict(self, raw: np.ndarray) -> np.ndarray: ...

    def params(self) -> dict[str, Any]: ...


CALIBRATORS: dict[str, Any] = {}
"""Calibrator classes by ``method`` name: what :func:`calibration_from_json` can rebuild."""


def calibrator(method: str) -> Callable[[type], type]:
    """Class decorator: register a calibrator under ``method`` (its JSON name)."""

    def register(cls: type) -> type:
        cls.method = method
        CALIBRATORS[method] = cls
        return cls

    return register


EPS = 1e-6  # step maps keep probabilities in [EPS, 1 - EPS]: a finite log-odds for every client


@calibrator("platt")
@dataclass(frozen=True)
class PlattCalibrator:
    """p = sigmoid(slope * raw + intercept): affine in log-odds, so explanations add up."""

    slope: float
    intercept: float

    def predict(self, raw: np.ndarray) -> np.ndarray:
        return expit(self.slope * np.asarray(raw, dtype=float) + self.intercept)

    def params(self) -> dict[str, Any]:
        return {"slope": float(self.slope), "intercept": float(self.intercept)}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PlattCalibrator:
        return cls(slope=float(params["slope"]), intercept=float(params["intercept"]))

    def shifted(self, delta: float) -> PlattCalibrator:
        """The same map with ``delta`` added to its log-odds (an intercept-only update)."""
        return PlattCalibrator(self.slope, self.intercept + float(delta))


@dataclass(frozen=True)
class _StepMap:
    """A non-decreasing piecewise-linear map of the raw score given by knots (``x`` sorted,
    ``y`` non-decreasing), flat beyond the ends, plus a log-odds ``shift`` (0 unless an
    intercept-only update moved it)."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    shift: float = 0.0

    def predict(self, raw: np.ndarray) -> np.ndarray:
        p = np.clip(np.interp(np.asarray(raw, dtype=float), self.x, self.y), EPS, 1.0 - EPS)
        return p if self.shift == 0.0 else expit(logit(p) + self.shift)

    def params(self) -> dict[str, Any]:
        return {"x": list(self.x), "y": list(self.y), "shift": float(self.shift)}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Any:
        return cls(
            tuple(float(v) for v in params["x"]),
            tuple(float(v) for v in params["y"]),
            float(params.get("shift", 0.0)),
        )

    def shifted(self, delta: float) -> Any:
        return type(self)(self.x, self.y, self.shift + float(delta))


@calibrator("isotonic")
@dataclass(frozen=True)
class IsotonicCalibrator(_StepMap):
    """Isotonic regression of the label on the raw score, interpolated between its steps."""


@calibrator("venn_abers")
@dataclass(frozen=True)
class VennAbersCalibrator(_StepMap):
    """Inductive Venn-Abers predictor: ``x`` grid scores, ``y`` the merged probability
    ``p1 / (1 - p0 + p1)`` there; ``lower`` / ``upper`` are ``p0`` / ``p1`` (their gap says
    how little the calibration rows tell about a score: wide at the sparse top end)."""

    lower: tuple[float, ...] = ()
    upper: tuple[float, ...] = ()

    def params(self) -> dict[str, Any]:
        return {**super().params(), "p0": list(self.lower), "p1": list(self.upper)}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> VennAbersCalibrator:
        return cls(
            tuple(float(v) for v in params["x"]),
            tuple(float(v) for v in params["y"]),
            float(params.get("shift", 0.0)),
            tuple(float(v) for v in params.get("p0", ())),
            tuple(float(v) for v in params.get("p1", ())),
        )

    def shifted(self, delta: float) -> VennAbersCalibrator:
        return VennAbersCalibrator(
            self.x, self.y, self.shift + float(delta), self.lower, self.upper
        )


def calibration_to_json(cal: Any) -> dict[str, Any]:
    """``{"method": ..., "params": {...}}`` of a registered calibrator."""
    method = getattr(cal, "method", None)
    if method not in CALIBRATORS or not isinstance(cal, CALIBRATORS[method]):
        raise ArtifactError(
            f"calibrator {type(cal).__name__} is not registered (known: {', '.join(CALIBRATORS)})"
        )
    return {"method": method, "params": cal.params()}


def calibration_from_json(spec: dict[str, Any]) -> Any:
    """The calibrator a metadata ``calibration`` entry describes."""
    method = (spec or {}).get("method")
    if method not in CALIBRATORS:
        raise ArtifactError(
            f"calibration method {method!r} is unknown here (known: {', '.join(CALIBRATORS)})"
        )
    try:
        return CALIBRATORS[method].from_params(spec.get("params") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"calibration {method!r}: bad params {spec.get('params')!r}") from exc


# --------------------------------------------------------------------------- scoring


def threads(rows: int) -> int:
    """LightGBM threads: one for small inputs (thread start-up dominates a single-client
    call), the default for bulk."""
    return 1 if rows < SMALL_BATCH_ROWS else 0


@functools.lru_cache(maxsize=256)
def _levels(levels: tuple[str, ...]) -> pd.Index:
    return pd.Index(levels, dtype=object)


def encode(frame: pd.DataFrame, features: list[str], levels: dict[str, list[str]]) -> np.ndarray:
    """The model's columns of ``frame`` as one float matrix, categories as level codes.

    Categories become their codes in the model's own level lists (unknown or missing:
    NaN), which is exactly what LightGBM does with a categorical DataFrame: a different
    level order would silently change scores. Skipping pandas' frame building is what
    keeps a single-client score in milliseconds.
    """
    out = np.empty((len(frame), len(features)), dtype="float64")
    numeric = [j for j, c in enumerate(features) if c not in levels]
    block = frame[[features[j] for j in numeric]]
    try:  # one conversion for the whole numeric block (the common, clean case)
        out[:, numeric] = block.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError):  # text in a numeric column: NaN if not a number
        coerced = block.apply(pd.to_numeric, errors="coerce")
        out[:, numeric] = coerced.to_numpy(dtype="float64", na_value=np.nan)
    for j, col in enumerate(features):
        if col in levels:
            values = frame[col]
            if not pd.api.types.is_string_dtype(values.dtype):  # the value's text
                values = values.astype("str").where(values.notna())
            codes = _levels(tuple(levels[col])).get_indexer(
                values.to_numpy(dtype=object, na_value=None)
            )
            out[:, j] = np.where(codes >= 0, codes, np.nan)
    return out


def raw_score(booster: Any, x: np.ndarray) -> np.ndarray:
    """The booster's raw output (log-odds) for an encoded matrix."""
    return np.asarray(booster.predict(x, raw_score=True, num_threads=threads(len(x))), dtype=float)


def probability(cal: Any, raw: np.ndarray) -> np.ndarray:
    """Calibrated probabilities of raw scores, clipped to [0, 1]."""
    return np.clip(np.asarray(cal.predict(raw), dtype=float), 0.0, 1.0)


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class Artifact:
    """A model as read from its two files: the booster and its metadata."""

    booster: Any  # lightgbm.Booster
    metadata: dict[str, Any]

    @property
    def features(self) -> list[str]:
        return list(self.metadata["features"])

    @property
    def categorical_levels(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.metadata["categorical_levels"].items()}

    @functools.cached_property
    def calibrator(self) -> Any:
        return calibration_from_json(self.metadata["calibration"])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability per row of ``frame``."""
        x = encode(frame, self.features, self.categorical_levels)
        return probability(self.calibrator, raw_score(self.booster, x))


def write(folder: Path, booster: Any, metadata: dict[str, Any]) -> Path:
    """Write ``model.txt`` (LightGBM's text) and ``metadata.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / MODEL_FILE))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **metadata}
    (folder / METADATA_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return folder


def read(folder: Path) -> Artifact:
    """The booster and metadata of a folder :func:`write` made; ArtifactError otherwise."""
    import lightgbm as lgb

    folder = Path(folder)
    meta_path, model_path = folder / METADATA_FILE, folder / MODEL_FILE
    if not meta_path.is_file() or not model_path.is_file():
        raise ArtifactError(f"{folder}: expected {MODEL_FILE} and {METADATA_FILE}")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT or meta.get("format_version", 0) > FORMAT_VERSION:
        raise ArtifactError(
            f"{meta_path}: format {meta.get('format')!r} v{meta.get('format_version')}; this "
            f"code reads {FORMAT!r} up to v{FORMAT_VERSION}"
        )
    booster = lgb.Booster(model_file=str(model_path))
    return Artifact(booster, meta)
