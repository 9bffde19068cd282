"""Snapshot files record the digest of the raw directory they were built from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from churn.errors import InputError
from features import provenance


def test_snapshot_file_records_its_raw_digest(small_raw: Path, small_snapshots: Path) -> None:
    rec = provenance.recorded(small_snapshots)
    assert rec[provenance.RAW_DIGEST_KEY] == provenance.raw_digest(small_raw)
    assert rec[provenance.RAW_DIR_KEY] == str(small_raw.resolve())
    assert provenance.check(small_snapshots, small_raw) == "matches"
    assert len(pd.read_parquet(small_snapshots)) > 0  # still an ordinary Parquet file


def test_digest_follows_content_not_location(small_raw: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(small_raw, copy)
    assert provenance.raw_digest(copy) == provenance.raw_digest(small_raw)
    churn = pd.read_parquet(copy / "churn_events.parquet")
    churn.iloc[1:].to_parquet(copy / "churn_events.parquet", index=False)  # one event less
    changed = provenance.raw_digest(copy)
    assert changed != provenance.raw_digest(small_raw)
    # the same edit with the same row count: a changed value shows in the footer's statistics
    shutil.copy(small_raw / "churn_events.parquet", copy / "churn_events.parquet")
    churn["ts"] = churn["ts"].where(
        churn.index != churn["ts"].idxmax(), churn["ts"].max() + pd.Timedelta(days=1)
    )
    churn.to_parquet(copy / "churn_events.parquet", index=False)
    assert provenance.raw_digest(copy) not in (changed, provenance.raw_digest(small_raw))


def test_digest_ignores_the_generators_truth(small_raw: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(small_raw, copy)
    (copy / "_truth").mkdir(exist_ok=True)
    pd.DataFrame({"x": [1]}).to_parquet(copy / "_truth" / "extra.parquet")
    assert provenance.raw_digest(copy) == provenance.raw_digest(small_raw)


def test_mismatch_is_an_error_naming_both(small_raw: Path, small_snapshots: Path, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(small_raw, other)
    logins = pd.read_parquet(other / "logins.parquet")
    logins.iloc[:-1].to_parquet(other / "logins.parquet", index=False)
    with pytest.raises(InputError, match=r"built from other raw data than .*other") as err:
        provenance.check(small_snapshots, other)
    assert str(small_raw.resolve()) in str(err.value) and "churn features" in str(err.value)


def test_unstamped_file_is_not_recorded_and_stamp_adds_it(small_raw: Path, tmp_path: Path):
    path = tmp_path / "hand.parquet"
    pd.DataFrame({"client_id": [1, 2]}).to_parquet(path, index=False)
    assert provenance.check(path, small_raw) == "not recorded"
    provenance.stamp(path, small_raw)
    assert provenance.check(path, small_raw) == "matches"
    assert pd.read_parquet(path)["client_id"].tolist() == [1, 2]


def test_not_parquet_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "t.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="t.parquet"):
        provenance.raw_digest(tmp_path)
