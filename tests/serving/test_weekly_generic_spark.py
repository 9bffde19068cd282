"""``churn weekly --engine spark`` on a subscription + activity source: the week's snapshot
(:func:`serving.weekly.build_week_snapshot`) built on Spark is the DuckDB one, provenance
stamped and checked. The scoring of it is the engine-neutral one both engines share; the
whole command runs in ``tests/test_generic_loop.py``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from churn.config import REPO_ROOT, load_config
from features.generic.load import import_source
from features.generic.spec import load_spec
from serving.weekly import build_week_snapshot
from simulator.generic import GenericSimConfig, write

GENERIC = REPO_ROOT / "configs" / "generic" / "default.yaml"


def test_generic_week_snapshot_on_spark_is_the_duckdb_one(spark, tmp_path: Path) -> None:
    cfg = load_config(GENERIC)
    cfg = cfg.model_copy(update={"paths": cfg.paths.under(tmp_path)})
    write(GenericSimConfig(customers=80, months=8, seed=9), tmp_path / "export")
    raw = tmp_path / "raw"
    import_source(load_spec(cfg.features.source), tmp_path / "export", raw)
    day = date(2024, 7, 15)
    on_spark, spark_tmp = build_week_snapshot(cfg, raw, day, "spark")  # provenance checked
    assert spark_tmp.is_file()
    spark_tmp.unlink()
    on_duck, _ = build_week_snapshot(cfg, raw, day, "duckdb")
    assert len(on_duck) > 20 and set(on_duck["as_of"]) == {pd.Timestamp(day, tz="UTC")}
    pd.testing.assert_frame_equal(on_spark, on_duck, rtol=1e-9, atol=1e-9)
