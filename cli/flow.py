"""The flow commands: ``validate → features/rules → train/models/promote → score/call-list
→ serve``, in the order data moves (``churn simulate``, the data's stand-in source, is in
``cli/simulate.py``)."""

from __future__ import annotations

from pathlib import Path

import typer

from churn.tracking import setup_mlflow
from cli.base import app, friendly, parse_date
from cli.base import config as _config


@app.command()
@friendly
def validate(raw_dir: Path = typer.Argument(..., help="directory of raw Parquet tables")) -> None:
    """Check every table and cross-table rule; list all violations."""
    cfg = _config()
    if cfg.features.source is not None:  # a subscription + activity source
        from features.source import run_validate_source

        run_validate_source(cfg, raw_dir, say=typer.echo)
        return
    from features.schema import run_validate

    run_validate(cfg, raw_dir, say=typer.echo)


@app.command()
@friendly
def features(
    raw: Path | None = typer.Option(None, help="raw data directory"),
    out: Path | None = typer.Option(None, help="snapshot Parquet file"),
    as_of: str | None = typer.Option(None, "--as-of", help="YYYY-MM-DD (default: newest event)"),
    to: str | None = typer.Option(None, "--to", help="YYYY-MM-DD: last as_of of a range"),
    every: str | None = typer.Option(None, "--every", help="'month' with --to"),
) -> None:
    """Build point-in-time client snapshots (one row per active client per as_of)."""
    from features.build import run_features

    cfg = _config()
    written = run_features(
        cfg,
        raw=raw or cfg.paths.raw_dir,
        out=out or cfg.paths.features_path,
        as_of=as_of,
        to=to,
        every=every,
    )
    typer.echo("\n".join(written.lines()))


@app.command("spark-sql")
@friendly
def spark_sql(
    as_of: str | None = typer.Option(None, "--as-of", help="YYYY-MM-DD (default: today)"),
) -> None:
    """Print the Spark SQL of one snapshot (the feature layer compiled for Spark)."""
    from datetime import date

    from cli.base import parse_date
    from features.spark_sql import snapshot_spark_sql

    day = parse_date(as_of, "--as-of") if as_of else date.today()
    typer.echo(snapshot_spark_sql(_config(), day))


@app.command()
@friendly
def rules(
    flags: Path = typer.Option(..., help="CSV of yes/no flags (acceptance format)"),
    out: Path = typer.Option(..., help="output CSV with contact_index and rule_band"),
) -> None:
    """Score a table of yes/no flags with the documented contact-necessity index."""
    from features.rules import run_rules_csv

    typer.echo(run_rules_csv(_config(), flags, out))


@app.command()
@friendly
def train(
    raw: Path | None = typer.Option(None, help="raw data directory (builds snapshots)"),
    features_file: Path | None = typer.Option(None, "--features", help="snapshot Parquet file"),
    table: Path | None = typer.Option(None, help="any flat client table (CSV/Parquet)"),
    target: str | None = typer.Option(None, help="target column for --table"),
    positive: str | None = typer.Option(None, help="positive value of --target"),
    id_col: str | None = typer.Option(None, "--id", help="id column for --table (dropped)"),
    cv: int = typer.Option(5, help="folds for --table"),
    trials: int | None = typer.Option(None, help="Optuna trials (overrides config)"),
    report: Path | None = typer.Option(None, help="write the JSON report here"),
    reference: Path | None = typer.Option(
        None,
        help="true horizon probabilities to evaluate beside (client_id, as_of, probability; "
        "the generator's _truth/horizon_probability.parquet)",
    ),
) -> None:
    """Train LightGBM + Optuna next to the rule indicator, evaluate, register in MLflow."""
    cfg = _config()
    if trials is not None:  # --trials is per outer fold in table mode
        key = "training__table_trials" if table is not None else "training__n_trials"
        cfg = cfg.override(**{key: trials})
    if table is not None:
        from training.table_mode import run_table_mode, summary_lines

        out = run_table_mode(
            cfg, table=table, target=target, positive=positive, id_col=id_col, cv=cv, report=report
        )
        typer.echo("\n".join(summary_lines(out)))
        return
    setup_mlflow(cfg)
    from training.pipeline import metrics_table, run_train

    out = run_train(cfg, raw=raw, features_file=features_file, report=report, reference=reference)
    typer.echo(metrics_table(out))


