"""``churn weekly``: two consecutive weeks in a real store (SQLite and PostgreSQL), the
recently-called rule, the randomised holdout, one-line errors on bad data, and a run killed
with SIGKILL inside the store transaction that leaves the previous week intact."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from churn.config import Config
from churn.errors import InputError
from cli.main import app
from features.dates import data_span
from serving.holdout import HOLDOUT, to_scheduler
from serving.loading import load_model
from serving.run import write_config
from serving.weekly import PREPARE_STEPS, WeekFrames, run_weekly, score_week
from store.db import connect
from store.outcomes import add_outcomes
from store.weeks import (
    get_week,
    held_out_since,
    list_weeks,
    read_call_list,
    read_scores,
)

KILL_WAIT_S = 240


@pytest.fixture
def weekly_cfg(session_config: Config, trained, tmp_path: Path) -> Config:
    """The session config (its champion and MLflow store) with this test's own weeks dir."""
    return session_config.override(
        paths__weeks_dir=tmp_path / "weeks", paths__store_path=tmp_path / "store.db"
    )


@pytest.fixture(scope="module")
def newest(small_raw: Path) -> date:
    """The day after the newest event of the small base: the default week."""
    return data_span(small_raw)[1] + timedelta(days=1)


def _reached(client_id: int, called_on: date, oid: str) -> dict:
    return {
        "outcome_id": oid,
        "client_id": int(client_id),
        "called_on": called_on.isoformat(),
        "reached": True,
        "result": "retained",
        "note": None,
    }


def test_two_consecutive_weeks_differ_and_reruns_replace(
    weekly_cfg: Config, small_raw: Path, newest: date, store_url: str
) -> None:
    w1, w2 = newest - timedelta(days=7), newest
    first = run_weekly(weekly_cfg, small_raw, as_of=w1, store_url=store_url)
    assert first.as_of == w1.isoformat() and first.previous_as_of is None
    assert first.validation == "full"
    assert first.sent + first.held_out == first.call_list > 0
    engine = connect(store_url)
    calls1 = read_call_list(engine, w1)
    assert len(calls1) == first.call_list
    # the best-ranked called client was reached in between; another one was not reached
    reached = int(calls1.loc[calls1["selected"], "client_id"].iloc[0])
    missed = int(calls1.loc[calls1["selected"], "client_id"].iloc[1])
    add_outcomes(
        engine,
        [
            _reached(reached, w1 + timedelta(days=1), "w1-a"),
            {**_reached(missed, w1 + timedelta(days=1), "w1-b"), "reached": False},
        ],
    )
    second = run_weekly(weekly_cfg, small_raw, as_of=w2, store_url=store_url)
    assert [w.as_of for w in list_weeks(engine)] == [w1, w2]
    assert second.previous_as_of == w1.isoformat()
    assert second.validation == "already validated"  # same files: recorded by digest
    assert second.excluded_recently_called == 1
    assert second.changed_band == second.rose + second.fell

    s1, s2 = read_scores(engine, w1), read_scores(engine, w2)
    both = s1.merge(s2, on="client_id", suffixes=("_1", "_2"))
    assert len(both) > 0.9 * len(s2)
    assert not np.allclose(both["probability_1"], both["probability_2"])
    calls2 = read_call_list(engine, w2)
    assert reached not in set(calls2["client_id"])
    # ... and it is left out only because of the call: without it the client would be listed
    loaded = load_model(weekly_cfg, "champion")
    snap2 = pd.read_parquet(get_week(engine, w2).snapshot_path)
    unfiltered = score_week(loaded.model, snap2, cfg=weekly_cfg, as_of=w2)
    assert reached in set(unfiltered.call_list["client_id"])
    assert set(calls2["client_id"]) != set(calls1["client_id"])
    assert (s2["evidence"].isin(["full", "limited"])).all()
    assert isinstance(s2["drivers"].iloc[0], list) and s2["drivers"].iloc[0][0]["feature"]

    again = run_weekly(weekly_cfg, small_raw, as_of=w2, store_url=store_url)
    assert again.clients == second.clients
    assert len(list_weeks(engine, all_versions=True)) == 2
    assert len(read_scores(engine, w2)) == len(s2)
    pd.testing.assert_frame_equal(
        read_call_list(engine, w2).drop(columns="as_of"), calls2.drop(columns="as_of")
    )
    engine.dispose()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_names_the_steps_on_a_terminal_and_is_quiet_elsewhere(
    weekly_cfg: Config, small_raw: Path, newest: date, tmp_path: Path, monkeypatch
) -> None:
    url = f"sqlite:///{tmp_path / 'progress.db'}"
    piped = io.StringIO()  # a log file, cron, CI: nothing drawn
    monkeypatch.setattr(sys, "stderr", piped)
    run_weekly(weekly_cfg, small_raw, as_of=newest - timedelta(days=7), store_url=url)
    assert piped.getvalue() == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    summary = run_weekly(weekly_cfg, small_raw, as_of=newest, store_url=url)
    drawn = terminal.getvalue()
    for step in (*PREPARE_STEPS, "stored"):
        assert f"weekly run: {step}" in drawn, drawn
    assert summary.validation == "already validated"  # the run itself is unchanged


