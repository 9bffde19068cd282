"""What batch and the service load: snapshots by as_of, from a file or built from raw."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.errors import InputError, NotFound
from serving.loading import index_snapshots, load_snapshots


def test_snapshot_built_from_raw_equals_the_stored_one(session_config, small_raw, small_snapshots):
    stored = load_snapshots(session_config, features_file=small_snapshots)
    built = load_snapshots(session_config, raw=small_raw)
    assert built.latest == stored.latest
    a, b = built.get(), stored.get(built.latest)
    assert a.index.equals(b.index)
    pd.testing.assert_frame_equal(a, b[a.columns], check_dtype=False)


def test_every_as_of_is_kept_and_latest_is_default(session_config, small_snapshots):
    snaps = load_snapshots(session_config, features_file=small_snapshots)
    raw = pd.read_parquet(small_snapshots)
    assert len(snaps.by_as_of) == raw["as_of"].nunique() > 1
    assert snaps.get()["as_of"].iloc[0] == raw["as_of"].max()
    first = min(snaps.by_as_of)
    assert snaps.get(first.date().isoformat())["as_of"].eq(first).all()
    assert snaps.get().index.is_unique and snaps.get().index.is_monotonic_increasing


def test_unknown_or_bad_as_of(session_config, small_snapshots):
    snaps = load_snapshots(session_config, features_file=small_snapshots)
    with pytest.raises(NotFound, match="as_of"):
        snaps.get("1999-01-01")
    with pytest.raises(InputError, match="as_of"):
        snaps.get("next tuesday")


def test_bad_files_are_named(session_config, tmp_path):
    with pytest.raises(NotFound, match="nope.parquet"):
        load_snapshots(session_config, features_file=tmp_path / "nope.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(InputError, match="junk.parquet"):
        load_snapshots(session_config, features_file=junk)
    with pytest.raises(InputError, match="as_of"):
        index_snapshots(pd.DataFrame({"client_id": [1]}), "frame")
