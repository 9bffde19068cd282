"""The reference score: the generator's true horizon probability, keyed by client and as_of."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn.errors import InputError
from simulator.truth import TRUTH_DIR, TRUTH_HORIZON_FILE
from training.pipeline import reference_label, reference_scores


def _write_truth(raw: Path, rows: list[tuple[int, str, float]], horizon_days: int = 90) -> Path:
    (raw / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows, columns=["client_id", "as_of", "probability"])
    frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True).astype("datetime64[us, UTC]")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {b"horizon_days": str(horizon_days).encode(), b"paths": b"32"}
    pq.write_table(table.replace_schema_metadata(meta), raw / TRUTH_DIR / TRUTH_HORIZON_FILE)
    return raw / TRUTH_DIR / TRUTH_HORIZON_FILE


def _snapshots(pairs: list[tuple[int, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": [c for c, _ in pairs],
            # snapshots arrive naive or in another unit: the key is the instant
            "as_of": pd.to_datetime([d for _, d in pairs]).astype("datetime64[ns]"),
        }
    )


def test_probability_of_each_row_by_client_and_as_of(tmp_path: Path) -> None:
    path = _write_truth(
        tmp_path,
        [(1, "2024-01-01", 0.1), (1, "2024-02-01", 0.2), (2, "2024-01-01", 0.5)],
    )
    snaps = _snapshots([(2, "2024-01-01"), (1, "2024-02-01"), (1, "2024-01-01"), (3, "2024-01-01")])
    ref = reference_scores(path, snaps, horizon_days=90)
    assert ref is not None
    np.testing.assert_allclose(ref.probability[:3], [0.5, 0.2, 0.1])
    assert np.isnan(ref.probability[3]) and ref.missing_rows == 1
    assert ref.paths == 32 and ref.horizon_days == 90
    assert ref.label() == (
        "true 90-day churn probability given the state at as_of (Monte Carlo, 32 paths)"
    )
    assert reference_label(60, None).startswith("true 60-day")


def test_the_reference_is_an_explicit_input_and_a_bad_one_is_named(tmp_path: Path) -> None:
    """No file given: no reference, even beside a generated ``_truth/`` folder (training
    reads no folder by convention). A given file that is missing, lacks a column or was
    computed for another horizon is an error naming it."""
    snaps = _snapshots([(1, "2024-01-01")])
    path = _write_truth(tmp_path, [(1, "2024-01-01", 0.1)], horizon_days=60)
    assert reference_scores(None, snaps, horizon_days=90) is None
    with pytest.raises(InputError, match=r"--reference: .* 60-day probabilities.* 90"):
        reference_scores(path, snaps, horizon_days=90)
    with pytest.raises(InputError, match=r"--reference: file not found: .*nope.parquet"):
        reference_scores(tmp_path / "nope.parquet", snaps, horizon_days=90)
    pd.DataFrame({"client_id": [1], "as_of": ["2024-01-01"]}).to_parquet(tmp_path / "p.parquet")
    with pytest.raises(InputError, match=r"has no column\(s\) probability"):
        reference_scores(tmp_path / "p.parquet", snaps, horizon_days=90)


def test_churn_day_is_the_next_churn_from_as_of_of_a_positive_type(tmp_path: Path) -> None:
    """A client who left and resumed before as_of counts from its next churn on."""
    from training.pipeline import churn_days

    events = pd.DataFrame(
        {
            "client_id": [1, 1, 2, 3],
            "ts": pd.to_datetime(
                ["2024-01-10", "2024-03-05", "2024-03-01", "2024-03-20"], utc=True
            ),
            "churn_type": ["suspension", "termination", "debt_suspension", "termination"],
        }
    )
    events.to_parquet(tmp_path / "churn_events.parquet", index=False)
    snaps = _snapshots([(1, "2024-03-01"), (2, "2024-03-01"), (3, "2024-03-01"), (4, "2024-03-01")])
    np.testing.assert_allclose(churn_days(tmp_path, snaps), [4, 0, 19, np.nan])
    only_terminations = churn_days(tmp_path, snaps, ["termination"])
    np.testing.assert_allclose(only_terminations, [4, np.nan, 19, np.nan])
