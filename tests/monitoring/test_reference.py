"""The drift reference travels with the trained run: the newest labelled dates, every model
feature, the served model's probability; read back by alias or version; a missing one is
NotFound (never a silent "no drift")."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn.config import Config, MonitoringConfig
from churn.errors import NotFound
from monitoring.reference import load_reference
from training.reference import reference_sample
from training.registry import load_by_alias


def test_champion_reference_is_the_newest_training_rows(
    trained: dict[str, Any], session_config: Config
) -> None:
    ref = load_reference(session_config.registry.model_name, alias="champion")
    champion = load_by_alias(session_config)
    assert ref.version == champion.version and ref.run_id == champion.run_id
    fit = champion.model.metadata["fit_as_of"]
    assert ref.as_of == fit[-session_config.monitoring.reference_months :]
    assert set(champion.model.features) <= set(ref.frame.columns)
    assert ref.features == champion.model.features
    assert 0 < len(ref.frame) <= session_config.monitoring.reference_rows
    np.testing.assert_allclose(
        ref.frame["score"], champion.model.predict_proba(ref.frame), rtol=0, atol=1e-12
    )
    by_version = load_reference(session_config.registry.model_name, version=ref.version)
    pd.testing.assert_frame_equal(by_version.frame, ref.frame)


def test_sample_is_seeded_and_capped(trained: dict[str, Any], session_config: Config) -> None:
    champion = load_by_alias(session_config)
    frame = load_reference(session_config.registry.model_name).frame.drop(columns=["score"])
    cfg = MonitoringConfig(reference_rows=300, reference_months=2, reference_seed=4)
    a, b = (
        reference_sample(frame, champion.model, cfg),
        reference_sample(frame, champion.model, cfg),
    )
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 300 and a["as_of"].nunique() == 2
    other = reference_sample(frame, champion.model, cfg.model_copy(update={"reference_seed": 5}))
    assert set(other["client_id"].astype(str) + other["as_of"].astype(str)) != set(
        a["client_id"].astype(str) + a["as_of"].astype(str)
    )


def test_missing_version_is_not_found(trained: dict[str, Any], session_config: Config) -> None:
    with pytest.raises(NotFound, match="version 999 not found"):
        load_reference(session_config.registry.model_name, version="999")
