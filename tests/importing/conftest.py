"""A small generated base with names, and its CRM export (written by ``churn export-crm``'s
library function), shared by the import tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from importing.export import export_crm
from importing.mapping import Mapping, load_mapping
from simulator.config import load_simulate_config

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "configs" / "mappings" / "crm_report.yaml"


@pytest.fixture(scope="session")
def mapping() -> Mapping:
    return load_mapping(MAPPING)


@pytest.fixture(scope="session")
def named_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulator.generate import simulate

    cfg = load_simulate_config().override(
        clients=150, months=5, seed=11, names=True, reference__paths=0
    )
    out = tmp_path_factory.mktemp("named") / "raw"
    simulate(cfg, out)
    return out


@pytest.fixture(scope="session")
def crm_export(named_raw: Path, mapping: Mapping, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("crm") / "export"
    export_crm(named_raw, mapping, out)
    return out
