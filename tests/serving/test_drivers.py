"""``serving.drivers``: the store's JSON text of every client's top drivers is exactly what
``json.dumps`` of the driver dicts gives, and those are the explain_frame reasons."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churn.config import Config
from serving.drivers import _json_list, _plain_list, top_drivers
from serving.explain import explain_frame
from serving.scoring import score_frame, with_rule_columns
from training.model import ChurnModel


def test_json_texts_equal_json_dumps_of_the_dicts(tiny_model: ChurnModel, tiny_snapshot):
    drivers = top_drivers(tiny_model, tiny_snapshot)
    dicts = drivers.dicts()
    texts = drivers.json_texts()
    assert len(texts) == len(tiny_snapshot)
    assert [json.dumps(d, ensure_ascii=False) for d in dicts] == list(texts)
    assert sum(len(d) for d in dicts) > len(dicts)  # most rows have several raising drivers
    picked = drivers.dicts([5, 0])
    assert picked == [dicts[5], dicts[0]]


def test_drivers_are_the_strongest_raising_contributions(
    base_config: Config, tiny_model: ChurnModel, tiny_snapshot
):
    drivers = top_drivers(tiny_model, tiny_snapshot)
    why = explain_frame(tiny_model, tiny_snapshot, 3, reasons=base_config.reasons_in())
    for r, items in enumerate(drivers.dicts()):
        want = [why[f"feature_{i}"].iat[r] for i in (1, 2, 3) if why[f"feature_{i}"].iat[r]]
        assert [d["feature"] for d in items] == want
        assert all(d["contribution"] > 0 for d in items)
        for d in items:  # the shown value is the snapshot's, missing as None
            raw = with_rule_columns(tiny_snapshot)[d["feature"]].iat[r]
            assert (d["value"] is None) == bool(pd.isna(raw))
    # the contributions rebuild the raw score: the scores need no second pass
    np.testing.assert_allclose(drivers.raw, tiny_model.predict_raw(tiny_snapshot), atol=1e-12)
    np.testing.assert_allclose(
        score_frame(tiny_model, tiny_snapshot, raw=drivers.raw)["probability"],
        tiny_model.predict_proba(tiny_snapshot),
        atol=1e-12,
    )


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1.5, np.nan, 0.1 + 0.2, 1e-300, 3.0, np.inf, -np.inf]),
        pd.Series([3, 0, -7, 2**40], dtype="int64"),
        pd.Series([1, None, 4], dtype="Int64"),
        pd.Series(["Москва", None, 'a "quote"\n', "remote"], dtype="str"),
        pd.Series([True, False]),
    ],
    ids=["float", "int", "nullable-int", "text", "bool"],
)
def test_value_json_matches_json_dumps(series: pd.Series):
    got = _json_list(series)
    assert got == [json.dumps(v, ensure_ascii=False) for v in _plain_list(series)]