def test_drivers_are_the_explain_frame_reasons(base_config: Config, tiny_model, tiny_snapshot):
    from serving.explain import explain_frame

    week = score_week(tiny_model, tiny_snapshot, cfg=base_config, as_of=date(2025, 6, 2))
    why = explain_frame(tiny_model, tiny_snapshot, 3, reasons=base_config.reasons_in())
    why = why.set_index("client_id")
    listed = set(week.call_list["client_id"])
    for row in week.scores.itertuples():
        expect = why.loc[row.client_id]
        features = [expect[f"feature_{i}"] for i in (1, 2, 3) if expect[f"feature_{i}"]]
        drivers = json.loads(row.drivers)  # the store's JSON text
        assert [d["feature"] for d in drivers] == features
        np.testing.assert_allclose(
            [d["contribution"] for d in drivers],
            [expect[f"contribution_{i}"] for i in range(1, len(features) + 1)],
            rtol=1e-9,
        )
        # the listed clients' drivers carry the sentence a specialist reads
        assert all(("text" in d) == (row.client_id in listed) for d in drivers)
    assert set(week.call_list["reason"]) <= {*base_config.reasons.groups, "other", "none"}


def _holdout_frames(cfg: Config, tiny_model, tiny_snapshot, as_of: date) -> WeekFrames:
    return score_week(tiny_model, tiny_snapshot, cfg=cfg, as_of=as_of, capacity=10_000)


def test_holdout_share_strata_and_scheduler_list(base_config: Config, tiny_model, tiny_snapshot):
    cfg = base_config.override(retention__holdout_share=0.2)
    week = _holdout_frames(cfg, tiny_model, tiny_snapshot, date(2025, 6, 2))
    calls = week.call_list
    assert len(calls) == week.sizing.total.profit_optimal_count > 100
    held = calls["assignment"] == HOLDOUT
    assert abs(held.mean() - 0.2) < 0.05
    # within each risk decile floor(share x n) or one more are held out
    for _, stratum in calls.groupby("risk_decile"):
        k = int((stratum["assignment"] == HOLDOUT).sum())
        assert np.floor(0.2 * len(stratum)) <= k <= np.ceil(0.2 * len(stratum))
    assert not calls.loc[held, "selected"].any() and calls.loc[~held, "selected"].all()
    np.testing.assert_allclose(calls["propensity"], 0.8)
    sent = to_scheduler(calls)
    assert not set(sent["client_id"]) & set(calls.loc[held, "client_id"])
    assert week.sizing.held_out == int(held.sum()) and week.sizing.sent == len(sent)
    # the deciles are those of the whole scored week, not of the list
    whole = week.scores.set_index("client_id")["risk_decile"]
    assert (calls.set_index("client_id")["risk_decile"] == whole.loc[calls["client_id"]]).all()
    # same week -> same split; another week -> another split
    same = _holdout_frames(cfg, tiny_model, tiny_snapshot, date(2025, 6, 2)).call_list
    other = _holdout_frames(cfg, tiny_model, tiny_snapshot, date(2025, 6, 9)).call_list
    assert same["assignment"].tolist() == calls["assignment"].tolist()
    assert other["assignment"].tolist() != calls["assignment"].tolist()


