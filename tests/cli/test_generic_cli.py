"""``churn simulate-generic``, ``churn import --source`` and ``churn features`` on a
subscription + activity source (issue 21): the generator's CSV in through the spec, bad
input named and nothing kept, snapshots with the generated columns and the raw digest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.config import REPO_ROOT, load_config
from cli.main import app
from features import provenance
from features.catalog import spec_of

SPEC = REPO_ROOT / "configs" / "sources" / "generic_demo.yaml"
GENERIC = REPO_ROOT / "configs" / "generic" / "default.yaml"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def csv_spec(tmp_path: Path) -> Path:
    out = tmp_path / "csv_source.yaml"
    out.write_text(SPEC.read_text(encoding="utf-8").replace(".parquet", ".csv"), encoding="utf-8")
    return out


@pytest.fixture(autouse=True)
def _keep_env(monkeypatch):
    # a source's --config names the process's config (the catalog follows it): undone after
    monkeypatch.setenv("CHURN_CONFIG", "")


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("generic_cli") / "export"
    r = CliRunner().invoke(
        app, ["simulate-generic", "--customers", "150", "--months", "9", "--csv", "--out", str(d)]
    )
    assert r.exit_code == 0, r.output
    return d


def test_simulate_generic_writes_csv_in_the_generators_own_names(export):
    subs = pd.read_csv(export / "subscriptions.csv")
    assert {"sub_key", "customer_id", "start_date", "end_date", "price", "billing"} <= set(
        subs.columns
    )
    assert (export / "events.csv").is_file() and (export / "_truth" / "hazard.parquet").is_file()


def test_simulate_generic_writes_the_reference_for_the_configs_horizon(export, tmp_path):
    """The truth stays Parquet beside a CSV export, carrying the horizon the labels use
    (``training.horizon_days``) for ``churn train --reference``; ``--reference-paths 0``
    leaves it out, a negative count is refused."""
    import pyarrow.parquet as pq

    ref = export / "_truth" / "horizon_probability.parquet"
    meta = pq.read_schema(ref).metadata
    assert meta[b"horizon_days"] == str(load_config().training.horizon_days).encode()
    assert meta[b"paths"] == b"200"
    frame = pd.read_parquet(ref)
    assert list(frame.columns) == ["client_id", "as_of", "probability"] and len(frame) > 0
    r = run(
        "--config",
        str(GENERIC),
        "simulate-generic",
        "--customers",
        "40",
        "--months",
        "5",
        "--reference-paths",
        "0",
        "--out",
        str(tmp_path / "off"),
    )
    assert r.exit_code == 0 and "not written (--reference-paths 0)" in r.output, r.output
    assert not (tmp_path / "off" / "_truth" / "horizon_probability.parquet").exists()
    assert (tmp_path / "off" / "subscriptions.parquet").is_file()
    r = run("simulate-generic", "--reference-paths", "-1", "--out", str(tmp_path / "bad"))
    assert r.exit_code != 0 and "--reference-paths" in r.output and "Traceback" not in r.output


def test_import_csv_through_the_spec_then_features(export, tmp_path):
    raw = tmp_path / "raw"
    r = run("import", str(export), "--source", str(csv_spec(tmp_path)), "--out", str(raw))
    assert r.exit_code == 0, r.output
    assert "every table satisfies the contract" in r.output
    assert {p.name for p in raw.glob("*.parquet")} == {
        "subscriptions.parquet",
        "activities.parquet",
        "customers.parquet",
    }
    out = tmp_path / "snapshots.parquet"
    r = run(
        "--config",
        str(GENERIC),
        "features",
        "--raw",
        str(raw),
        "--out",
        str(out),
        "--every",
        "month",
    )
    assert r.exit_code == 0, r.output
    assert "no rule indicator" in r.output
    frame = pd.read_parquet(out)
    assert list(frame.columns) == spec_of(load_config(GENERIC)).names
    assert frame["as_of"].nunique() >= 4
    assert provenance.check(out, raw) == "matches"


def test_bad_export_is_named_and_nothing_is_kept(export, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in export.glob("*.csv"):
        (bad / f.name).write_bytes(f.read_bytes())
    subs = pd.read_csv(bad / "subscriptions.csv", dtype={"price": "str"})
    subs.loc[3, "price"] = "twelve"
    subs.to_csv(bad / "subscriptions.csv", index=False)
    raw = tmp_path / "raw"
    r = run("import", str(bad), "--source", str(csv_spec(tmp_path)), "--out", str(raw))
    assert r.exit_code != 0
    assert "subscriptions.csv" in r.output and "'price'" in r.output and "twelve" in r.output
    assert "row" in r.output and "Traceback" not in r.output
    assert not raw.exists()


def test_mapping_and_source_together_are_refused(export, tmp_path):
    r = run(
        "import",
        str(export),
        "--source",
        str(SPEC),
        "--mapping",
        str(REPO_ROOT / "configs" / "mappings" / "crm_report.yaml"),
        "--out",
        str(tmp_path / "raw"),
    )
    assert r.exit_code != 0 and "not both" in r.output


def test_validate_and_the_weekly_check_name_a_broken_raw_table(export, tmp_path):
    from churn.errors import InputError
    from serving.weekly import validate_raw, week_date

    raw = tmp_path / "raw"
    assert (
        run("import", str(export), "--source", str(csv_spec(tmp_path)), "--out", str(raw)).exit_code
        == 0
    )
    r = run("--config", str(GENERIC), "validate", str(raw))
    assert r.exit_code == 0 and "every table satisfies the contract" in r.output, r.output
    cfg = load_config(GENERIC).override(paths=load_config(GENERIC).paths.under(tmp_path / "w"))
    acts = pd.read_parquet(raw / "activities.parquet")
    newest = acts["ts"].max()
    # the week's default date: the day after the newest activity (renewals booked ahead of
    # the log's end do not move it)
    assert week_date(raw, None, cfg=cfg) == (newest + pd.Timedelta(days=1)).date()
    acts.loc[0, "client_id"] = 999_999_999  # a customer nobody knows
    acts.to_parquet(raw / "activities.parquet", index=False)
    r = run("--config", str(GENERIC), "validate", str(raw))
    assert r.exit_code == 1 and "unknown_customer" in r.output and "999999999" in r.output
    with pytest.raises(InputError, match="unknown_customer"):
        validate_raw(cfg, raw)


def test_import_reads_excel_and_parquet_exports_alike(tmp_path):
    """The same small export as .xlsx and as .parquet: the same canonical tables."""
    from simulator.generic import GenericSimConfig, generate

    frames = generate(GenericSimConfig(customers=25, months=4, seed=5))
    out = {}
    for ext in ("xlsx", "parquet"):
        src = tmp_path / f"src_{ext}"
        src.mkdir()
        for name in ("subscriptions", "events", "customers"):
            frame = frames[name]
            if ext == "xlsx":  # a spreadsheet keeps no time zone: UTC wall-clock times
                frame = frame.assign(
                    **{
                        c: frame[c].dt.tz_convert(None)
                        for c in frame.columns
                        if isinstance(frame[c].dtype, pd.DatetimeTZDtype)
                    }
                )
                frame.to_excel(src / f"{name}.xlsx", index=False)
            else:
                frame.to_parquet(src / f"{name}.parquet", index=False)
        spec = tmp_path / f"spec_{ext}.yaml"
        spec.write_text(
            SPEC.read_text(encoding="utf-8").replace(".parquet", f".{ext}"), encoding="utf-8"
        )
        raw = tmp_path / f"raw_{ext}"
        r = run("import", str(src), "--source", str(spec), "--out", str(raw))
        assert r.exit_code == 0, r.output
        out[ext] = {
            n: pd.read_parquet(raw / f"{n}.parquet") for n in ("subscriptions", "activities")
        }
    for name in ("subscriptions", "activities"):
        a, b = out["xlsx"][name], out["parquet"][name]
        assert len(a) == len(b) > 0
        assert (a["client_id"].to_numpy() == b["client_id"].to_numpy()).all()
        ts = "start_ts" if name == "subscriptions" else "ts"
        # Excel keeps milliseconds at most: the instants agree to the second
        assert ((a[ts] - b[ts]).abs() < pd.Timedelta(seconds=1)).all()


def test_import_names_activity_types_the_spec_does_not_list(export, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in export.glob("*.csv"):
        (src / f.name).write_bytes(f.read_bytes())
    events = pd.read_csv(src / "events.csv")
    events.loc[:2, "event_type"] = "refund"
    events.to_csv(src / "events.csv", index=False)
    r = run("import", str(src), "--source", str(csv_spec(tmp_path)), "--out", str(tmp_path / "r"))
    assert r.exit_code == 0, r.output
    assert "'refund' (3 rows)" in r.output and "ignored" in r.output
