"""``churn monitor`` end to end on the session's generated base and champion: a week of a
base whose logins halve after the champion's training data is flagged (named alerts, exit
4); the same week of the unshifted base (same seed) raises none; a matured week's realised
performance is the training label function's, and a low ``min_auc`` alerts on it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from monitoring_helpers import write_config
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from churn.config import Config
from cli.main import app
from simulator.config import ShiftConfig, SimulateConfig
from store.db import connect
from store.weeks import read_scores
from training.labels import data_end_of, label_snapshots, read_churn_events
from training.registry import load_by_alias

SHIFT_AFTER = date(2025, 6, 1)  # the session base's newest labelled snapshot date
DRIFT_WEEK = date(2025, 7, 7)  # logins_30d window: all after the shift
MATURED_WEEK = date(2025, 5, 26)  # + 90 days <= the base's data end (2025-08-31)


@pytest.fixture(scope="module")
def stores(
    session_config: Config,
    session_sim: SimulateConfig,
    small_raw: Path,
    trained: dict[str, Any],
    tmp_path_factory,
) -> dict[str, Any]:
    """Two stores filled by the real weekly run (``serving.weekly.run_weekly``) with the
    session champion: the unshifted base (a matured week and a drift week) and its twin
    whose logins drop to 40 % after SHIFT_AFTER (the drift week)."""
    from serving.weekly import run_weekly
    from simulator.generate import simulate

    root = tmp_path_factory.mktemp("monitor")
    shifted_raw = root / "shifted_raw"
    sim = session_sim.override(shift=ShiftConfig(after=SHIFT_AFTER, logins_factor=0.4))
    simulate(sim, shifted_raw)
    out: dict[str, Any] = {"champion": load_by_alias(session_config), "root": root}
    for name, raw, weeks in (
        ("plain", small_raw, (MATURED_WEEK, DRIFT_WEEK)),
        ("shifted", shifted_raw, (DRIFT_WEEK,)),
    ):
        cfg = session_config.override(
            store__url=f"sqlite:///{root / name / 'store.db'}",
            paths__raw_dir=raw,
            paths__weeks_dir=root / name / "weeks",
            paths__reports_dir=root / name / "reports",
        )
        for day in weeks:
            run_weekly(cfg, raw, as_of=day)
        out[name] = cfg
    return out


def _monitor(cfg: Config, root: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    config = write_config(cfg, root / "cfg" / "default.yaml")
    report = root / "monitor.json"
    result = CliRunner().invoke(
        app, ["--config", str(config), "monitor", "--report", str(report), *args]
    )
    return result, (json.loads(report.read_text()) if report.exists() else {})


def _week(report: dict[str, Any], day: date) -> dict[str, Any]:
    return next(w for w in report["weeks"] if w["as_of"] == day.isoformat())


def test_unshifted_base_raises_no_alert(stores: dict[str, Any], tmp_path: Path) -> None:
    result, report = _monitor(stores["plain"], tmp_path)
    assert result.exit_code == 0, result.output
    assert report["alerts"] == [] and report["alert_names"] == []
    assert "alerts: none" in result.output
    drift = _week(report, DRIFT_WEEK)["drift"]
    assert drift["score"]["band"] != "significant"
    features = {row["feature"]: row for row in drift["features"]}
    assert set(features) == set(stores["champion"].model.features)
    assert max(r["psi"] for r in features.values()) <= 0.25
    assert report["champion"]["version"] == stores["champion"].version
    page = stores["plain"].paths.reports_dir / "monitoring" / "index.html"
    assert page.exists() and "logins_30d" in page.read_text()


def test_shifted_base_is_flagged_with_named_alerts(stores: dict[str, Any], tmp_path: Path) -> None:
    result, report = _monitor(stores["shifted"], tmp_path)
    assert result.exit_code == 4, result.output
    names = report["alert_names"]
    assert "drift:feature:logins_30d" in names and "drift:feature:logins_7d" in names
    stdout_names = [ln for ln in result.output.splitlines() if ":" in ln and " " not in ln]
    assert stdout_names == names
    features = {r["feature"]: r for r in _week(report, DRIFT_WEEK)["drift"]["features"]}
    assert features["logins_30d"]["band"] == "significant"
    assert features["monthly_fee_rub"]["band"] == "stable"  # not touched by the shift
    page = (stores["shifted"].paths.reports_dir / "monitoring" / "index.html").read_text()
    assert "drift:feature:logins_30d" in page


def test_matured_week_performance_is_the_training_label(
    stores: dict[str, Any], tmp_path: Path
) -> None:
    cfg = stores["plain"]
    result, report = _monitor(cfg, tmp_path)
    perf = _week(report, MATURED_WEEK)["performance"]
    assert perf["status"] == "matured"
    assert _week(report, DRIFT_WEEK)["performance"]["status"] == "waiting"
    engine = connect(cfg.store.url)
    scores = read_scores(engine, MATURED_WEEK)
    raw = Path(cfg.paths.raw_dir)
    labelled = label_snapshots(scores, read_churn_events(raw), 90, data_end_of(raw))
    assert perf["rows"] == len(labelled) > 0
    assert perf["roc_auc"] == pytest.approx(
        roc_auc_score(labelled["label"], labelled["probability"]), abs=1e-12
    )
    assert {g["value"] for g in perf["by"]["category"]} <= {"A", "B", "C"}
    assert sum(g["rows"] for g in perf["by"]["segment"]) == perf["rows"]
    # as of a date before the horizon closed, the week is still waiting
    result, early = _monitor(cfg, tmp_path / "early", "--as-of", "2025-07-01")
    assert _week(early, MATURED_WEEK)["performance"]["status"] == "waiting"
    assert DRIFT_WEEK.isoformat() not in [w["as_of"] for w in early["weeks"]]
    strict = cfg.override(monitoring__min_auc=0.999)
    result, report = _monitor(strict, tmp_path / "strict")
    assert result.exit_code == 4 and report["alert_names"] == ["performance:auc_below_min"]
    assert "performance:auc_below_min" in result.output.splitlines()


def test_bad_as_of_is_one_line(stores: dict[str, Any], tmp_path: Path) -> None:
    result, _ = _monitor(stores["plain"], tmp_path, "--as-of", "2025-13-01")
    assert result.exit_code == 2 and "--as-of" in result.stderr


def test_a_week_whose_snapshot_is_gone_alerts(stores: dict[str, Any], tmp_path: Path) -> None:
    """A week whose snapshot file cannot be read cannot be checked: an alert, not "stable"."""
    from store.weeks import read_call_list, write_week

    plain = stores["plain"]
    source = connect(plain.store.url)
    cfg = plain.override(store__url=f"sqlite:///{tmp_path / 'store.db'}")
    engine = connect(cfg.store.url)
    write_week(
        engine,
        as_of=DRIFT_WEEK,
        model_version=stores["champion"].version,
        scores=read_scores(source, DRIFT_WEEK),
        call_list=read_call_list(source, DRIFT_WEEK),
        snapshot_path=str(tmp_path / "deleted.parquet"),
    )
    engine.dispose()
    source.dispose()
    result, report = _monitor(cfg, tmp_path)
    assert result.exit_code == 4 and report["alert_names"] == ["data:snapshot_missing"]
    drift = _week(report, DRIFT_WEEK)["drift"]
    assert drift["features"] is None and drift["score"]["band"] != "significant"
    assert "snapshot file not found" in drift["snapshot_error"]


@pytest.fixture(scope="module")
def hotter(
    session_config: Config, session_sim: SimulateConfig, trained: dict[str, Any], tmp_path_factory
) -> Config:
    """A store whose matured week was scored by the session champion on a base where twice
    as many clients leave (the generator's ``target_monthly_churn`` doubled, same seed):
    the probabilities shown that week were far too low."""
    from serving.weekly import run_weekly
    from simulator.generate import simulate

    root = tmp_path_factory.mktemp("monitor-hotter")
    sim = session_sim.override(
        target_monthly_churn=2 * session_sim.target_monthly_churn,
        reference__paths=0,  # not needed here
    )
    simulate(sim, root / "raw")
    cfg = session_config.override(
        store__url=f"sqlite:///{root / 'store.db'}",
        paths__raw_dir=root / "raw",
        paths__weeks_dir=root / "weeks",
        paths__reports_dir=root / "reports",
    )
    run_weekly(cfg, root / "raw", as_of=MATURED_WEEK)
    return cfg


def test_realised_calibration_of_each_matured_week(
    stores: dict[str, Any], hotter: Config, tmp_path: Path
) -> None:
    """Once its horizon has passed, a week reports mean probability / observed churn rate;
    outside ``monitoring.calibration_band`` beyond the week's noise it alerts
    ``performance:calibration``; the plain base's week stays inside and does not."""
    for cfg, alerting in ((stores["plain"], False), (hotter, True)):
        result, report = _monitor(cfg, tmp_path / str(alerting))
        perf = _week(report, MATURED_WEEK)["performance"]
        scores = read_scores(connect(cfg.store.url), MATURED_WEEK)
        raw = Path(cfg.paths.raw_dir)
        labelled = label_snapshots(scores, read_churn_events(raw), 90, data_end_of(raw))
        ratio = labelled["probability"].mean() / labelled["label"].mean()
        assert perf["calibration_in_the_large"] == pytest.approx(ratio, rel=1e-9)
        low, high = perf["calibration_in_the_large_ci"]
        assert low < ratio < high
        assert report["thresholds"]["calibration_band"] == [0.8, 1.25]
        named = "performance:calibration" in report["alert_names"]
        assert named is alerting, (ratio, low, high)
        line = next(ln for ln in result.output.splitlines() if MATURED_WEEK.isoformat() in ln)
        assert f"mean predicted / observed {ratio:.3f}" in line
    assert ratio < 0.8 and high < 0.8  # the hotter base: far too low, beyond noise
    assert result.exit_code == 4
    alert = next(a for a in report["alerts"] if a["name"] == "performance:calibration")
    assert alert["week"] == MATURED_WEEK.isoformat() and alert["threshold"] == 0.8