class ByDebt:
    """A stand-in uplift model: the call helps debtors, the more the debt the more."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        assert "reason_group" in frame.columns
        return frame["overdue_debt_rub"].to_numpy(dtype=float) / 1e5


def test_rerank_keeps_the_capacity_with_most_uplift_and_draws_the_holdout(
    base_config: Config, tiny_model, tiny_snapshot
) -> None:
    """The simulation's uplift ranking goes through the one builder: a pool of 3 x capacity
    of the base ranking's best, reordered by predicted uplift, capacity kept, holdout drawn."""
    from loop.closed_loop import uplift_rerank

    cfg = base_config.override(retention__holdout_share=0.1)
    day = date(2025, 4, 7)
    base = score_week(tiny_model, tiny_snapshot, cfg=cfg, as_of=day, capacity=45)
    out = score_week(
        tiny_model, tiny_snapshot, cfg=cfg, as_of=day, capacity=15, rerank=uplift_rerank(ByDebt())
    )
    calls = out.call_list
    assert len(calls) == 15 and list(calls["rank"]) == list(range(1, 16))
    assert (calls["ranking"] == "uplift").all() and out.sizing.ranking == "uplift"
    debt = tiny_snapshot.set_index("client_id")["overdue_debt_rub"]
    pool = debt.loc[base.call_list["client_id"]]  # the base ranking's 45 best
    top = pool.sort_values(ascending=False, kind="mergesort")
    assert set(calls["client_id"]) <= set(pool.index)
    assert debt.loc[calls["client_id"]].min() >= top.iloc[15:].max()
    held = calls["assignment"] == HOLDOUT
    assert (calls["selected"] == ~held).all()
    assert out.sizing.total.listed == 15 and out.sizing.held_out == int(held.sum())
    again = score_week(
        tiny_model, tiny_snapshot, cfg=cfg, as_of=day, capacity=15, rerank=uplift_rerank(ByDebt())
    )
    pd.testing.assert_frame_equal(calls, again.call_list)  # seeded by the week


def test_stored_call_list_keeps_assignment_and_propensity(
    weekly_cfg: Config, small_raw: Path, newest: date, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'holdout.db'}"
    weekly_cfg = weekly_cfg.override(retention__holdout_share=0.25)
    summary = run_weekly(weekly_cfg, small_raw, store_url=url, capacity=400)
    assert summary.as_of == newest.isoformat()
    engine = connect(url)
    calls = read_call_list(engine, newest)
    assert set(calls["assignment"]) == {"call", "holdout"}
    assert (calls["selected"] == (calls["assignment"] == "call")).all()
    np.testing.assert_allclose(calls["propensity"], 0.75)
    assert int((~calls["selected"]).sum()) == summary.held_out > 0
    engine.dispose()


