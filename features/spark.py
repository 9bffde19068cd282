"""The same snapshot expressions, executed on Spark (PySpark) instead of DuckDB.

Why: the feature layer is written once, as engine-neutral Ibis (``features.snapshot``).
This module is the proof that it moves to Spark without a rewrite: it hands
:func:`features.snapshot.snapshots_expr` -- unchanged, the very function the DuckDB path
uses -- a PySpark connection instead of a DuckDB one. Only the plumbing differs: a
SparkSession in UTC, and the raw Parquet files registered as Spark views (Ibis'
``read_parquet``, called by :func:`features.snapshot.load_tables`).
``tests/features/test_spark_engine.py`` checks the Spark result equals the DuckDB one,
column by column. Needs the optional extra: ``pip install -e '.[spark]'`` (and Java 17+).

On a cluster the same module runs under ``spark-submit`` (see the deployment note in
``features/README.md``): :func:`snapshot_dataframe` returns a lazy Spark DataFrame, so
the snapshots are written (or scored, ``serving.spark_batch``) by the executors without
passing through the driver. :func:`build_snapshots_spark` collects to pandas and is only
for tests, small bases and one week's snapshot (``churn weekly --engine spark``).

Both sources run here: the centre's contract, and a subscription + activity source when
the config names one (``features.source``; :mod:`features.generic`, whose expressions get
the same PySpark connection; ``tests/features/test_generic_spark.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from churn.config import Config
from churn.errors import InputError
from features.catalog import CATALOG
from features.contract import TABLES
from features.snapshot import load_tables, snapshots_expr, with_optional_columns
from features.source import source_spec

if TYPE_CHECKING:  # pyspark is imported only when a session is built
    from pyspark.sql import DataFrame, SparkSession

LOCAL_CONF = {
    "spark.sql.session.timeZone": "UTC",  # as_of is 00:00 UTC; day differences in UTC
    "spark.sql.shuffle.partitions": "4",  # small bases: 200 default partitions cost seconds
    "spark.sql.execution.arrow.pyspark.enabled": "true",  # fast toPandas
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def local_session(
    cores: int = 2, driver_memory: str = "1g", conf: dict[str, str] | None = None
) -> SparkSession:
    """A local-mode SparkSession in UTC, tuned for small bases (reuses an active one).

    Python workers (``mapInPandas`` in batch scoring) run this interpreter, so they see
    the same packages as the driver; ``driver_memory`` bounds the JVM (local mode runs
    the executors inside it). Both only take effect when the JVM is started here.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(f"local[{cores}]").appName("churn")
    settings = {**LOCAL_CONF, "spark.driver.memory": driver_memory, **(conf or {})}
    for key, value in settings.items():
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
        spec = source_spec(cfg)
        if spec is not None:  # a subscription + activity source: its own I/O edge
            from features.generic.build import build_snapshots as build_source

            return build_source(spec, Path(raw_dir), as_of_dates, con=con).frame
        tables = load_tables(raw_dir, con)
        expr = snapshots_expr(tables, as_of_dates, cfg.features, cfg.rules)
        frame = con.execute(expr)
    finally:
        if owned:
            session.stop()
    return _catalog_dtypes(frame)


def snapshot_dataframe(
    session: SparkSession, raw_dir: Path | str, as_of_dates: Sequence[date], cfg: Config
) -> DataFrame:
    """The snapshots as a lazy Spark DataFrame (catalog columns; nothing is computed yet).

    The very expression of :func:`build_snapshots_spark`, compiled to Spark SQL over the
    raw Parquet files registered as views; the caller writes or scores it on the
    executors. ``raw_dir`` may be any path Spark reads (a local folder, ``hdfs://``,
    ``s3a://``): Ibis registers it without looking at it.
    """
    con = ibis.pyspark.connect(session)
    spec = source_spec(cfg)
    if spec is not None:  # a subscription + activity source (a local folder)
        from features.generic.build import load_tables as load_source
        from features.generic.signals import snapshots_expr as source_expr

        expr = source_expr(load_source(Path(raw_dir), con), spec, as_of_dates)[0]
    else:
        tables = load_tables_spark(con, raw_dir)
        expr = snapshots_expr(tables, as_of_dates, cfg.features, cfg.rules)
    return session.sql(con.compile(expr))


def load_tables_spark(con: ibis.BaseBackend, raw_dir: Path | str) -> dict[str, Any]:
    """Every contract table over ``<raw_dir>/<table>.parquet``; a local folder is checked
    first (missing files and columns named) by :func:`features.snapshot.load_tables`."""
    if "://" not in str(raw_dir):
        return load_tables(Path(raw_dir), con)
    root = str(raw_dir).rstrip("/")
    return {
        name: with_optional_columns(
            con.read_parquet(f"{root}/{name}.parquet", table_name=f"raw_{name}"), name
        )
        for name in TABLES
    }


def latest_as_of_spark(
    session: SparkSession, raw_dir: Path | str, cfg: Config | None = None
) -> date:
    """The day after the newest event of any event table (as ``features.dates.latest_as_of``),
    computed by Spark, so a cluster job does not read the lake on the driver. For a
    subscription + activity source (``cfg`` names one): the day after its data end
    (:func:`features.generic.build.data_end`, as ``churn score --raw`` on DuckDB)."""
    from datetime import timedelta

    from pyspark.sql import functions as F

    if cfg is not None and source_spec(cfg) is not None:
        from features.generic.build import data_span

        return data_span(Path(raw_dir), ibis.pyspark.connect(session))[1] + timedelta(days=1)
    newest = None
    for name, spec in TABLES.items():
        if not spec.is_event:
            continue
        path = f"{str(raw_dir).rstrip('/')}/{name}.parquet"
        value = session.read.parquet(path).agg(F.max(F.to_date("ts")).alias("d")).first()["d"]
        if value is not None and (newest is None or value > newest):
            newest = value
    if newest is None:
        raise InputError(f"{raw_dir}: the event tables hold no events")
    return newest + timedelta(days=1)


def _catalog_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Spark hands timestamps back in ns; the catalog (and the DuckDB path) says us, UTC."""
    ts = [f.name for f in CATALOG if f.dtype == "ts"]
    return frame.astype({name: "datetime64[us, UTC]" for name in ts}).reset_index(drop=True)
