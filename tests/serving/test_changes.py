"""What changed since last week, in both languages, on a real small model."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.config import load_config
from serving.changes import value_text, what_changed


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def _two_weeks(snapshot: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    current = snapshot.iloc[[0]].copy()
    previous = current.copy()
    previous["as_of"] = previous["as_of"] - pd.Timedelta(days=7)
    previous["logins_30d"] = 14
    current["logins_30d"] = 0
    return current, previous


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Logins in the last 30 days fell from 14 to 0 — raises risk"),
        ("ru", "Входы за последние 30 дней: было 14, стало 0 — повышает риск"),
    ],
)
def test_fallen_logins_lead_the_changes_in_words(tiny_model, tiny_snapshot, cfg, lang, expected):
    current, previous = _two_weeks(tiny_snapshot)
    out = what_changed(tiny_model, current, previous, reasons=cfg.reasons_in(lang))
    first = out["items"][0]
    assert first["feature"] == "logins_30d"
    assert first["text"] == expected
    assert (first["before"], first["after"]) == (14, 0)
    assert first["change"] > 0 and first["direction"] == "raises"
    assert out["previous_as_of"] == "2025-05-25" and out["as_of"] == "2025-06-01"
    assert out["probability"] >= out["previous_probability"]


def test_only_moved_features_listed_and_everything_adds_up(tiny_model, tiny_snapshot, cfg):
    current, previous = _two_weeks(tiny_snapshot)
    previous["competitor_present"] = "no"
    current["competitor_present"] = "yes"
    out = what_changed(tiny_model, current, previous, reasons=cfg.reasons_in("en"), top_k=40)
    assert {i["feature"] for i in out["items"]} == {"logins_30d", "competitor_present"}
    changes = [abs(i["change"]) for i in out["items"]]
    assert changes == sorted(changes, reverse=True), "ranked by size of the change"
    comp = next(i for i in out["items"] if i["feature"] == "competitor_present")
    assert comp["text"].startswith("Competitor present changed from no to yes")
    # listed changes + unchanged features' share = the whole move of logit(shown probability)
    from scipy.special import logit

    total = float(logit(out["probability"]) - logit(out["previous_probability"]))
    assert sum(i["change"] for i in out["items"]) + out["unchanged_change"] == pytest.approx(total)
    both = pd.concat([previous, current], ignore_index=True)
    served = tiny_model.predict_proba(both)
    assert out["previous_probability"] == pytest.approx(served[0], abs=1e-9)
    assert out["probability"] == pytest.approx(served[1], abs=1e-9)


def test_previous_score_from_the_store_is_what_is_reported(tiny_model, tiny_snapshot, cfg):
    current, previous = _two_weeks(tiny_snapshot)
    stored = {
        "as_of": "2025-05-25",
        "probability": 0.123,
        "risk_band": "dynamic",
        "model_version": "3",
    }
    out = what_changed(
        tiny_model, current, previous, reasons=cfg.reasons_in("ru"), previous_score=stored
    )
    assert out["previous_probability"] == 0.123
    assert out["previous_risk_band"] == "dynamic"
    assert out["previous_model_version"] == "3"


def test_no_change_gives_no_items(tiny_model, tiny_snapshot, cfg):
    row = tiny_snapshot.iloc[[3]]
    out = what_changed(tiny_model, row, row.copy(), reasons=cfg.reasons_in("en"))
    assert out["items"] == []
    assert out["unchanged_change"] == pytest.approx(0.0)
    assert out["probability"] == pytest.approx(out["previous_probability"])


def test_values_read_as_a_specialist_reads_them(cfg):
    ru, en = cfg.reasons_in("ru"), cfg.reasons_in("en")
    assert value_text("overdue_debt_rub", 12300.0, ru) == "12 300"
    assert value_text("training_coverage", 0.4, en) == "40 %"
    assert value_text("contact_index", 0.45, ru) == "0,45"
    assert value_text("days_since_training", float("nan"), ru) == "нет данных"
    assert value_text("competitor_present", "yes", ru) == "да"
