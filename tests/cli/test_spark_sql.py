"""``churn spark-sql``: the snapshot compiled for Spark, printed by the CLI (the library
returns the text; ``features/spark_sql.py`` prints nothing)."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app


def test_prints_the_spark_sql_of_one_snapshot() -> None:
    result = CliRunner().invoke(app, ["spark-sql", "--as-of", "2025-06-01"])
    assert result.exit_code == 0, result.output
    assert "SELECT" in result.output.upper() and "2025-06-01" in result.output
    bad = CliRunner().invoke(app, ["spark-sql", "--as-of", "June"])
    assert bad.exit_code == 2 and "--as-of: expected a date" in bad.stderr
