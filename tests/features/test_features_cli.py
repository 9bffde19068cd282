"""``churn features``: which dates it builds, what it prints, and bad input (one-line errors)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from tiny_base import AS_OF, write_tiny_base
from typer.testing import CliRunner

from churn.errors import InputError
from cli.main import app
from features.dates import as_of_dates, latest_as_of

runner = CliRunner()
TODAY = date(2026, 1, 15)


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_base(tmp_path_factory.mktemp("cli") / "raw")


def test_latest_as_of_is_the_day_after_the_newest_event(raw: Path) -> None:
    # the newest event is the churn of client 1 on 2025-08-01
    assert latest_as_of(raw) == date(2025, 8, 2)


def test_data_span_from_footers_equals_a_scan(raw: Path, tmp_path: Path) -> None:
    """The footer statistics give the scan's answer; a file without statistics (or with the
    newest event in a later row group, or with no rows) is read correctly too."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from features.dates import _event_paths, _scanned_span, data_span

    assert data_span(raw) == _scanned_span(_event_paths(raw))
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    logins = pq.read_table(copy / "logins.parquet").sort_by([("ts", "descending")])
    pq.write_table(logins, copy / "logins.parquet", write_statistics=False)
    assert data_span(copy) == data_span(raw)
    late = logins.slice(0, 1)  # one login a week after every other event, in row group 2
    ts = late.column("ts").to_pylist()[0].replace(year=2025, month=8, day=9)
    ts_type = late.schema.field("ts").type
    late = late.set_column(late.schema.get_field_index("ts"), "ts", pa.array([ts], ts_type))
    both = pa.concat_tables([logins.slice(1), late])
    pq.write_table(both, copy / "logins.parquet", row_group_size=len(logins) - 1)
    assert pq.ParquetFile(copy / "logins.parquet").metadata.num_row_groups == 2
    assert data_span(copy) == (data_span(raw)[0], date(2025, 8, 9))
    clicks = pq.read_table(copy / "video_clicks.parquet")
    pq.write_table(clicks.slice(0, 0), copy / "video_clicks.parquet")  # no rows: no span
    assert data_span(copy) == _scanned_span(_event_paths(copy))


def test_date_rules(raw: Path) -> None:
    assert as_of_dates(raw, "2025-06-01", None, None, TODAY) == [AS_OF]
    assert as_of_dates(raw, None, None, None, TODAY) == [date(2025, 8, 2)]
    assert as_of_dates(raw, "2025-04-15", "2025-06-01", "month", TODAY) == [
        date(2025, 4, 15),
        date(2025, 5, 1),
        date(2025, 6, 1),
    ]
    # first activity: the webinar of 2024-12-02 (trainings, users, invoices reach further
    # back); + 90 days of login window -> April 2025 .. the month after 2025-08-01
    monthly = as_of_dates(raw, None, None, "month", TODAY, warmup_days=90)
    assert monthly == [date(2025, m, 1) for m in range(4, 10)]
    assert as_of_dates(raw, None, None, "month", TODAY, warmup_days=1)[0] == date(2025, 1, 1)
    # data running up to today: the last snapshot is the day after the newest event
    late = as_of_dates(raw, None, None, "month", date(2025, 8, 20))
    assert late[-2:] == [date(2025, 8, 1), date(2025, 8, 2)]


def test_cli_writes_one_file_with_every_month(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "snap.parquet"
    args = ["features", "--raw", str(raw), "--out", str(out), "--as-of", "2025-05-01"]
    result = runner.invoke(app, [*args, "--to", "2025-06-01", "--every", "month"])
    assert result.exit_code == 0, result.output
    snap = pd.read_parquet(out)
    assert snap.groupby("as_of")["client_id"].apply(sorted).tolist() == [[1, 2, 3, 4], [1, 2, 4]]
    assert "wrote 7 rows, 2 snapshot(s)" in result.output
    assert (
        "latest snapshot 2025-06-01: 3 active clients; rule_band: high 3, dynamic 0, no_threat 0"
        in result.output
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2025-13-01"], "--as-of: expected a date YYYY-MM-DD"),
        (["--as-of", "01.06.2025"], "--as-of: expected a date YYYY-MM-DD"),
        (
            ["--as-of", "2025-05-01", "--to", "2025-02-30", "--every", "month"],
            "--to: expected a date",
        ),
        (["--as-of", "2999-01-01"], "--as-of: 2999-01-01 is in the future"),
        (
            ["--as-of", "2025-05-01", "--to", "2999-01-01", "--every", "month"],
            "--to: 2999-01-01 is in the future",
        ),
        (["--as-of", "2020-01-01"], "--as-of: 2020-01-01 is not after the first activity event"),
        (["--as-of", "2025-05-01", "--every", "week"], "--every: only 'month'"),
        (["--as-of", "2025-05-01", "--to", "2025-06-01"], "--to: needs --every month"),
        (
            ["--as-of", "2025-06-01", "--to", "2025-05-01", "--every", "month"],
            "--to: 2025-05-01 is before",
        ),
    ],
)
def test_bad_dates_fail_with_one_line(
    raw: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(
        app, ["features", "--raw", str(raw), "--out", str(tmp_path / "o.parquet"), *args]
    )
    assert result.exit_code == InputError.exit_code
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o.parquet").exists()


def test_missing_dir_and_missing_table(raw: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = runner.invoke(
        app, ["features", "--raw", str(missing), "--out", str(tmp_path / "o.parquet")]
    )
    assert result.exit_code != 0
    assert f"raw data directory not found: {missing}" in result.output
    broken = write_tiny_base(tmp_path / "broken")
    (broken / "logins.parquet").unlink()
    result = runner.invoke(
        app, ["features", "--raw", str(broken), "--out", str(tmp_path / "o.parquet")]
    )
    assert result.exit_code != 0
    assert "table logins: file not found" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_column_is_named(tmp_path: Path) -> None:
    broken = write_tiny_base(tmp_path / "broken")
    df = pd.read_parquet(broken / "invoices.parquet").drop(columns="paid_ts")
    df.to_parquet(broken / "invoices.parquet")
    result = runner.invoke(
        app,
        [
            "features",
            "--raw",
            str(broken),
            "--out",
            str(tmp_path / "o.parquet"),
            "--as-of",
            "2025-06-01",
        ],
    )
    assert result.exit_code != 0
    assert "table invoices: missing column(s) paid_ts" in result.output
