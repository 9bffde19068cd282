"""The call list: ranking, filters, capacity, reasons and actions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.config import RetentionConfig, load_config
from churn.errors import InputError
from serving.calllist import RANK_KEYS, build_call_list
from serving.scoring import score_frame
from training.ranking import horizon_months


@pytest.fixture(scope="module")
def reasons():
    return load_config().reasons


def test_ranked_by_expected_loss(tiny_model, tiny_snapshot, reasons):
    calls = build_call_list(tiny_model, tiny_snapshot, capacity=25, reasons=reasons)
    assert len(calls) == 25
    assert calls["rank"].tolist() == list(range(1, 26))
    loss = calls["expected_loss_rub"].to_numpy()
    assert (np.diff(loss) <= 1e-9).all()
    # RUB over the horizon: the probability is of churning within it, the fee is monthly
    months = horizon_months(tiny_model.horizon_days)
    assert months == pytest.approx(90 / (365.25 / 12))
    np.testing.assert_allclose(loss, calls["probability"] * calls["monthly_fee_rub"] * months)
    # nobody left out has a larger expected loss than the last one listed
    scores = score_frame(tiny_model, tiny_snapshot)
    all_loss = (
        scores["probability"].to_numpy() * tiny_snapshot["monthly_fee_rub"].to_numpy() * months
    )
    assert np.sort(all_loss)[::-1][24] == pytest.approx(loss[-1])


def test_expected_loss_and_probability_rankings_differ_when_fees_differ(
    tiny_model, tiny_snapshot, reasons
):
    by_loss = build_call_list(tiny_model, tiny_snapshot, capacity=30, reasons=reasons)
    by_p = build_call_list(
        tiny_model, tiny_snapshot, capacity=30, reasons=reasons, ranking="probability"
    )
    assert (np.diff(by_p["probability"].to_numpy()) <= 1e-12).all()
    assert by_loss["client_id"].tolist() != by_p["client_id"].tolist()
    assert by_loss["expected_loss_rub"].sum() > by_p["expected_loss_rub"].sum()
    # with one fee for everybody the two rankings agree
    flat = tiny_snapshot.assign(monthly_fee_rub=10_000.0)
    a = build_call_list(tiny_model, flat, capacity=30, reasons=reasons)
    b = build_call_list(tiny_model, flat, capacity=30, reasons=reasons, ranking="probability")
    assert a["client_id"].tolist() == b["client_id"].tolist()


@pytest.mark.parametrize(
    ("segment", "mode"), [("large", None), (None, "remote"), ("small_medium", "in_person")]
)
def test_filters(tiny_model, tiny_snapshot, reasons, segment, mode):
    calls = build_call_list(
        tiny_model, tiny_snapshot, capacity=500, reasons=reasons, segment=segment, service_mode=mode
    )
    expected = tiny_snapshot
    if segment:
        expected = expected[expected["segment"] == segment]
        assert (calls["segment"] == segment).all()
    if mode:
        expected = expected[expected["service_mode"] == mode]
        assert (calls["service_mode"] == mode).all()
    # capacity above the count keeps everybody worth a call, once
    assert len(calls) == calls.attrs["sizing"]["profit_optimal_count"] > 0
    assert set(calls["client_id"]) <= set(expected["client_id"])
    assert calls["client_id"].is_unique


def test_every_listed_client_has_reasons_and_an_action(tiny_model, tiny_snapshot, reasons):
    calls = build_call_list(tiny_model, tiny_snapshot, capacity=20, reasons=reasons)
    assert calls["reason_1"].notna().all()
    assert calls["reason_1"].str.endswith("raises risk").all()
    assert calls["action"].notna().all()
    for col in ("reason_1", "reason_2", "reason_3"):
        assert col in calls.columns


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": -3}, "capacity"),
        ({"capacity": 5, "segment": "huge"}, "segment"),
        ({"capacity": 5, "service_mode": "telepathy"}, "service_mode"),
        ({"capacity": 5, "ranking": "vibes"}, "ranking"),
    ],
)
def test_bad_arguments_name_the_field(tiny_model, tiny_snapshot, reasons, kwargs, field):
    with pytest.raises(InputError, match=field):
        build_call_list(tiny_model, tiny_snapshot, reasons=reasons, **kwargs)


def test_whole_base_call_list_has_clean_text_cells(tiny_model, tiny_snapshot, reasons):
    """Clients with fewer than three risk-raising drivers leave empty slots as None."""
    free = RetentionConfig(contact_cost_rub=0, incentive_rub=0)  # everybody with p > 0
    calls = build_call_list(
        tiny_model, tiny_snapshot, capacity=len(tiny_snapshot), reasons=reasons, retention=free
    )
    p = score_frame(tiny_model, tiny_snapshot)["probability"]
    assert len(calls) == (p > 0).sum() > len(tiny_snapshot) / 2
    for col in ("reason_1", "reason_2", "reason_3", "action_1", "action_2", "action_3", "action"):
        cells = calls[col].tolist()
        assert all(c is None or (isinstance(c, str) and c) for c in cells), col
    # asking for as many reasons as features forces empty slots: they must be None too
    from serving.explain import explain_frame

    n = len(tiny_model.features)
    wide = explain_frame(tiny_model, tiny_snapshot.iloc[:30], n, reasons=reasons)
    last = wide[f"reason_{n}"].tolist()
    assert any(c is None for c in last)
    assert all(c is None or isinstance(c, str) for c in last)
    assert all(isinstance(a, str) or a is None for a in wide["action"])


def test_ranked_by_expected_profit_which_charges_the_call(tiny_model, tiny_snapshot, reasons):
    from training.profit import ProfitParams, client_value, expected_profit

    retention = RetentionConfig()
    calls = build_call_list(
        tiny_model, tiny_snapshot, capacity=40, reasons=reasons, ranking="expected_profit"
    )
    profit = calls["expected_profit_rub"].to_numpy()
    assert (np.diff(profit) <= 1e-9).all() and (profit > 0).all()
    params = ProfitParams.from_config(retention)
    want = expected_profit(
        calls["probability"].to_numpy(), client_value(calls["monthly_fee_rub"], params), params
    )
    np.testing.assert_allclose(profit, want)
    # the profit ranking is not the loss ranking: costs are flat, value is not linear in p
    by_loss = build_call_list(tiny_model, tiny_snapshot, capacity=40, reasons=reasons)
    assert by_loss["expected_profit_rub"].sum() <= calls["expected_profit_rub"].sum() + 1e-6


def test_list_is_min_of_capacity_and_profit_optimal_count(tiny_model, tiny_snapshot, reasons):
    cheap = build_call_list(tiny_model, tiny_snapshot, capacity=20, reasons=reasons)
    sizing = cheap.attrs["sizing"]
    assert len(cheap) == 20 and sizing["capacity_binds"]
    assert sizing["profit_optimal_count"] > 20
    # calls so dear that only a few clients are worth one: the profit count binds
    dear = RetentionConfig(contact_cost_rub=4_000, incentive_rub=4_000)
    few = build_call_list(
        tiny_model, tiny_snapshot, capacity=10_000, reasons=reasons, retention=dear
    )
    s = few.attrs["sizing"]
    assert not s["capacity_binds"] and len(few) == s["profit_optimal_count"] == s["listed"]
    assert 0 < len(few) < len(tiny_snapshot)
    assert (few["expected_profit_rub"] > 0).all()
    nobody = RetentionConfig(contact_cost_rub=10_000_000)
    empty = build_call_list(
        tiny_model, tiny_snapshot, capacity=5, reasons=reasons, retention=nobody
    )
    assert len(empty) == 0 and empty.attrs["sizing"]["profit_optimal_count"] == 0


def test_ties_are_broken_by_client_id_whatever_the_row_order(tiny_model, tiny_snapshot, reasons):
    flat = tiny_snapshot.assign(monthly_fee_rub=10_000.0)
    # duplicate every client under a new id: every score is tied with its twin
    twins = flat.assign(client_id=flat["client_id"] + 1_000_000)
    both = pd.concat([flat, twins], ignore_index=True)
    shuffled = both.sample(frac=1.0, random_state=3).reset_index(drop=True)
    for ranking in ("expected_loss", "probability", "expected_profit"):
        a = build_call_list(tiny_model, both, capacity=30, reasons=reasons, ranking=ranking)
        b = build_call_list(tiny_model, shuffled, capacity=30, reasons=reasons, ranking=ranking)
        assert a["client_id"].tolist() == b["client_id"].tolist()
        keys = a[RANK_KEYS[ranking]].to_numpy()
        ids = a["client_id"].to_numpy()
        tied = (keys[1:] == keys[:-1]).all(axis=1)
        assert tied.any() and (ids[1:][tied] > ids[:-1][tied]).all()  # smaller id first


def test_two_centres_each_list_within_capacity_and_only_its_clients(
    tiny_model, tiny_snapshot, reasons
):
    """A network snapshot: one list per centre, each <= capacity, ranked from 1, holding
    only that centre's clients, and equal to the list of that centre's snapshot alone."""
    rng = np.random.default_rng(3)
    net = tiny_snapshot.assign(centre_id=rng.choice(["C01", "C02"], len(tiny_snapshot)))
    calls = build_call_list(tiny_model, net, capacity=20, reasons=reasons)
    centre_of = dict(zip(net["client_id"], net["centre_id"], strict=True))
    assert set(calls["centre_id"]) == {"C01", "C02"}
    for centre, part in calls.groupby("centre_id"):
        assert 0 < len(part) <= 20
        assert part["rank"].tolist() == list(range(1, len(part) + 1))
        assert {centre_of[c] for c in part["client_id"]} == {centre}
        alone = build_call_list(
            tiny_model, net[net["centre_id"] == centre], capacity=20, reasons=reasons
        )
        assert part["client_id"].tolist() == alone["client_id"].tolist()
    sizing = calls.attrs["sizing"]
    assert sizing["per_centre"] and set(sizing["centres"]) == {"C01", "C02"}
    assert sizing["listed"] == len(calls) == sum(s["listed"] for s in sizing["centres"].values())
    # the same clients without centres: one list of at most the capacity
    single = build_call_list(tiny_model, tiny_snapshot, capacity=20, reasons=reasons)
    assert len(single) <= 20 and single["centre_id"].isna().all()
