"""Nothing changes for the model: snapshots equal the ones written before the signal spec.

The digests in ``golden/`` (one hash per column, ``golden.py``) were written from the
snapshots the hand-written signal modules built, before the spec (``configs/signals.yaml``)
replaced them (issue 19). The fast test uses the session's small generated base; the slow
one regenerates the demo base (``make demo`` settings: 3 000 clients, 24 months, seed 42).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from golden import compare

from churn.config import Config
from features.build import run_features
from simulator.config import SimulateConfig

GOLDEN = Path(__file__).with_name("golden")


def test_small_base_snapshots_equal_the_golden(small_snapshots: Path) -> None:
    problems = compare(pd.read_parquet(small_snapshots), GOLDEN / "small_800_seed7.json")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_demo_base_snapshots_equal_the_golden(
    session_config: Config, base_sim: SimulateConfig, tmp_path: Path
) -> None:
    from simulator.generate import simulate

    cfg = session_config
    # the reference is not part of the raw tables
    sim = base_sim.override(clients=3000, months=24, seed=42, reference__paths=0)
    raw, out = tmp_path / "raw", tmp_path / "snap.parquet"
    simulate(sim, raw)
    run_features(cfg, raw=raw, out=out, as_of=None, to=None, every="month")
    problems = compare(pd.read_parquet(out), GOLDEN / "demo_3000_seed42.json")
    assert not problems, "\n".join(problems)
