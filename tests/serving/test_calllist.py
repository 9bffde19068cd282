"""The call list as the weekly builder makes it (``serving.weekly.score_week``, the one
producer of lists): ranking, capacity and profit sizing, reasons and actions, ties, centres."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from churn.config import Config, RetentionConfig, load_config
from churn.errors import InputError
from serving.calllist import RANK_KEYS
from serving.scoring import score_frame
from serving.sizing import ListSizing
from serving.weekly import WeekFrames, call_list_table, score_week
from training.ranking import horizon_months

AS_OF = date(2025, 6, 2)


def config(ranking: str = "expected_loss", retention: RetentionConfig | None = None) -> Config:
    cfg = load_config().override(serving__ranking=ranking, serving__language="en")
    return cfg if retention is None else cfg.override(retention=retention)


def listed(frames: WeekFrames) -> pd.DataFrame:
    """The week's call list (both arms, by rank within centre) with its score columns and
    reasons in words, as ``churn call-list`` writes it."""
    table = call_list_table(frames, AS_OF)
    fee = frames.scores.set_index("client_id")["monthly_fee_rub"]
    return table.assign(monthly_fee_rub=fee.reindex(table["client_id"]).to_numpy())


def week(model, snap, capacity: int, cfg: Config | None = None) -> tuple[pd.DataFrame, ListSizing]:
    frames = score_week(model, snap, cfg=cfg or config(), as_of=AS_OF, capacity=capacity)
    return listed(frames), frames.sizing.total


def test_ranked_by_expected_loss(tiny_model, tiny_snapshot):
    calls, _ = week(tiny_model, tiny_snapshot, 25)
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


def test_expected_loss_and_probability_rankings_differ_when_fees_differ(tiny_model, tiny_snapshot):
    by_loss, _ = week(tiny_model, tiny_snapshot, 30)
    by_p, _ = week(tiny_model, tiny_snapshot, 30, config("probability"))
    assert (np.diff(by_p["probability"].to_numpy()) <= 1e-12).all()
    assert by_loss["client_id"].tolist() != by_p["client_id"].tolist()
    assert by_loss["expected_loss_rub"].sum() > by_p["expected_loss_rub"].sum()
    # with one fee for everybody the two rankings agree
    flat = tiny_snapshot.assign(monthly_fee_rub=10_000.0)
    a, _ = week(tiny_model, flat, 30)
    b, _ = week(tiny_model, flat, 30, config("probability"))
    assert a["client_id"].tolist() == b["client_id"].tolist()


def test_every_listed_client_has_reasons_and_an_action(tiny_model, tiny_snapshot):
    calls, _ = week(tiny_model, tiny_snapshot, 20)
    assert calls["reason_1"].notna().all()
    assert calls["reason_1"].str.endswith("raises risk").all()
    assert calls["action_1"].notna().all()
    for col in ("reason_1", "reason_2", "reason_3"):
        assert col in calls.columns


@pytest.mark.parametrize("capacity", [0, -3])
def test_bad_capacity_names_the_field(tiny_model, tiny_snapshot, capacity):
    with pytest.raises(InputError, match="capacity"):
        week(tiny_model, tiny_snapshot, capacity)


def test_whole_base_call_list_has_clean_text_cells(tiny_model, tiny_snapshot):
    """Clients with fewer than three risk-raising drivers leave empty slots as None."""
    free = RetentionConfig(contact_cost_rub=0, incentive_rub=0)  # everybody with p > 0
    calls, _ = week(tiny_model, tiny_snapshot, len(tiny_snapshot), config(retention=free))
    p = score_frame(tiny_model, tiny_snapshot)["probability"]
    assert len(calls) == (p > 0).sum() > len(tiny_snapshot) / 2
    for col in ("reason_1", "reason_2", "reason_3", "action_1", "action_2", "action_3"):
        cells = calls[col].tolist()
        assert all(c is None or (isinstance(c, str) and c) for c in cells), col
    # asking for as many reasons as features forces empty slots: they must be None too
    from serving.explain import explain_frame

    n = len(tiny_model.features)
    wide = explain_frame(tiny_model, tiny_snapshot.iloc[:30], n, reasons=load_config().reasons)
    last = wide[f"reason_{n}"].tolist()
    assert any(c is None for c in last)
    assert all(c is None or isinstance(c, str) for c in last)
    assert all(isinstance(a, str) or a is None for a in wide["action"])


def test_ranked_by_expected_profit_which_charges_the_call(tiny_model, tiny_snapshot):
    from training.profit import ProfitParams, client_value, expected_profit

    retention = RetentionConfig()
    calls, _ = week(tiny_model, tiny_snapshot, 40, config("expected_profit"))
    profit = calls["expected_profit_rub"].to_numpy()
    assert (np.diff(profit) <= 1e-9).all() and (profit > 0).all()
    params = ProfitParams.from_config(retention)
    want = expected_profit(
        calls["probability"].to_numpy(), client_value(calls["monthly_fee_rub"], params), params
    )
    np.testing.assert_allclose(profit, want)
    # the profit ranking is not the loss ranking: costs are flat, value is not linear in p
    by_loss, _ = week(tiny_model, tiny_snapshot, 40)
    assert by_loss["expected_profit_rub"].sum() <= calls["expected_profit_rub"].sum() + 1e-6


def test_list_is_min_of_capacity_and_profit_optimal_count(tiny_model, tiny_snapshot):
    cheap, sizing = week(tiny_model, tiny_snapshot, 20)
    assert len(cheap) == 20 and sizing.capacity_binds
    assert sizing.profit_optimal_count > 20
    # calls so dear that only a few clients are worth one: the profit count binds
    dear = RetentionConfig(contact_cost_rub=4_000, incentive_rub=4_000)
    few, s = week(tiny_model, tiny_snapshot, 10_000, config(retention=dear))
    assert not s.capacity_binds and len(few) == s.profit_optimal_count == s.listed
    assert 0 < len(few) < len(tiny_snapshot)
    assert (few["expected_profit_rub"] > 0).all()
    nobody = RetentionConfig(contact_cost_rub=10_000_000)
    empty, s = week(tiny_model, tiny_snapshot, 5, config(retention=nobody))
    assert len(empty) == 0 and s.profit_optimal_count == 0


def test_ties_are_broken_by_client_id_whatever_the_row_order(tiny_model, tiny_snapshot):
    flat = tiny_snapshot.assign(monthly_fee_rub=10_000.0)
    # duplicate every client under a new id: every score is tied with its twin
    twins = flat.assign(client_id=flat["client_id"] + 1_000_000)
    both = pd.concat([flat, twins], ignore_index=True)
    shuffled = both.sample(frac=1.0, random_state=3).reset_index(drop=True)
    for ranking in ("expected_loss", "probability", "expected_profit"):
        a, _ = week(tiny_model, both, 30, config(ranking))
        b, _ = week(tiny_model, shuffled, 30, config(ranking))
        assert a["client_id"].tolist() == b["client_id"].tolist()
        keys = a[RANK_KEYS[ranking]].to_numpy()
        ids = a["client_id"].to_numpy()
        tied = (keys[1:] == keys[:-1]).all(axis=1)
        assert tied.any() and (ids[1:][tied] > ids[:-1][tied]).all()  # smaller id first
