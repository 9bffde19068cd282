"""The generic source's signals as a signal spec (features/generic/catalog.py): known from
the spec alone, the same columns the snapshot has, and words for every signal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from churn.config import load_config
from churn.errors import InputError
from features.catalog import Feature, catalog, spec_of
from features.generic.build import build_snapshots
from features.generic.catalog import signal_spec
from features.generic.load import import_source
from features.generic.spec import load_spec
from simulator.generic import GenericSimConfig, write

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "configs" / "sources" / "generic_demo.yaml"
GENERIC_CONFIG = ROOT / "configs" / "generic" / "default.yaml"


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("generic_catalog")
    write(GenericSimConfig(customers=120, months=8, seed=3), d / "export")
    import_source(load_spec(SPEC), d / "export", d / "raw")
    return d / "raw"


def test_the_generic_config_generates_its_spec_from_the_source():
    cfg = load_config(GENERIC_CONFIG)
    assert cfg.features.source is not None and cfg.features.source.resolve() == SPEC.resolve()
    spec = spec_of(cfg)
    names = spec.names
    assert names[:3] == ["client_id", "name", "as_of"]
    for t in ("login", "export", "support_ticket"):
        assert f"{t}_n_30d" in names and f"{t}_days_since_last" in names and f"{t}_trend" in names
    assert "export_value_30d" in names and "login_value_30d" not in names  # value_types
    assert "active_user_share" in names  # the events declare a user column
    assert spec_of(load_config()).names != names  # the centre's config: its own spec


def test_columns_match_the_built_snapshot_in_order(raw):
    spec = load_spec(SPEC)
    frame = build_snapshots(spec, raw, [date(2024, 6, 1)]).frame
    assert list(frame.columns) == signal_spec(spec).names


def test_catalog_model_inputs_labels_and_groups_have_words():
    cfg = load_config(GENERIC_CONFIG)
    cat = catalog(spec_of(cfg))
    by = {f.name: f for f in cat}
    model = [f.name for f in cat if f.model]
    assert "monthly_fee_rub" not in model and "name" not in model and "client_id" not in model
    assert by["plan"].categorical and by["plan"].model
    assert by["login_n_30d"].label_en == "logins in the last 30 days"
    assert by["login_n_30d"].label_ru == "входы в систему за 30 дн."
    assert by["login_days_since_last"].risk == "up" and by["login_n_30d"].risk == "down"
    assert by["days_to_renewal"].group == "timing"
    for lang in cfg.languages():
        reasons = cfg.reasons_in(lang)
        for f in cat:
            if f.model:
                assert f.group in reasons.groups, (lang, f.name, f.group)
                assert f.kind in reasons.kinds, (lang, f.name, f.kind)
    assert all(isinstance(f, Feature) and f.definition for f in cat)


def test_types_must_be_declared_for_the_loop():
    spec = load_spec(SPEC).with_(activity_types=None, value_types=None)
    with pytest.raises(InputError, match="activity_types"):
        signal_spec(spec)


def test_value_types_outside_the_declared_types_are_refused(tmp_path):
    text = SPEC.read_text(encoding="utf-8").replace(
        "value_types: [export]", "value_types: [export, refund]"
    )
    p = tmp_path / "spec.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="value_types"):
        load_spec(p)


def test_undeclared_types_are_reported_and_ignored(raw, tmp_path, caplog):
    acts = pd.read_parquet(raw / "activities.parquet")
    extra = acts.head(5).assign(activity_type="refund")
    other = tmp_path / "raw"
    other.mkdir()
    for f in raw.glob("*.parquet"):
        (other / f.name).write_bytes(f.read_bytes())
    pd.concat([acts, extra], ignore_index=True).to_parquet(other / "activities.parquet")
    spec = load_spec(SPEC)
    with caplog.at_level("WARNING", logger="features.generic.build"):
        frame = build_snapshots(spec, other, [date(2024, 6, 1)]).frame
    assert "'refund' (5 rows)" in caplog.text
    assert not any(c.startswith("refund") for c in frame.columns)
    same = build_snapshots(spec, raw, [date(2024, 6, 1)]).frame
    pd.testing.assert_frame_equal(frame, same)


def test_monthly_fee_is_amount_over_the_billing_period(raw):
    frame = build_snapshots(load_spec(SPEC), raw, [date(2024, 6, 1)]).frame
    assert (
        (frame["monthly_fee_rub"] * frame["billing_period_months"])
        .round(6)
        .equals(frame["amount"].round(6))
    )
    assert datetime(2024, 6, 1, tzinfo=UTC) == frame["as_of"].iloc[0]
