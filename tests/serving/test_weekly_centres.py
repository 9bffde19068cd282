"""The weekly run on a network of centres: each centre's call list within its capacity and
only its clients, ranks per centre, and the centre kept in the store (revision 0002)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from churn.config import Config
from serving.weekly import score_week
from store.db import connect
from store.weeks import read_call_list, read_scores, write_week

AS_OF = date(2025, 6, 1)


def _network(snapshot: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return snapshot.assign(
        centre_id=pd.Series(rng.choice(["C01", "C02"], len(snapshot)), dtype="str")
    )


def test_two_centres_each_list_within_capacity_and_only_its_clients(
    base_config: Config, tiny_model, tiny_snapshot, tmp_path
) -> None:
    net = _network(tiny_snapshot)
    centre_of = dict(zip(net["client_id"], net["centre_id"], strict=True))
    recently = {int(net["client_id"].iloc[0])}
    week = score_week(
        tiny_model, net, cfg=base_config, as_of=AS_OF, recently_called=recently, capacity=15
    )
    calls, scores = week.call_list, week.scores
    assert set(calls["centre_id"]) == {"C01", "C02"}
    for centre, part in calls.groupby("centre_id"):
        assert 0 < len(part) <= 15
        assert sorted(part["rank"]) == list(range(1, len(part) + 1))
        assert {centre_of[c] for c in part["client_id"]} == {centre}
        # the centre's week alone lists the same clients in the same order (the holdout
        # strata are the network week's risk deciles, so only the draw may differ)
        alone = score_week(
            tiny_model,
            net[net["centre_id"] == centre],
            cfg=base_config,
            as_of=AS_OF,
            recently_called=recently,
            capacity=15,
        ).call_list
        same = ["client_id", "rank", "reason", "probability", "expected_profit_rub"]
        pd.testing.assert_frame_equal(
            part[same].reset_index(drop=True), alone[same].reset_index(drop=True)
        )
    assert not calls["client_id"].isin(recently).any()
    for _, part in scores.groupby("centre_id"):  # every client ranked within its centre
        assert sorted(part["rank"]) == list(range(1, len(part) + 1))
    sizing = week.sizing
    assert set(sizing.centres) == {"C01", "C02"} and sizing.total.listed == len(calls)
    assert sizing.sent + sizing.held_out == len(calls)
    assert sizing.total.listed == sum(c.listed for c in sizing.centres.values())
    as_json = sizing.to_dict()  # the shape the summary and reports had: totals, then centres
    assert as_json["per_centre"] and as_json["listed"] == len(calls)
    assert as_json["centres"]["C01"] == sizing.centres["C01"].to_dict()

    store = connect(f"sqlite:///{tmp_path / 'store.db'}")
    write_week(
        store,
        as_of=AS_OF,
        model_version="1",
        scores=scores,
        call_list=calls,
        snapshot_path=None,
    )
    stored = read_call_list(store, AS_OF)
    assert stored.set_index("client_id")["centre_id"].to_dict() == dict(
        zip(calls["client_id"], calls["centre_id"], strict=True)
    )
    assert read_scores(store, AS_OF)["centre_id"].notna().all()


def test_single_centre_week_is_one_list(base_config: Config, tiny_model, tiny_snapshot) -> None:
    week = score_week(tiny_model, tiny_snapshot, cfg=base_config, as_of=AS_OF, capacity=15)
    assert len(week.call_list) <= 15 and week.call_list["centre_id"].isna().all()
    assert week.scores["rank"].tolist() == list(range(1, len(tiny_snapshot) + 1))
    assert week.sizing.centres is None and "centres" not in week.sizing.to_dict()
