"""The signal spec is validated at load: every refusal names the entry (issue 19, item 6)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from churn.config import load_config
from churn.errors import InputError
from features.catalog import COLUMNS, SPEC
from features.spec import load_spec, parse_spec

SPEC_FILE = load_config().features.signals


@pytest.fixture(scope="module")
def raw_spec() -> dict[str, Any]:
    return yaml.safe_load(Path(SPEC_FILE).read_text(encoding="utf-8"))


def _entry(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in data["signals"] if e["name"] == name)


def _refused(data: dict[str, Any], match: str) -> str:
    with pytest.raises(InputError, match=match) as err:
        parse_spec(data, "signals.yaml")
    return str(err.value)


def test_the_shipped_spec_lists_every_snapshot_column() -> None:
    spec = load_spec(SPEC_FILE)
    assert spec.names == COLUMNS == SPEC.names
    assert len(set(spec.names)) == len(spec.names)


def test_unknown_table_is_refused_naming_the_entry(raw_spec: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_spec)
    _entry(data, "webinars_180d")["table"] = "webinar"
    msg = _refused(data, "unknown table 'webinar'")
    assert "webinars_180d" in msg


def test_unknown_column_is_refused_naming_the_entry(raw_spec: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_spec)
    _entry(data, "cabinet_requests_90d")["filter"] = {"chanel": "personal_cabinet"}
    msg = _refused(data, "no column 'chanel'")
    assert "cabinet_requests_90d" in msg


def test_unknown_aggregation_is_refused_naming_the_entry(raw_spec: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_spec)
    _entry(data, "logins_7d")["aggregate"] = "median"
    msg = _refused(data, "aggregate")
    assert "logins_7d" in msg and "median" in msg


def test_unknown_window_is_refused_naming_the_entry(raw_spec: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_spec)
    _entry(data, "logins_30d")["window"] = "fortnight"
    msg = _refused(data, "unknown window 'fortnight'")
    assert "logins_30d" in msg


def test_duplicate_name_is_refused_naming_the_entry(raw_spec: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_spec)
    data["signals"].append(copy.deepcopy(_entry(data, "logins_7d")))
    msg = _refused(data, "duplicate signal name 'logins_7d'")
    assert f"signals[{len(data['signals']) - 1}]" in msg


@pytest.mark.parametrize("language", ["ru", "en"])
def test_missing_label_is_refused_naming_the_entry(raw_spec: dict[str, Any], language: str) -> None:
    data = copy.deepcopy(raw_spec)
    del _entry(data, "kit_updates_90d")["label"][language]
    msg = _refused(data, f"label.{language}")
    assert "kit_updates_90d" in msg


def test_unknown_function_is_refused_naming_the_entry(raw_spec: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_spec)
    _entry(data, "open_debt_rub")["function"] = "debts"
    msg = _refused(data, "unknown function 'debts'")
    assert "open_debt_rub" in msg


def test_a_model_input_without_a_reason_group_is_refused(raw_spec: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_spec)
    del _entry(data, "video_clicks_90d")["group"]
    assert "video_clicks_90d" in _refused(data, "reason group")


def test_an_entry_of_the_spec_can_be_read_back(raw_spec: dict[str, Any]) -> None:
    spec = parse_spec(raw_spec, "signals.yaml")
    trend = spec.by_name()["login_trend"]
    assert (spec.days(trend.window), spec.days(trend.base_window)) == (30, 60)
    assert spec.absent_value(spec.by_name()["logins_7d"]) == 0
    assert spec.absent_value(spec.by_name()["days_since_contact"]) is None
    assert spec.warmup_days == 90


def test_a_function_missing_its_params_is_refused(raw_spec: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_spec)
    del _entry(data, "renewal_period_arrived")["params"]
    assert "renewal_window_days" in _refused(data, "function 'renewal' needs params")


def test_a_window_left_in_the_features_config_names_the_spec(tmp_path: Path) -> None:
    data = yaml.safe_load((Path(SPEC_FILE).parent / "default.yaml").read_text(encoding="utf-8"))
    data["features"]["webinar_window_days"] = 90
    path = tmp_path / "default.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InputError, match="webinar_window_days.*configs/signals.yaml"):
        load_config(path)
