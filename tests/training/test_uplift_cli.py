"""``churn uplift``: assignments file + raw churn -> JSON report; only observed horizons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from cli.main import app
from training.labels import LABEL, data_end_of, label_snapshots, read_churn_events


def test_uplift_report_from_assignments_and_raw_churn(small_raw: Path, tmp_path: Path) -> None:
    clients = pd.read_parquet(small_raw / "clients.parquet", columns=["client_id"])
    end = data_end_of(small_raw)
    early = (end - pd.Timedelta(days=200)).normalize()
    late = (end - pd.Timedelta(days=10)).normalize()  # horizon not observed yet
    rng = np.random.default_rng(0)
    rows = []
    for as_of in (early, late):
        ids = clients["client_id"].to_numpy()[:300]
        rows.append(
            pd.DataFrame(
                {
                    "as_of": as_of,
                    "client_id": ids,
                    "rank": np.arange(1, len(ids) + 1),
                    "assignment": np.where(rng.random(len(ids)) < 0.3, "holdout", "call"),
                    "risk_decile": rng.integers(1, 11, len(ids)),
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    path = tmp_path / "assignments.parquet"
    frame.to_parquet(path)
    out = tmp_path / "uplift.json"
    result = CliRunner().invoke(
        app,
        ["uplift", "--assignments", str(path), "--raw", str(small_raw), "--report", str(out)],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    labelled = label_snapshots(frame, read_churn_events(small_raw), 90, end)
    assert report["rows_used"] == len(labelled) and report["rows_waiting_for_horizon"] >= 300
    o = report["overall"]
    called = labelled[labelled["assignment"] == "call"][LABEL].mean()
    assert o["churn_called"] == called and o["n_called"] + o["n_holdout"] == len(labelled)
    assert o["ci_low"] <= o["difference"] <= o["ci_high"]
    # the two weeks are further apart than the horizon: no control had been sent
    assert report["controls"] == {"controls_sent_to_scheduler": 0, "window_days": 90}
    assert "controls ever sent to the scheduler" in result.output and "(must be 0)" in result.output


def test_uplift_bad_file_is_a_clean_error(tmp_path: Path, small_raw: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "uplift",
            "--assignments",
            str(tmp_path / "nope.csv"),
            "--raw",
            str(small_raw),
            "--report",
            str(tmp_path / "r.json"),
        ],
    )
    assert result.exit_code != 0 and "--assignments" in result.output
