"""Compile the snapshot expression to Spark SQL, without a Spark runtime.

``python -m features.spark_sql [YYYY-MM-DD]`` prints the Spark SQL of one snapshot over
tables named as in the raw-data contract. It is the proof that the feature layer is
engine-neutral: the same Ibis expression DuckDB runs compiles for Spark. (Run it on Spark
with ``spark.sql.session.timeZone=UTC`` and the as_of memtable registered as a view.)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import ibis
import ibis.config
import ibis.expr.types as ir


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


def main(argv: list[str]) -> None:
    from churn.config import load_config
    from features.snapshot import snapshot_expr, unbound_tables

    cfg = load_config()
    as_of = date.fromisoformat(argv[0]) if argv else date.today()
    print(to_spark_sql(snapshot_expr(unbound_tables(), as_of, cfg.features, cfg.rules)))


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
