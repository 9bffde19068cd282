"""``churn simulate-weeks`` then ``churn uplift``: the closed loop recovers the simulated effect.

One seed, a small base, the real weekly run (snapshot, score_week, holdout, store, outcomes)
and the real uplift command on the result: its bootstrap 95 % interval must cover the true
average effect the generator wrote to ``_truth/treatment.json``. The ten-seed version is
``tests/loop/test_closed_loop_slow.py``.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from loop_helpers import LOOP_WEEKS, invoke, loop_config

from churn.config import Config


@pytest.fixture
def loop_run(closed_loop: dict) -> dict:
    return closed_loop


def test_the_holdout_interval_covers_the_true_average_effect(loop_run: dict) -> None:
    truth = json.loads((loop_run["out"] / "raw" / "_truth" / "treatment.json").read_text())
    overall = loop_run["report"]["overall"]
    assert truth["listings_complete"] == truth["listings"] == loop_run["summary"]["listed"]
    assert truth["average_effect"] > 0.005  # calls do something ...
    assert overall["ci_low"] <= truth["average_effect"] <= overall["ci_high"], (overall, truth)
    assert loop_run["report"]["rows_waiting_for_horizon"] == 0  # every horizon observed
    # the uplift report itself says so on a simulated base
    assert loop_run["report"]["simulated_truth"]["covered"] is True
    assert loop_run["report"]["simulated_truth"]["average_effect"] == truth["average_effect"]
    assert "true average effect" in loop_run["output"]


def test_the_loop_ran_the_weekly_run_and_logged_every_week(loop_run: dict) -> None:
    from store import db
    from store.outcomes import read_outcomes
    from store.weeks import list_weeks

    summary = loop_run["summary"]
    engine = db.connect(summary["store_url"])
    try:
        weeks = [w.as_of.isoformat() for w in list_weeks(engine)]
        outcomes = read_outcomes(engine)
    finally:
        engine.dispose()
    assert weeks == summary["weeks"] and len(weeks) == LOOP_WEEKS
    a = pd.read_parquet(summary["assignments"])
    assert len(a) == summary["listed"] == LOOP_WEEKS * summary["capacity"]
    held = a["assignment"] == "holdout"
    assert not a.loc[held, "selected"].any() and a.loc[~held, "selected"].all()
    assert 0.06 < held.mean() < 0.14  # retention.holdout_share = 0.10
    # outcomes posted for the called clients only, through the store API
    assert len(outcomes) == summary["called"]
    assert set(outcomes["client_id"]) <= set(a.loc[~held, "client_id"])
    assert set(outcomes["result"]) <= {"retained", "declined", "no_answer"}
    # no client listed twice within the relisting gap (either arm)
    a["as_of"] = pd.to_datetime(a["as_of"])
    gaps = a.sort_values("as_of").groupby("client_id")["as_of"].diff().dropna()
    assert (gaps >= timedelta(days=98)).all()


def test_bad_arguments_fail_with_one_line(base_config: Config, tmp_path: Path) -> None:
    config = loop_config(base_config, tmp_path)
    file = tmp_path / "file"
    file.write_text("x")
    for args, pattern in (
        (["--weeks", "0", "--out", str(tmp_path / "a")], r"--weeks: must be a positive"),
        (["--out", str(file)], r"--out: .* not a directory"),
        (["--clients", "0", "--out", str(tmp_path / "b")], r"--clients: must be a positive"),
        (["--ranking", "luck", "--out", str(tmp_path / "c")], r"--ranking: unknown value"),
        (["--alias", "champion", "--out", str(tmp_path / "d")], r"--alias: needs --registry"),
        (
            ["--registry", f"sqlite:///{tmp_path / 'none.db'}", "--out", str(tmp_path / "e")],
            r"--registry: no MLflow store at",
        ),
    ):
        result = invoke(config, "simulate-weeks", *args)
        assert result.exit_code != 0, result.output
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and re.search(pattern, lines[0]), result.stderr
