"""``churn simulate``: exit 0 and a summary on success; a one-line error and a non-zero
exit code for bad arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from features.contract import TABLES


def test_simulate_writes_every_table_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    args = ["simulate", "--clients", "150", "--months", "4", "--seed", "3", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "150 clients" in result.output and "monthly churn rate" in result.output
    assert all((out / f"{name}.parquet").exists() for name in TABLES)


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--clients", "0"), ("--clients", "-5"), ("--months", "0"), ("--seed", "-1")],
)
def test_bad_arguments_exit_non_zero_with_one_line(tmp_path: Path, flag: str, value: str) -> None:
    result = CliRunner().invoke(app, ["simulate", flag, value, "--out", str(tmp_path / "x")])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and flag in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_out_must_be_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("not a dir")
    result = CliRunner().invoke(app, ["simulate", "--clients", "10", "--out", str(target)])
    assert result.exit_code != 0 and "--out" in result.output
