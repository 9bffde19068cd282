"""``churn weekly --engine spark``: the week's snapshot built on Spark goes through the same
``score_week`` / ``write_week`` path, and the stored week equals the DuckDB one to 1e-9."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churn.config import Config
from serving.weekly import run_weekly
from store.db import connect
from store.weeks import read_call_list, read_scores


def _week(cfg: Config, raw: Path, tmp: Path, engine: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    cfg = cfg.model_copy(deep=True)
    cfg.paths.weeks_dir = tmp / engine / "weeks"
    url = f"sqlite:///{tmp / engine / 'store.db'}"
    (tmp / engine).mkdir()
    summary = run_weekly(cfg, raw, store_url=url, engine=engine)
    store = connect(url)
    day = pd.Timestamp(summary.as_of).date()
    scores, calls = read_scores(store, day), read_call_list(store, day)
    store.dispose()
    return scores.sort_values("client_id"), calls.sort_values("client_id")


def test_weekly_on_spark_stores_the_duckdb_week(
    spark, session_config: Config, small_raw: Path, trained, mlflow_uri, tmp_path: Path
) -> None:
    duck_scores, duck_calls = _week(session_config, small_raw, tmp_path, "duckdb")
    spark_scores, spark_calls = _week(session_config, small_raw, tmp_path, "spark")
    assert spark.sparkContext._jsc is not None  # the shared session was not stopped
    assert len(duck_scores) == len(spark_scores) > 100 and len(duck_calls) > 0
    for duck, got in ((duck_scores, spark_scores), (duck_calls, spark_calls)):
        assert duck["client_id"].tolist() == got["client_id"].tolist()
        for col in duck.columns:
            a, b = duck[col].to_numpy(), got[col].to_numpy()
            if pd.api.types.is_float_dtype(duck[col]):
                np.testing.assert_allclose(b, a, rtol=0, atol=1e-9, err_msg=col)
            elif col != "drivers":
                assert (pd.Series(a).fillna("?") == pd.Series(b).fillna("?")).all(), col
    for a, b in zip(duck_scores["drivers"], spark_scores["drivers"], strict=True):
        assert [d["feature"] for d in a] == [d["feature"] for d in b]
        np.testing.assert_allclose(
            [d["contribution"] for d in b], [d["contribution"] for d in a], rtol=0, atol=1e-9
        )
