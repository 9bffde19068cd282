"""Compile the snapshot expression to Spark SQL, without a Spark runtime.

``churn spark-sql [--as-of YYYY-MM-DD]`` prints the Spark SQL of one snapshot over
tables named as in the raw-data contract. It is the proof that the feature layer is
engine-neutral: the same Ibis expression DuckDB runs compiles for Spark. (Run it on Spark
with ``spark.sql.session.timeZone=UTC`` and the as_of memtable registered as a view.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import ibis
import ibis.config
import ibis.expr.types as ir

from churn.config import Config


class _PySparkOptions(ibis.config.Config):
    """The options the PySpark compiler reads; normally registered by importing pyspark."""

    treat_nan_as_null: bool = False


@contextmanager
def _pyspark_options() -> Iterator[None]:
    previous = ibis.options.pyspark
    if previous is None:
        ibis.options.pyspark = _PySparkOptions()
    try:
        yield
    finally:
        ibis.options.pyspark = previous


def to_spark_sql(expr: ir.Table) -> str:
    """Spark SQL for an Ibis expression."""
    with _pyspark_options():
        return ibis.to_sql(expr, dialect="pyspark")


def snapshot_spark_sql(cfg: Config, as_of: date) -> str:
    """The Spark SQL of the snapshot as of ``as_of`` over the contract's table names."""
    from features.snapshot import snapshot_expr, unbound_tables

    return to_spark_sql(snapshot_expr(unbound_tables(), as_of, cfg.features, cfg.rules))
