"""Drivers in plain words: known values give the sentences a specialist expects."""

from __future__ import annotations

import math

import pytest

from churn.config import load_config
from features.catalog import MODEL_FEATURES
from serving.sentences import case_of, describe, group_and_action, json_value, sentence


@pytest.fixture(scope="module")
def reasons():
    return load_config().reasons


@pytest.mark.parametrize(
    ("feature", "value", "row", "contribution", "expected"),
    [
        ("logins_30d", 0, {}, 0.4, "No logins in the last 30 days — raises risk"),
        ("logins_30d", 12, {}, -0.2, "12 logins in the last 30 days — lowers risk"),
        (
            "overdue_debt_rub",
            12300.0,
            {"days_overdue": 45},
            0.3,
            "Overdue debt of 12 300 RUB, 45 days overdue — raises risk",
        ),
        (
            "competitor_present",
            "yes",
            {},
            0.5,
            "Competitor present at the last diagnostics — raises risk",
        ),
        ("competitor_present", None, {}, 0.1, "Competitor presence never checked — raises risk"),
        ("key_user_trained", 1, {}, -0.3, "Key user trained — lowers risk"),
        ("renewal_period_arrived", 1, {}, 0.2, "Payment-renewal period has arrived — raises risk"),
        ("days_since_training", math.nan, {}, 0.2, "No user has ever been trained — raises risk"),
        (
            "training_coverage",
            0.25,
            {},
            0.1,
            "25 % of users hold a valid training certificate — raises risk",
        ),
    ],
)
def test_known_values_read_as_expected(reasons, feature, value, row, contribution, expected):
    assert sentence(feature, value, contribution, {feature: value, **row}, reasons) == expected


def test_every_model_feature_has_words_group_and_action(reasons):
    for feature in MODEL_FEATURES:
        text = describe(feature, 0, {}, reasons)
        assert not text.startswith(f"{feature} = "), f"{feature} falls back to its column name"
        group, action = group_and_action(feature, 1.0, reasons)
        assert group and action, feature
        assert group_and_action(feature, -1.0, reasons)[1] is None  # nothing to fix


def test_cases_and_fallbacks(reasons):
    assert case_of(math.nan, {"missing": "", "default": ""}) == "missing"
    assert case_of(0, {"zero": "", "default": ""}) == "zero"
    assert case_of(1.0, {"one": "", "default": ""}) == "one"
    assert case_of("maybe", {"yes": "", "default": ""}) == "default"
    assert describe("not_a_feature", 3, {}, reasons) == "not_a_feature = 3"
    # a flag outside 0/1 has no template case: still a sentence, not an error
    assert describe("key_user_trained", 2, {}, reasons).startswith("key_user_trained")


def test_json_value_is_json_safe():
    import numpy as np
    import pandas as pd

    assert json_value(np.float64("nan")) is None
    assert json_value(pd.NA) is None
    assert json_value(np.int64(3)) == 3 and type(json_value(np.int64(3))) is int
    assert json_value(float("inf")) is None
    assert json_value("yes") == "yes"


@pytest.mark.parametrize(
    ("feature", "value", "expected"),
    [
        ("logins_30d", 1, "One login in the last 30 days"),
        ("kit_updates_90d", 1, "One kit update in the last 90 days"),
        ("webinar_indicator", 0.34, "Webinar sub-indicator in the high band (0.34)"),
        ("cabinet_indicator", 0.30, "Personal-cabinet sub-indicator in the dynamic band (0.30)"),
        ("days_since_contact", 1.0, "Last call or visit 1 day ago"),
    ],
)
def test_singulars_and_bands_read_naturally(reasons, feature, value, expected):
    assert describe(feature, value, {feature: value}, reasons) == expected


@pytest.mark.parametrize(
    ("feature", "value", "row", "contribution", "expected"),
    [
        ("logins_30d", 0, {}, 0.4, "Нет входов в систему за последние 30 дней — повышает риск"),
        (
            "overdue_debt_rub",
            12300.0,
            {"days_overdue": 45},
            0.3,
            "Просроченный долг 12 300 руб., просрочка 45 дн. — повышает риск",
        ),
        ("tenure_days", 21, {}, -0.1, "Сотрудничество длится 21 день — снижает риск"),
        ("tenure_days", 23, {}, -0.1, "Сотрудничество длится 23 дня — снижает риск"),
        ("tenure_days", 11, {}, -0.1, "Сотрудничество длится 11 дней — снижает риск"),
        (
            "training_indicator",
            0.4,
            {},
            0.2,
            "Индикатор обучения: высокий риск (0,40) — повышает риск",
        ),
        (
            "competitor_present",
            "yes",
            {},
            0.5,
            "На последней диагностике выявлен конкурент — повышает риск",
        ),
    ],
)
def test_russian_is_the_default_language(feature, value, row, contribution, expected):
    cfg = load_config()
    assert cfg.serving.language == "ru"
    reasons = cfg.reasons_in()
    assert sentence(feature, value, contribution, {feature: value, **row}, reasons) == expected


def test_russian_covers_every_feature_group_and_case_of_the_english():
    cfg = load_config()
    en, ru = cfg.reasons_in("en"), cfg.reasons_in("ru")
    assert set(ru.groups) == set(en.groups)
    assert set(ru.features) == set(en.features)
    assert set(ru.kinds) == set(en.kinds)
    for kind, cases in en.kinds.items():
        assert set(ru.kinds[kind]) == set(cases), kind
    for name, spec in en.features.items():
        assert set(ru.features[name].text) == set(spec.text), name
        assert (ru.features[name].action is None) == (spec.action is None), name
    with pytest.raises(Exception, match="lang"):
        cfg.reasons_in("de")


def test_a_signal_without_own_wording_reads_by_its_kind_with_the_spec_label():
    """The templates by kind, with the spec's label in the language asked (issue 19)."""
    cfg = load_config()
    en, ru = cfg.reasons.model_copy(deep=True), cfg.reasons_in("ru").model_copy(deep=True)
    for r in (en, ru):
        r.features.pop("webinars_180d", None)  # as for a signal just added to the spec
    assert describe("webinars_180d", 3, {}, en) == "Webinars in the last 6 months: 3"
    assert describe("webinars_180d", 0, {}, en) == "Webinars in the last 6 months: none"
    assert describe("webinars_180d", 3, {}, ru) == "Вебинары за 6 месяцев: 3"
    assert group_and_action("webinars_180d", 1.0, ru)[0] == ru.groups["low_engagement"].label


def test_every_spec_group_has_words_and_an_action_in_every_language():
    from features.catalog import SPEC

    cfg = load_config()
    groups = {s.group for s in SPEC.signals if s.group}
    for lang in cfg.languages():
        have = cfg.reasons_in(lang).groups
        assert groups <= set(have), (lang, groups - set(have))
        assert all(have[g].action for g in groups)
