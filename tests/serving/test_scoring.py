"""score_frame: the numbers every consumer (CLI, service, benchmarks) shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.config import RulesConfig
from churn.errors import InputError
from serving.scoring import SCORE_COLUMNS, score_frame


def test_score_frame_matches_the_model(tiny_model, tiny_snapshot):
    scores = score_frame(tiny_model, tiny_snapshot)
    assert list(scores.columns) == SCORE_COLUMNS
    assert scores.index.equals(tiny_snapshot.index)
    np.testing.assert_allclose(scores["probability"], tiny_model.predict_proba(tiny_snapshot))
    assert scores["probability"].between(0, 1).all()
    p, t = scores["probability"], tiny_model.risk_thresholds
    assert (scores.loc[p >= t["high"], "risk_band"] == "high").all()
    assert (scores.loc[p < t["dynamic"], "risk_band"] == "no_threat").all()
    assert (scores["rule_band"] == tiny_snapshot["rule_band"].to_numpy()).all()


def test_rule_columns_are_computed_when_absent(tiny_model, tiny_snapshot):
    bare = tiny_snapshot.drop(
        columns=[
            "contact_index",
            "rule_band",
            "training_indicator",
            "webinar_indicator",
            "cabinet_indicator",
        ]
    )
    scores = score_frame(tiny_model, bare, RulesConfig())
    np.testing.assert_allclose(scores["contact_index"], tiny_snapshot["contact_index"])
    assert (scores["rule_band"] == tiny_snapshot["rule_band"].to_numpy()).all()


def test_a_row_scores_the_same_alone_and_in_bulk(tiny_model, tiny_snapshot):
    bulk = score_frame(tiny_model, tiny_snapshot)
    one = score_frame(tiny_model, tiny_snapshot.iloc[[17]])
    assert one["probability"].iloc[0] == pytest.approx(bulk["probability"].iloc[17])


def test_missing_feature_column_is_named(tiny_model, tiny_snapshot):
    with pytest.raises(InputError, match="logins_30d"):
        score_frame(tiny_model, tiny_snapshot.drop(columns="logins_30d"))


def test_unknown_category_scores_like_missing(tiny_model, tiny_snapshot):
    row = tiny_snapshot.iloc[[0]].copy()
    unknown = row.assign(region=pd.Series(["atlantis"], index=row.index, dtype="str"))
    missing = row.assign(region=pd.Series([None], index=row.index, dtype="str"))
    a = score_frame(tiny_model, unknown)["probability"].iloc[0]
    b = score_frame(tiny_model, missing)["probability"].iloc[0]
    assert a == pytest.approx(b)


def test_null_rule_cells_are_filled_and_given_ones_kept(tiny_model, tiny_snapshot):
    holes = tiny_snapshot.astype({"rule_band": "object"}).copy()
    holes.loc[holes.index[:10], "rule_band"] = None
    scores = score_frame(tiny_model, holes)
    assert (scores["rule_band"] == tiny_snapshot["rule_band"].to_numpy()).all()


def _dataframe_path(model, frame):
    """LightGBM on the categorical DataFrame of ``prepare`` (the path training fitted)."""
    return model.booster.predict(model.prepare(frame), raw_score=True)


def test_fast_matrix_reproduces_the_dataframe_path_exactly(tiny_model, tiny_snapshot):
    odd = tiny_snapshot.copy()
    odd.loc[odd.index[:5], "region"] = "atlantis"  # unknown level
    odd.loc[odd.index[5:9], "segment"] = None
    np.testing.assert_array_equal(tiny_model.predict_raw(odd), _dataframe_path(tiny_model, odd))
    np.testing.assert_array_equal(
        score_frame(tiny_model, odd)["probability"],
        tiny_model.calibrate(_dataframe_path(tiny_model, odd)),
    )
    assert tiny_model.matrix(odd).shape == (len(odd), len(tiny_model.features))


def test_fast_matrix_coerces_text_in_numeric_columns_like_prepare(tiny_model, tiny_snapshot):
    odd = tiny_snapshot.iloc[:20].astype({"logins_30d": "object"})
    odd.loc[odd.index[:3], "logins_30d"] = "lots"
    odd.loc[odd.index[3:6], "logins_30d"] = None
    np.testing.assert_array_equal(tiny_model.predict_raw(odd), _dataframe_path(tiny_model, odd))


def test_empty_frame_scores_to_empty(tiny_model, tiny_snapshot):
    scores = score_frame(tiny_model, tiny_snapshot.iloc[:0])
    assert scores.empty and list(scores.columns) == SCORE_COLUMNS


def test_without_a_rule_in_the_spec_the_rule_columns_are_null_not_computed(
    tiny_model, tiny_snapshot, rule_free
):
    """A source whose columns happen to include the rule's inputs does not get this
    centre's rule computed from them; the model's scores do not change."""
    with_rule = score_frame(tiny_model, tiny_snapshot)
    bare = tiny_snapshot.drop(columns=["contact_index", "rule_band"])
    scores = score_frame(tiny_model, bare.assign(contact_index=0.5), RulesConfig())
    assert list(scores.columns) == SCORE_COLUMNS
    assert scores["contact_index"].isna().all() and scores["rule_band"].isna().all()
    np.testing.assert_allclose(scores["probability"], with_rule["probability"])
    assert (scores["risk_band"] == with_rule["risk_band"]).all()
