"""``serving.treeshap``: the fast exact TreeSHAP gives LightGBM's ``pred_contrib`` values
on models with numeric, categorical, missing and zero-as-missing splits, deep and shallow
trees, one-leaf trees, and the bulk explanation path uses it."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from serving import treeshap
from serving.explain import raw_contributions
from serving.scoring import with_rule_columns
from training.model import SMALL_BATCH_ROWS, ChurnModel


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.normal(size=n),
            rng.integers(0, 5, n).astype(float),  # categorical codes
            rng.gamma(1.0, 3.0, n).round(),  # many exact zeros and ties
            rng.normal(size=n),
            rng.integers(0, 12, n).astype(float),  # a second categorical
        ]
    )
    x[rng.random(n) < 0.15, 0] = np.nan
    x[rng.random(n) < 0.1, 1] = np.nan
    x[rng.random(n) < 0.1, 3] = np.nan
    logit = x[:, 2] * 0.3 - np.nan_to_num(x[:, 0]) + (x[:, 1] == 2) + (x[:, 4] % 3 == 0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit + 1))).astype(int)
    return x, y


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 8, "max_depth": 3},
        {"num_leaves": 63, "min_data_in_leaf": 3},  # deep, features repeat along paths
        {"num_leaves": 16, "zero_as_missing": True},
        {"num_leaves": 16, "use_missing": False},
        {"num_leaves": 31, "max_cat_to_onehot": 8, "cat_smooth": 1.0},  # one-vs-rest splits
    ],
    ids=["shallow", "deep", "zero-as-missing", "no-missing", "onehot-categories"],
)
def test_equals_lightgbm_pred_contrib(params: dict) -> None:
    x, y = _data(3000, seed=len(params))
    data = lgb.Dataset(x, y, categorical_feature=[1, 4], free_raw_data=False)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "seed": 1, "num_threads": 1, **params},
        data,
        num_boost_round=40,
    )
    trees = treeshap.compile_trees(booster.dump_model())
    assert trees is not None
    test, _ = _data(2500, seed=99)
    test[:5, 1] = [-1.0, 7.0, 100.0, np.nan, 3.0]  # negative, unseen categories, missing
    test[5:8, 2] = [0.0, -0.0, 1e-40]  # zero, negative zero, almost zero
    want = booster.predict(test, pred_contrib=True)
    got = treeshap.pred_contrib(trees, test)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.sum(axis=1), booster.predict(test, raw_score=True), atol=1e-10)


def test_one_leaf_trees_only_move_the_base() -> None:
    x, y = _data(200, seed=3)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "min_data_in_leaf": 150, "num_leaves": 4},
        lgb.Dataset(x, y),
        num_boost_round=5,
    )
    dump = booster.dump_model()
    assert any("split_feature" not in t["tree_structure"] for t in dump["tree_info"])
    trees = treeshap.compile_trees(dump)
    np.testing.assert_allclose(
        treeshap.pred_contrib(trees, x), booster.predict(x, pred_contrib=True), atol=1e-10
    )


def test_a_linear_tree_model_is_left_to_lightgbm() -> None:
    x, y = _data(500, seed=4)
    x = np.nan_to_num(x)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "linear_tree": True, "num_leaves": 4},
        lgb.Dataset(x, y),
        num_boost_round=3,
    )
    assert treeshap.compile_trees(booster.dump_model()) is None


def test_bad_shape_is_refused() -> None:
    x, y = _data(300, seed=5)
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, y), 3)
    trees = treeshap.compile_trees(booster.dump_model())
    with pytest.raises(ValueError, match="expected"):
        treeshap.pred_contrib(trees, x[:, :3])


def test_bulk_explanations_use_it_and_match_lightgbm(
    tiny_model: ChurnModel, tiny_snapshot: pd.DataFrame
) -> None:
    """A frame of the size of a week goes through the fast path (same values as LightGBM);
    the project's own model has categorical features with missing values."""
    big = pd.concat([tiny_snapshot] * (SMALL_BATCH_ROWS // len(tiny_snapshot) + 1))
    big = big.reset_index(drop=True)
    contrib, base = raw_contributions(tiny_model, big)
    want = tiny_model.booster.predict(tiny_model.matrix(with_rule_columns(big)), pred_contrib=True)
    np.testing.assert_allclose(contrib, want[:, :-1], atol=1e-10)
    np.testing.assert_allclose(base, want[:, -1], atol=1e-10)
    from serving.explain import _COMPILED

    assert _COMPILED.get(tiny_model.booster) is not None  # the fast path was taken
