"""The same snapshot expressions, executed on Spark (PySpark) instead of DuckDB.

Why: the feature layer is written once, as engine-neutral Ibis (``features.snapshot``).
This module is the proof that it moves to Spark without a rewrite: it hands
:func:`features.snapshot.snapshots_expr` -- unchanged, the very function the DuckDB path
uses -- a PySpark connection instead of a DuckDB one. Only the plumbing differs: a
SparkSession in UTC, and the raw Parquet files registered as Spark views (Ibis'
``read_parquet``, called by :func:`features.snapshot.load_tables`).
``tests/features/test_spark_engine.py`` checks the Spark result equals the DuckDB one,
column by column. Needs the optional extra: ``pip install -e '.[spark]'`` (and Java 17+).

A network-wide job (all regions, years of events) runs the same code on a cluster::

    spark-submit --master yarn --conf spark.sql.session.timeZone=UTC job.py

where ``job.py`` builds ``session = SparkSession.builder.getOrCreate()``, connects
``con = ibis.pyspark.connect(session)``, reads the raw tables from the lake
(``load_tables(raw_dir, con)`` or ``con.table(...)`` over the warehouse), and writes the
snapshots without collecting them on the driver:
``con.to_parquet(snapshots_expr(tables, dates, cfg.features, cfg.rules), out)`` (or
``session.sql(con.compile(expr)).write.partitionBy("as_of").parquet(out)``).
:func:`build_snapshots_spark` collects to pandas and is only for tests and small bases.

Batch scoring on Spark (not implemented here; the model is a plain Python object):
broadcast the :class:`training.model.ChurnModel` loaded from the MLflow registry, then
``snapshots_df.mapInPandas(score, schema="client_id long, as_of timestamp, probability
double, risk_band string")`` where ``score`` iterates over the partition's pandas batches
and yields ``model.predict_proba(batch)`` next to the keys -- each executor scores its
partition with the same booster and calibrator the service uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import pandas as pd

from churn.config import Config
from features.catalog import CATALOG
from features.snapshot import load_tables, snapshots_expr

if TYPE_CHECKING:  # pyspark is an optional extra: import it only when a session is built
    from pyspark.sql import SparkSession

LOCAL_CONF = {
    "spark.sql.session.timeZone": "UTC",  # as_of is 00:00 UTC; day differences in UTC
    "spark.sql.shuffle.partitions": "4",  # small bases: 200 default partitions cost seconds
    "spark.sql.execution.arrow.pyspark.enabled": "true",  # fast toPandas
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def local_session(cores: int = 2) -> SparkSession:
    """A local-mode SparkSession in UTC, tuned for small bases (reuses an active one)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(f"local[{cores}]").appName("churn-features")
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def build_snapshots_spark(
    raw_dir: Path,
    as_of_dates: Sequence[date],
    cfg: Config,
    session: SparkSession | None = None,
) -> pd.DataFrame:
    """All snapshots as one pandas frame, computed by Spark (same rows as ``build_snapshots``).

    ``session``: a SparkSession to run on (left running); without one a local session is
    created and stopped afterwards. The session's time zone is set to UTC.
    """
    owned = session is None
    session = session or local_session()
    try:
        con = ibis.pyspark.connect(session)  # also sets spark.sql.session.timeZone=UTC
        tables = load_tables(raw_dir, con)
        expr = snapshots_expr(tables, as_of_dates, cfg.features, cfg.rules)
        frame = con.execute(expr)
    finally:
        if owned:
            session.stop()
    return _catalog_dtypes(frame)


def _catalog_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Spark hands timestamps back in ns; the catalog (and the DuckDB path) says us, UTC."""
    ts = [f.name for f in CATALOG if f.dtype == "ts"]
    return frame.astype({name: "datetime64[us, UTC]" for name in ts}).reset_index(drop=True)
