"""``churn score --engine spark``: the snapshot built on Spark, scored on the executors
with the broadcast champion, equals the DuckDB path to 1e-9 for every client."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
from typer.testing import CliRunner

from cli.main import app
from serving.batch import run_score
from serving.run import write_config
from serving.spark_batch import run_score_spark


def _read_partitioned(out: Path) -> pd.DataFrame:
    return ds.dataset(out, format="parquet", partitioning="hive").to_table().to_pandas()


def test_spark_scores_equal_duckdb_for_every_client(
    spark, session_config, small_raw, trained, mlflow_uri, tmp_path
):
    out = tmp_path / "spark_scores"
    summary = run_score_spark(session_config, out=out, raw=small_raw, session=spark)
    duck = run_score(session_config, features_file=None, raw=small_raw, out=tmp_path / "d.parquet")
    got = _read_partitioned(out)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        f"as_of={duck['as_of'].iloc[0].date().isoformat()}"
    ]
    assert summary.rows == len(got) == len(duck) > 100
    merged = duck.merge(got, on="client_id", suffixes=("_duck", "_spark"), validate="1:1")
    assert len(merged) == len(duck)
    np.testing.assert_allclose(
        merged["probability_spark"], merged["probability_duck"], rtol=0, atol=1e-9
    )
    assert (merged["risk_band_spark"] == merged["risk_band_duck"]).all()
    assert (merged["rule_band_spark"] == merged["rule_band_duck"]).all()
    assert merged["probability_duck"].std() > 0.01  # not a vacuous match


def test_churn_score_engine_spark_from_features_file(
    spark, session_config, small_snapshots, trained, mlflow_uri, tmp_path
):
    """The CLI reuses the session's SparkSession (getOrCreate) and scores the latest as_of."""
    cfg_path = write_config(session_config, tmp_path / "cfg.yaml")
    out = tmp_path / "by_cli"
    args = ["--config", str(cfg_path), "score", "--engine", "spark"]
    result = CliRunner().invoke(app, [*args, "--features", str(small_snapshots), "--out", str(out)])
    assert result.exit_code == 0, result.output
    got = _read_partitioned(out)
    latest = pd.read_parquet(small_snapshots)
    latest = latest[latest["as_of"] == latest["as_of"].max()]
    assert sorted(got["client_id"]) == sorted(latest["client_id"])


def test_churn_score_bad_engine_and_missing_input(session_config, trained, mlflow_uri, tmp_path):
    cfg_path = write_config(session_config, tmp_path / "cfg.yaml")
    runner = CliRunner()
    base = ["--config", str(cfg_path), "score", "--out", str(tmp_path / "o")]
    bad = runner.invoke(app, [*base, "--engine", "polars"])
    assert bad.exit_code != 0 and "--engine" in bad.output
    missing = runner.invoke(app, [*base, "--engine", "spark", "--raw", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "--raw" in missing.output


def _network_copy(raw: Path, dst: Path, centres: int = 2) -> Path:
    """``raw`` with the clients' centres added, as ``churn simulate --centres`` draws them
    (the rest of a network base is byte-identical to the single-centre one)."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from simulator.generate import assign_centres

    shutil.copytree(raw, dst)
    clients = pq.read_table(dst / "clients.parquet")
    codes, names = assign_centres(clients.num_rows, centres, seed=7)
    column = pa.array(np.asarray(names, dtype=object)[codes], pa.string())
    pq.write_table(clients.append_column("centre_id", column), dst / "clients.parquet")
    return dst


def test_spark_scores_equal_duckdb_with_centres_partitioned_by_centre(
    spark, session_config, small_raw, trained, mlflow_uri, tmp_path
):
    net = _network_copy(small_raw, tmp_path / "net")
    out = tmp_path / "spark_scores"
    run_score_spark(session_config, out=out, raw=net, session=spark)
    duck = run_score(session_config, features_file=None, raw=net, out=tmp_path / "d.parquet")
    (day,) = [p for p in out.iterdir() if p.is_dir()]
    assert sorted(p.name for p in day.iterdir() if p.is_dir()) == ["centre_id=C01", "centre_id=C02"]
    got = _read_partitioned(out)
    merged = duck.merge(got, on="client_id", suffixes=("_duck", "_spark"), validate="1:1")
    assert len(merged) == len(duck) == len(got) > 100
    assert (merged["centre_id_duck"] == merged["centre_id_spark"].astype("str")).all()
    assert set(duck["centre_id"]) == {"C01", "C02"}
    np.testing.assert_allclose(
        merged["probability_spark"], merged["probability_duck"], rtol=0, atol=1e-9
    )
    # the centre is an id, not a model input: the same clients score as in the single base
    single = run_score(
        session_config, features_file=None, raw=small_raw, out=tmp_path / "s.parquet"
    )
    both = duck.merge(single, on="client_id", suffixes=("", "_single"), validate="1:1")
    np.testing.assert_allclose(both["probability"], both["probability_single"], rtol=0, atol=0)
