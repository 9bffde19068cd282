"""``simulate.yaml: shift``: from the shift month on, logins (and requests) follow their factors;
before it the base is the unshifted one, row for row; a factor of 1 changes no byte."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sim_helpers import small_cfg

from simulator.config import ShiftConfig, SimulateConfig
from simulator.generate import simulate

AFTER = date(2024, 5, 1)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


@pytest.fixture(scope="module")
def bases(base_sim: SimulateConfig, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shift")
    plain = small_cfg(base_sim, clients=600, months=7, seed=9)
    shifted = plain.model_copy(update={"shift": ShiftConfig(after=AFTER, logins_factor=0.4,
                                                            requests_factor=2.0)})  # fmt: skip
    unity = plain.model_copy(update={"shift": ShiftConfig(after=AFTER)})
    for name, cfg in (("plain", plain), ("shifted", shifted), ("unity", unity)):
        simulate(cfg, root / name)
    return {name: root / name for name in ("plain", "shifted", "unity")}


def test_factor_one_is_the_same_bytes(bases: dict[str, Path]) -> None:
    assert _hashes(bases["unity"]) == _hashes(bases["plain"])


def _monthly(raw: Path, table: str) -> pd.Series:
    ts = pd.read_parquet(raw / f"{table}.parquet", columns=["ts"])["ts"]
    return ts.dt.tz_localize(None).dt.to_period("M").value_counts().sort_index()


def test_shift_changes_rates_from_its_month_only(bases: dict[str, Path]) -> None:
    after = pd.Timestamp(AFTER, tz="UTC")
    for table in ("logins", "service_requests"):
        plain = pd.read_parquet(bases["plain"] / f"{table}.parquet")
        shifted = pd.read_parquet(bases["shifted"] / f"{table}.parquet")
        before_p, before_s = plain[plain["ts"] < after], shifted[shifted["ts"] < after]
        pd.testing.assert_frame_equal(
            before_p.reset_index(drop=True), before_s.reset_index(drop=True)
        )
    for table, factor in (("logins", 0.4), ("service_requests", 2.0)):
        plain, shifted = _monthly(bases["plain"], table), _monthly(bases["shifted"], table)
        first = pd.Period(AFTER, "M")
        ratio = shifted[shifted.index >= first].sum() / plain[plain.index >= first].sum()
        # churn also moves with the signals, so the ratio is near, not at, the factor
        assert ratio == pytest.approx(factor, rel=0.15), (table, ratio)


def test_unknown_rate_is_refused(bases: dict[str, Path]) -> None:
    from simulator.shift import factor

    with pytest.raises(ValueError, match="unknown rate 'webinars'"):
        factor(None, "webinars")  # type: ignore[arg-type]