def test_controls_of_an_earlier_holdout_stay_off_the_next_lists(
    weekly_cfg: Config, small_raw: Path, newest: date, tmp_path: Path
) -> None:
    """A client held out in week 1 is not listed (in either arm) in week 2: calling a
    control before its horizon has passed would pull the measured effect towards zero."""
    url = f"sqlite:///{tmp_path / 'washout.db'}"
    weekly_cfg = weekly_cfg.override(retention__holdout_share=0.3)
    w1, w2 = newest - timedelta(days=7), newest
    run_weekly(weekly_cfg, small_raw, as_of=w1, store_url=url, capacity=400)
    engine = connect(url)
    calls1 = read_call_list(engine, w1)
    controls = set(calls1.loc[calls1["assignment"] == HOLDOUT, "client_id"].astype(int))
    assert controls
    # the window is [as_of - days, as_of): the week itself and weeks too far back do not count
    assert held_out_since(engine, w2, 90) == controls
    assert held_out_since(engine, w1, 90) == set()
    assert held_out_since(engine, w2, 6) == set()

    second = run_weekly(weekly_cfg, small_raw, as_of=w2, store_url=url, capacity=400)
    calls2 = read_call_list(engine, w2)
    scored2 = set(read_scores(engine, w2)["client_id"].astype(int))
    assert not controls & set(calls2["client_id"].astype(int))
    assert second.excluded_held_out == len(controls & scored2) > 0

    # without the washout the same controls come straight back on the list
    weekly_cfg = weekly_cfg.override(retention__holdout_washout_days=0)
    again = run_weekly(weekly_cfg, small_raw, as_of=w2, store_url=url, capacity=400)
    assert again.excluded_held_out == 0
    assert controls & set(read_call_list(engine, w2)["client_id"].astype(int))
    engine.dispose()


# ---------------------------------------------------------------- bad input