@app.command()
@friendly
def models() -> None:
    """List registered versions, aliases and their test metrics."""
    cfg = _config()
    setup_mlflow(cfg)
    from training.registry import models_text

    typer.echo(models_text(cfg))


@app.command()
@friendly
def promote(
    version: int = typer.Option(..., help="model version to promote"),
    alias: str = typer.Option("champion", help="alias to move"),
    reason: str | None = typer.Option(None, help="why (stored on the version in the registry)"),
    by: str | None = typer.Option(None, help="who (default: the login name)"),
) -> None:
    """Move an alias (default champion) to a version by hand; who and why go to the registry."""
    cfg = _config()
    setup_mlflow(cfg)
    from training.registry import promote_version

    typer.echo(promote_version(cfg, version=version, alias=alias, reason=reason, by=by))


@app.command()
@friendly
def score(
    features_file: Path | None = typer.Option(None, "--features", help="snapshot Parquet file"),
    raw: Path | None = typer.Option(None, help="raw directory: build the snapshot first"),
    out: Path = typer.Option(..., help="output Parquet file (a directory with --engine spark)"),
    alias: str | None = typer.Option(None, help="registry alias (default from config)"),
    engine: str = typer.Option("duckdb", help="duckdb (one file) or spark (partitioned dir)"),
) -> None:
    """Batch-score the latest snapshot with the champion model."""
    cfg = _config()
    setup_mlflow(cfg)
    if engine == "spark":
        from serving.spark_batch import run_score_spark

        run_score_spark(cfg, out=out, raw=raw, features_file=features_file, alias=alias)
        return
    if engine != "duckdb":
        from churn.errors import InputError

        raise InputError(f"--engine: unknown engine {engine!r}; expected duckdb or spark")
    from serving.batch import run_score

    run_score(cfg, features_file=features_file, out=out, alias=alias, raw=raw)


@app.command("call-list")
@friendly
def call_list(
    out: Path = typer.Option(..., help="output CSV (Parquet by suffix)"),
    raw: Path | None = typer.Option(None, help="raw-data directory (default paths.raw_dir)"),
    as_of: str | None = typer.Option(
        None, "--as-of", help="YYYY-MM-DD (default: the day after the newest event)"
    ),
    capacity: int | None = typer.Option(
        None, help="calls the specialists can make (default serving.default_capacity)"
    ),
    alias: str | None = typer.Option(None, help="registry alias (default champion)"),
) -> None:
    """A dry run of `churn weekly`: the same week's call list (holdout included) as CSV;
    nothing is stored."""
    from serving.weekly import dry_run

    cfg = _config()
    setup_mlflow(cfg)
    day = parse_date(as_of, "--as-of") if as_of else None
    summary, table = dry_run(
        cfg, raw or Path(cfg.paths.raw_dir), out, as_of=day, alias=alias, capacity=capacity
    )
    for line in summary.lines(cfg.serving.language)[:-1]:
        typer.echo(line)
    typer.echo(f"dry run: nothing stored; call list ({len(table)} rows) -> {out}")


@app.command()
@friendly
def serve(
    port: int | None = typer.Option(None, help="port (default from config)"),
    host: str | None = typer.Option(
        None, help="address to bind (default serving.host: 127.0.0.1; 0.0.0.0 for all)"
    ),
    alias: str | None = typer.Option(None, help="registry alias"),
) -> None:
    """Start the BentoML service over the weeks `churn weekly` stored (scores,
    explanations, call list, /ui)."""
    cfg = _config()
    setup_mlflow(cfg)
    from serving.run import run_serve

    run_serve(cfg, port=port, host=host, alias=alias)
