"""Batch scoring on Spark: ``churn score --engine spark``.

The snapshot is built on Spark (``features.spark.snapshot_dataframe``: the same Ibis
expression as DuckDB) and scored on the executors: the champion's
:class:`~training.model.ChurnModel` (booster, calibrator, categorical levels) is
broadcast once, and ``mapInPandas`` calls :func:`serving.batch.scored_rows` -- the very
function of the DuckDB path -- on each Arrow batch of each partition. Nothing is
collected on the driver; the scores are written as Parquet partitioned by ``as_of``
(a date) and, for a network export (``clients.centre_id``), by ``centre_id``.
``tests/serving/test_spark_batch.py`` checks the probabilities equal the DuckDB path to
1e-9 for every client of a generated base, with and without centres.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from churn.config import Config, RulesConfig
from churn.errors import InputError
from serving.batch import band_summary, scored_rows
from serving.loading import load_model
from training.model import ChurnModel

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Spark schema of serving.batch.SCORED_COLUMNS (same order).
SCORED_SCHEMA = (
    "client_id long, centre_id string, name string, as_of timestamp, probability double, "
    "risk_band string, "
    "contact_index double, rule_band string, model_version string"
)

log = logging.getLogger(__name__)


@dataclass
class SparkScoreSummary:
    rows: int
    as_of: str
    model_version: str
    out: str
    bands: dict[str, int]


def score_dataframe(
    snapshots: DataFrame, model: ChurnModel, model_version: str, rules: RulesConfig
) -> DataFrame:
    """Scores of every snapshot row, computed on the executors (lazy)."""
    shared = snapshots.sparkSession.sparkContext.broadcast(model)
    version = str(model_version)

    def score(batches):  # noqa: ANN001, ANN202 - runs in the Python workers
        for batch in batches:
            yield scored_rows(shared.value, batch, version, rules)

    return snapshots.mapInPandas(score, schema=SCORED_SCHEMA)


def write_scores(scores: DataFrame, out: str, *, by_centre: bool = False) -> None:
    """Parquet under ``out``, one folder per ``as_of=YYYY-MM-DD`` (overwritten) and, for a
    network (``by_centre``), one per ``centre_id=...`` inside it: each centre reads its own."""
    from pyspark.sql import functions as F

    dated = scores.withColumn("as_of", F.to_date("as_of"))
    keys = ["as_of", "centre_id"] if by_centre else ["as_of"]
    dated.write.mode("overwrite").partitionBy(*keys).parquet(out)


def raw_has_centres(session: SparkSession, raw: Path | str) -> bool:
    """True when the raw clients table has the optional ``centre_id`` column (its schema
    only: nothing is computed)."""
    return "centre_id" in session.read.parquet(f"{str(raw).rstrip('/')}/clients.parquet").columns


def latest_snapshot(snapshots: DataFrame) -> DataFrame:
    """Rows of the newest as_of (what the DuckDB path scores from a features file)."""
    from pyspark.sql import functions as F

    newest = snapshots.agg(F.max("as_of").alias("m")).first()["m"]
    if newest is None:
        raise InputError("features: no rows")
    return snapshots.filter(F.col("as_of") == F.lit(newest))


def run_score_spark(
    cfg: Config,
    *,
    out: Path | str,
    raw: Path | str | None = None,
    features_file: Path | str | None = None,
    alias: str | None = None,
    session: SparkSession | None = None,
) -> SparkScoreSummary:
    """Build (from ``raw``, as of its newest event) or read (``features_file``, latest
    as_of) the snapshot on Spark, score it with the aliased model, write partitioned
    Parquet. ``session``: an existing SparkSession (left running, as is an active one that
    ``local_session`` picks up); else a local one, stopped afterwards."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from features.spark import latest_as_of_spark, local_session, snapshot_dataframe

    if (raw is None) == (features_file is None):
        raise InputError("score --engine spark: give exactly one of --raw DIR or --features FILE")
    loaded = load_model(cfg, alias)
    owned = session is None and SparkSession.getActiveSession() is None  # stop only our own
    session = session or local_session()
    try:
        session.conf.set("spark.sql.session.timeZone", "UTC")
        if raw is not None:
            if "://" not in str(raw) and not Path(raw).is_dir():
                raise InputError(f"--raw: directory not found: {raw}")
            as_of = latest_as_of_spark(session, raw, cfg)
            snapshots = snapshot_dataframe(session, raw, [as_of], cfg)
            # a subscription + activity source has no centres (nor the centre's clients table)
            by_centre = cfg.features.source is None and raw_has_centres(session, raw)
        else:
            if "://" not in str(features_file) and not Path(features_file).is_file():
                raise InputError(f"--features: file not found: {features_file}")
            snapshots = latest_snapshot(session.read.parquet(str(features_file)))
            by_centre = "centre_id" in snapshots.columns and (
                snapshots.filter(F.col("centre_id").isNotNull()).limit(1).count() > 0
            )
        scores = score_dataframe(snapshots, loaded.model, loaded.version, cfg.rules)
        write_scores(scores, str(out), by_centre=by_centre)
        written = session.read.parquet(str(out))
        bands = {
            r["risk_band"]: int(r["n"])
            for r in written.groupBy("risk_band").agg(F.count("*").alias("n")).collect()
        }
        day = written.agg(F.max("as_of").alias("d")).first()["d"]
    finally:
        if owned:
            session.stop()
    summary = SparkScoreSummary(sum(bands.values()), str(day), str(loaded.version), str(out), bands)
    log.info(
        f"scored {summary.rows} clients as of {summary.as_of} on Spark with model version "
        f"{loaded.version} ({loaded.alias}) -> {out}/as_of=... ({band_summary(bands)})"
    )
    return summary