def _copy_raw(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_truth"))
    return dst


@pytest.fixture(scope="module")
def cli_config(session_config: Config, trained, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("weekly_cli")
    cfg = session_config.override(
        paths__weeks_dir=work / "weeks", paths__store_path=work / "store.db"
    )
    return write_config(cfg, work / "config.yaml")


def churn(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_bad_input_is_one_line_naming_the_thing(
    weekly_cfg: Config, small_raw: Path, newest: date, tmp_path: Path, cli_config: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    missing = _copy_raw(small_raw, tmp_path / "missing")
    (missing / "logins.parquet").unlink()
    with pytest.raises(InputError, match=r"logins"):
        run_weekly(weekly_cfg, missing, store_url=url)

    no_column = _copy_raw(small_raw, tmp_path / "no_column")
    table = pq.read_table(no_column / "invoices.parquet")
    pq.write_table(table.drop_columns(["due_ts"]), no_column / "invoices.parquet")
    with pytest.raises(InputError, match=r"invoices.*due_ts|due_ts.*invoices"):
        run_weekly(weekly_cfg, no_column, store_url=url)

    empty = _copy_raw(small_raw, tmp_path / "empty")
    (empty / "contacts.parquet").write_bytes(b"")
    with pytest.raises(InputError, match=r"contacts"):
        run_weekly(weekly_cfg, empty, store_url=url)

    # a value error the snapshot does not notice: the week is built and scored beside the
    # check, but the check's verdict stops it before anything is kept
    unknown = _copy_raw(small_raw, tmp_path / "unknown")
    logins = pq.read_table(unknown / "logins.parquet")
    ids = logins.column("client_id").to_numpy().copy()
    ids[:3] = 10**9
    at = logins.schema.get_field_index("client_id")
    pq.write_table(logins.set_column(at, "client_id", pa.array(ids)), unknown / "logins.parquet")
    with pytest.raises(InputError, match=r"contract violation.*logins.*client_id"):
        run_weekly(weekly_cfg, unknown, store_url=url)
    engine = connect(url)
    assert list_weeks(engine) == []
    engine.dispose()

    future = date.today() + timedelta(days=3)
    with pytest.raises(InputError, match=rf"--as-of: {future} is in the future"):
        run_weekly(weekly_cfg, small_raw, as_of=future, store_url=url)
    with pytest.raises(InputError, match=r"after the day after the newest event"):
        run_weekly(weekly_cfg, small_raw, as_of=newest + timedelta(days=1), store_url=url)
    with pytest.raises(InputError, match=r"--raw: directory not found"):
        run_weekly(weekly_cfg, tmp_path / "nowhere", store_url=url)
    with pytest.raises(InputError, match=r"--weeks-back: must be 0 or more weeks, got -1"):
        run_weekly(weekly_cfg, small_raw, weeks_back=-1, store_url=url)
    assert not list(Path(weekly_cfg.paths.weeks_dir).glob("*.parquet"))  # nothing written

    for args, expect in (
        (["--raw", str(missing)], "logins"),
        (["--raw", str(small_raw), "--as-of", future.isoformat()], "in the future"),
        (["--raw", str(small_raw), "--as-of", "2025-13-40"], "--as-of: expected a date"),
        (["--raw", str(small_raw), "--engine", "hive"], "--engine: unknown engine"),
        (["--raw", str(small_raw), "--capacity", "0"], "--capacity: must be a positive"),
        (["--raw", str(tmp_path / "nowhere"), "--weeks-back", "1"], "--raw: directory not found"),
    ):
        result = churn("--config", str(cli_config), "weekly", *args)
        assert result.exit_code != 0, result.output
        error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(error_lines) == 1 and expect in error_lines[0], result.output


def test_cli_prints_the_summary_and_writes_json(
    cli_config: Path, small_raw: Path, newest: date, tmp_path: Path
) -> None:
    out = tmp_path / "week.json"
    result = churn(
        "--config", str(cli_config), "weekly", "--raw", str(small_raw), "--weeks-back", "1",
        "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    import json

    summary = json.loads(out.read_text())
    assert summary["as_of"] == (newest - timedelta(days=7)).isoformat()
    assert summary["clients"] > 0 and summary["call_list"] == summary["sent"] + summary["held_out"]
    assert summary["as_of"] in result.output


def test_call_list_is_the_dry_run_of_the_stored_week(
    weekly_cfg: Config, small_raw: Path, newest: date, tmp_path: Path
) -> None:
    """``churn call-list --as-of D`` lists exactly the clients, order and assignments that
    ``churn weekly --as-of D`` then stores (the same exclusions read from the same store:
    a reached client, an earlier holdout's controls, last week's sends), and stores nothing."""
    cfg = weekly_cfg.override(retention__holdout_share=0.3)
    config = write_config(cfg, tmp_path / "config.yaml")
    w1, w2 = newest - timedelta(days=7), newest
    url = f"sqlite:///{cfg.paths.store_path}"
    run_weekly(cfg, small_raw, as_of=w1, store_url=url, capacity=300)
    engine = connect(url)
    calls1 = read_call_list(engine, w1)
    reached = int(calls1.loc[calls1["selected"], "client_id"].iloc[0])
    add_outcomes(engine, [_reached(reached, w1 + timedelta(days=2), "dry-a")])
    before = list_weeks(engine, all_versions=True)
    out = tmp_path / "dry" / "calls.csv"
    args = ["--config", str(config), "call-list", "--raw", str(small_raw)]
    result = churn(*args, "--as-of", w2.isoformat(), "--capacity", "300", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "nothing stored" in result.output
    assert list_weeks(engine, all_versions=True) == before  # stored nothing
    assert not list(Path(cfg.paths.weeks_dir).glob(f"as_of={w2}*"))
    assert not list(Path(cfg.paths.weeks_dir).glob(".*.tmp"))
    dry = pd.read_csv(out)
    assert reached not in set(dry["client_id"])

    result = churn(
        "--config", str(config), "weekly", "--raw", str(small_raw), "--as-of", w2.isoformat(),
        "--capacity", "300",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = read_call_list(engine, w2)
    assert len(stored) == len(dry) > 0
    for col in ("client_id", "rank", "assignment", "selected", "reason"):
        assert dry[col].tolist() == stored[col].tolist(), col
    np.testing.assert_allclose(dry["propensity"], stored["propensity"])
    assert (dry["as_of"] == w2.isoformat()).all()
    assert dry["reason_1"].notna().all()  # the listed clients' reasons in words
    engine.dispose()


def test_a_client_sent_last_week_is_never_this_weeks_control(
    weekly_cfg: Config, small_raw: Path, newest: date, store_url: str
) -> None:
    """The demo's contamination (issue 18, item 11): week 1's list is sent and no outcome
    is posted; week 2 lists many of the same clients again. None of them may be a control:
    they are called (propensity 1) and the holdout is drawn over the others."""
    cfg = weekly_cfg.override(retention__holdout_share=0.3)
    w1, w2 = newest - timedelta(days=7), newest
    run_weekly(cfg, small_raw, as_of=w1, store_url=store_url, capacity=300)
    second = run_weekly(cfg, small_raw, as_of=w2, store_url=store_url, capacity=300)
    engine = connect(store_url)
    calls1, calls2 = read_call_list(engine, w1), read_call_list(engine, w2)
    sent1 = set(calls1.loc[calls1["selected"], "client_id"].astype(int))
    again = calls2["client_id"].astype(int).isin(sent1).to_numpy()
    assert again.sum() > 20  # the same clients come back: the case that was contaminated
    controls = calls2.loc[calls2["assignment"] == HOLDOUT]
    assert len(controls) > 0 and not set(controls["client_id"].astype(int)) & sent1
    assert calls2.loc[again, "selected"].all()
    np.testing.assert_allclose(calls2.loc[again, "propensity"], 1.0)
    np.testing.assert_allclose(calls2.loc[~again, "propensity"], 0.7)
    assert second.kept_from_holdout == int(again.sum())
    # before the fix the draw ran over everyone listed: it would have held some of them out
    loaded = load_model(cfg, "champion")
    snap2 = pd.read_parquet(get_week(engine, w2).snapshot_path)
    blind = score_week(
        loaded.model, snap2, cfg=cfg, as_of=w2, capacity=300,
        held_out=held_out_since(engine, w2, 90),
    )  # fmt: skip
    blind_controls = blind.call_list.loc[blind.call_list["assignment"] == HOLDOUT, "client_id"]
    assert set(blind_controls.astype(int)) & sent1
    # the uplift report counts controls ever sent to the scheduler: 0 now, not before
    from training.uplift import controls_sent

    logged = pd.concat([calls1, calls2], ignore_index=True)
    assert controls_sent(logged, 90)["controls_sent_to_scheduler"] == 0
    before = pd.concat([calls1, blind.call_list.assign(as_of=pd.Timestamp(w2))])
    assert controls_sent(before, 90)["controls_sent_to_scheduler"] == len(
        set(blind_controls.astype(int)) & sent1
    )
    engine.dispose()


# ---------------------------------------------------------------- SIGKILL mid-write


def _weekly_process(
    config: Path, raw: Path, as_of: date, env: dict[str, str], log: Path, marker: Path
) -> subprocess.Popen:
    """``churn weekly`` that pauses inside the store's write (``paused_weekly.py``)."""
    script = Path(__file__).with_name("paused_weekly.py")
    cmd = [sys.executable, str(script), str(marker), "600", "--config", str(config), "weekly"]
    cmd += ["--raw", str(raw), "--as-of", as_of.isoformat()]
    return subprocess.Popen(
        cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def test_sigkill_inside_the_write_leaves_the_previous_week_intact(
    weekly_cfg: Config, small_raw: Path, newest: date, store_url: str, tmp_path: Path, mlflow_uri
) -> None:
    w1, w2 = newest - timedelta(days=7), newest
    run_weekly(weekly_cfg, small_raw, as_of=w1, store_url=store_url)
    engine = connect(store_url)
    before = read_scores(engine, w1)
    calls_before = read_call_list(engine, w1)

    config = write_config(weekly_cfg, tmp_path / "config.yaml")
    marker = tmp_path / "in_write"
    env = {
        **os.environ,
        "CHURN_STORE_URL": store_url,
        "MLFLOW_TRACKING_URI": mlflow_uri,
    }
    log = tmp_path / "weekly.log"
    proc = _weekly_process(config, small_raw, w2, env, log, marker)
    try:
        deadline = time.monotonic() + KILL_WAIT_S
        while not marker.exists():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the weekly run never reached the store write"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)

    engine.dispose()
    engine = connect(store_url)  # a fresh connection sees what is committed
    assert [w.as_of for w in list_weeks(engine)] == [w1]
    pd.testing.assert_frame_equal(read_scores(engine, w1), before)
    pd.testing.assert_frame_equal(read_call_list(engine, w1), calls_before)
    assert read_scores(engine, w2).empty and read_call_list(engine, w2).empty
    assert not list(Path(weekly_cfg.paths.weeks_dir).glob(".*.tmp"))  # renamed, not half
    killed = [p for p in Path(weekly_cfg.paths.weeks_dir).glob(f"as_of={w2}.*.parquet")]
    assert len(killed) == 1  # renamed to its own run's name; nothing points at it

    rerun = run_weekly(weekly_cfg, small_raw, as_of=w2, store_url=store_url)
    assert not killed[0].exists()  # the committed run cleaned it up
    assert [w.as_of for w in list_weeks(engine)] == [w1, w2]
    assert len(read_scores(engine, w2)) == rerun.clients
    pd.testing.assert_frame_equal(read_scores(engine, w1), before)
    engine.dispose()


def _changed_export(src: Path, dst: Path, as_of: date) -> Path:
    """A copy of the export where every other client logged in less in the month before
    ``as_of``: the same week rebuilt from it gives other snapshot rows and scores."""
    _copy_raw(src, dst)
    logins = pq.read_table(dst / "logins.parquet").to_pandas()
    start = pd.Timestamp(as_of, tz="UTC") - pd.Timedelta(days=30)
    drop = (logins["ts"] >= start) & (logins["client_id"] % 2 == 0)
    table = pa.Table.from_pandas(logins[~drop.to_numpy()], preserve_index=False)
    pq.write_table(table.cast(pq.read_schema(src / "logins.parquet")), dst / "logins.parquet")
    return dst


def test_sigkill_in_a_rerun_keeps_serving_the_committed_week(
    weekly_cfg: Config, small_raw: Path, newest: date, store_url: str, tmp_path: Path, mlflow_uri
) -> None:
    """Issue 18 items 3 and 8: a rerun of a stored week on a changed export, killed inside
    the store write, leaves the store pointing at the committed run's snapshot file,
    untouched, and a server started afterwards answers the committed week everywhere
    (``/explain`` from that snapshot equals the stored ``/score``). The next committed run
    removes the killed run's file and the temporary files of dead runs."""
    from week_helpers import make_keys, running_service, weekly_config

    cfg = weekly_config(weekly_cfg)
    w = newest - timedelta(days=7)
    run_weekly(cfg, small_raw, as_of=w, store_url=store_url)
    engine = connect(store_url)
    committed = get_week(engine, w)
    before = pd.read_parquet(committed.snapshot_path)
    scores = read_scores(engine, w).set_index("client_id")
    changed = _changed_export(small_raw, tmp_path / "changed", w)

    config = write_config(cfg, tmp_path / "config.yaml")
    marker = tmp_path / "in_write"
    env = {**os.environ, "CHURN_STORE_URL": store_url, "MLFLOW_TRACKING_URI": mlflow_uri}
    log = tmp_path / "weekly.log"
    proc = _weekly_process(config, changed, w, env, log, marker)
    try:
        deadline = time.monotonic() + KILL_WAIT_S
        while not marker.exists():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the weekly run never reached the store write"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)

    engine.dispose()
    engine = connect(store_url)
    weeks_dir = Path(cfg.paths.weeks_dir)
    assert get_week(engine, w) == committed  # the store still points at the committed run
    pd.testing.assert_frame_equal(pd.read_parquet(committed.snapshot_path), before)
    killed = [
        p for p in weeks_dir.glob(f"as_of={w}.*.parquet") if str(p) != committed.snapshot_path
    ]
    assert len(killed) == 1  # the killed run's own file, which nothing points at
    rebuilt = pd.read_parquet(killed[0]).set_index("client_id")
    moved = (rebuilt["logins_30d"] != before.set_index("client_id")["logins_30d"]).sum()
    assert moved > 10  # renamed over the committed file, it would have changed the answers

    listed = read_call_list(engine, w)
    ids = listed.loc[listed["selected"], "client_id"].astype(int).tolist()[:8]
    with running_service(
        cfg, work=tmp_path / "server", store=store_url, tracking_uri=mlflow_uri,
        keys=make_keys(engine),
    ) as server:  # fmt: skip
        import httpx

        headers = server.headers()
        got = httpx.post(
            f"{server.url}/score", json={"client_ids": ids}, headers=headers, timeout=120
        ).json()
        assert [r["probability"] for r in got["scores"]] == scores.loc[ids, "probability"].tolist()
        for cid in ids[:4]:
            e = httpx.post(
                f"{server.url}/explain", json={"client_id": cid}, headers=headers, timeout=120
            ).json()
            assert e["as_of"] == w.isoformat()
            assert e["probability"] == pytest.approx(scores.loc[cid, "probability"], abs=1e-9)

    stale = weeks_dir / f".as_of={w}.parquet.{_dead_pid()}.tmp"  # a run killed mid-build
    stale.write_bytes(b"half a snapshot")
    run_weekly(cfg, small_raw, as_of=newest, store_url=store_url)
    assert not killed[0].exists() and not stale.exists()
    assert Path(committed.snapshot_path).exists()  # still pointed at
    assert {str(p) for p in weeks_dir.glob("as_of=*.parquet")} == {
        str(Path(i.snapshot_path)) for i in list_weeks(engine, all_versions=True)
    }
    engine.dispose()


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_spark_engine_gives_the_duckdb_week(
    spark, weekly_cfg: Config, small_raw: Path, newest: date, tmp_path: Path
) -> None:
    duck = run_weekly(weekly_cfg, small_raw, store_url=f"sqlite:///{tmp_path / 'd.db'}")
    on_spark = run_weekly(
        weekly_cfg, small_raw, store_url=f"sqlite:///{tmp_path / 's.db'}", engine="spark"
    )
    assert spark.getActiveSession() is not None  # the shared session is left running
    assert on_spark.clients == duck.clients and on_spark.as_of == duck.as_of
    a = read_scores(connect(f"sqlite:///{tmp_path / 'd.db'}"), newest)
    b = read_scores(connect(f"sqlite:///{tmp_path / 's.db'}"), newest)
    both = a.merge(b, on="client_id", suffixes=("_duck", "_spark"), validate="1:1")
    assert len(both) == len(a)
    np.testing.assert_allclose(both["probability_spark"], both["probability_duck"], atol=1e-9)
    assert (both["rank_spark"] == both["rank_duck"]).all()
    assert (both["evidence_spark"] == both["evidence_duck"]).all()


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_summary_says_why_there_are_no_rule_bands(lang: str) -> None:
    from rule_free_helpers import SAID

    from serving.weekly import WeekSummary

    fields = dict(
        as_of="2025-09-01", model_version="1", alias="champion", clients=10,
        bands={"high": 1, "dynamic": 2, "no_threat": 7}, rule_bands={}, previous_as_of=None,
        changed_band=None, rose=None, fell=None, new_clients=None, call_list=3, sent=3,
        held_out=0, excluded_recently_called=0, capacity=3, profit_optimal_count=3,
        capacity_binds=True, ranking="expected_loss", snapshot_path="s.parquet", store="db",
    )  # fmt: skip
    bare = WeekSummary(**fields, no_rule=SAID).lines(lang)[1]
    assert bare.endswith(SAID[lang]) and "no_threat 0" not in bare.split(";")[1]
    centre = WeekSummary(**{**fields, "rule_bands": {"high": 4}}).lines(lang)[1]
    assert SAID[lang] not in centre and "high 4" in centre
