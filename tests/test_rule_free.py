"""A source without the rule indicator's inputs runs the whole loop and says so (issue 21,
item 4, last sentence).

The configs are copied and every ``function: rule_indicator`` entry is removed from the
copy's signal spec (the shape a subscription + activity source has: no contact index, no
rule band, no sub-indicators). The loop then runs against the copy in subprocesses, as a
data scientist would run it: features, training (two trials), a weekly run into a real
SQLite store, the real service, the page in headless Chromium and ``churn monitor``.
Everywhere the rule would be shown the answer says there is none and why, in the asked
language, instead of an empty column; the comparison and the gate use the logistic
baseline on the same signals.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from program_env import program_env
from rule_free_helpers import SAID, rule_free_text

from churn.config import REPO_ROOT
from features.rules import RULE_COLUMNS
from serving.run import free_port, stop_service, wait_ready
from store.db import connect
from store.keys import add_key

BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("rule-free")
    configs = work / "configs"
    shutil.copytree(REPO_ROOT / "configs", configs)
    spec = configs / "signals.yaml"
    spec.write_text(rule_free_text(spec.read_text(encoding="utf-8")), encoding="utf-8")
    env = {**program_env(), "CHURN_CONFIG_DIR": str(configs)}

    def churn(*args: str, ok: tuple[int, ...] = (0,)) -> str:
        done = subprocess.run(
            [str(BIN / "churn"), *args], cwd=work, env=env, capture_output=True, text=True
        )
        assert done.returncode in ok, f"churn {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    out: dict[str, Any] = {"work": work, "env": env}
    churn("simulate", "--clients", "400", "--months", "20", "--seed", "5", "--out", "data/raw")
    out["features"] = churn("features", "--raw", "data/raw", "--out",
                            "data/features/snapshots.parquet", "--every", "month")  # fmt: skip
    out["train"] = churn("train", "--features", "data/features/snapshots.parquet", "--trials",
                         "2", "--report", "reports/train.json")  # fmt: skip
    out["call_list"] = churn("call-list", "--raw", "data/raw", "--out", "reports/calls.csv")
    out["weekly"] = churn("weekly", "--raw", "data/raw")
    out["monitor"] = churn(
        "monitor", "--raw", "data/raw", "--report", "reports/monitor.json", ok=(0, 4)
    )  # fmt: skip  (4: an alert; the report is written)
    engine = connect(f"sqlite:///{work / 'data' / 'store.db'}")
    out["key"] = add_key(engine, "supervisor", "rule-free-test")
    engine.dispose()
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "churn"), "serve", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    out["url"] = f"http://127.0.0.1:{port}"
    try:
        wait_ready(out["url"], proc, timeout_s=300)
        yield out
    finally:
        stop_service(proc)


def _post(flow: dict, path: str, body: dict) -> dict:
    r = httpx.post(
        f"{flow['url']}{path}",
        json=body,
        headers={"Authorization": f"Bearer {flow['key']}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r.json()


def _get(flow: dict, path: str) -> dict:
    r = httpx.get(
        f"{flow['url']}{path}", headers={"Authorization": f"Bearer {flow['key']}"}, timeout=60
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.slow
def test_features_and_training_say_no_rule_and_the_gate_uses_the_baseline(flow: dict) -> None:
    work = flow["work"]
    snap = pd.read_parquet(work / "data" / "features" / "snapshots.parquet")
    assert not set(RULE_COLUMNS) & set(snap.columns) and len(snap) > 0
    assert f"rule_band: {SAID['en']}" in flow["features"]

    report = json.loads((work / "reports" / "train.json").read_text(encoding="utf-8"))
    assert report["rule_indicator"] == {"available": False, "reason": SAID}
    assert report["test"]["rule"] is None and report["auc_gain"] is None
    model, baseline = report["test"]["model"], report["test"]["baseline"]
    assert 0.5 < model["roc_auc"] <= 1 and 0.5 < baseline["roc_auc"] <= 1
    assert report["baseline_gain"]["observed"] == pytest.approx(
        model["roc_auc"] - baseline["roc_auc"]
    )
    gate = report["gate"]
    assert gate["champion_status"] == "none" and gate["comparison"]["against"] == "baseline"
    assert "logistic baseline" in gate["reason"]
    assert gate["comparison"]["roc_auc"]["reference"] == baseline["roc_auc"]
    # the terminal table: no empty rule column, the sentence instead
    assert f"rule: not available ({SAID['en']})" in flow["train"]
    header = next(line for line in flow["train"].splitlines() if line.startswith("metric"))
    assert header.split() == ["metric", "model", "baseline", "reference"]
    assert "nan" not in flow["train"].lower().replace("nan-", "")
    page = (work / "reports" / "evaluation" / "report.html").read_text(encoding="utf-8")
    assert f"not available ({SAID['en']})" in page


@pytest.mark.slow
def test_the_weekly_run_stores_null_rule_columns_and_says_why(flow: dict) -> None:
    db = sqlite3.connect(flow["work"] / "data" / "store.db")
    try:
        rows = db.execute(
            "SELECT count(*), count(probability), count(contact_index), count(rule_band) "
            "FROM weekly_scores"
        ).fetchone()
    finally:
        db.close()
    assert rows[0] > 0 and rows[1] == rows[0] and rows[2] == rows[3] == 0
    said = flow["weekly"]
    assert SAID["ru"] in said or SAID["en"] in said  # the configured serving.language
    # the dry run's CSV (churn call-list) has no empty rule column
    calls = pd.read_csv(flow["work"] / "reports" / "calls.csv")
    assert len(calls) > 0 and "risk_band" in calls.columns
    assert not set(RULE_COLUMNS) & set(calls.columns)


@pytest.mark.slow
def test_the_service_keeps_its_schema_and_says_there_is_no_rule(flow: dict) -> None:
    status = {"available": False, "reason": SAID}
    assert _get(flow, "/catalog")["rule_indicator"] == status
    assert _get(flow, "/version")["rule_indicator"] == status
    listed = _post(flow, "/call_list", {"capacity": 5})["clients"]
    assert len(listed) == 5 and all(c["rule_band"] is None for c in listed)
    ids = [c["client_id"] for c in listed]
    scores = _post(flow, "/score", {"client_ids": ids})["scores"]
    assert [s["client_id"] for s in scores] == ids
    assert all(s["contact_index"] is None and s["rule_band"] is None for s in scores)
    assert all(0 < s["probability"] < 1 for s in scores)
    for lang in ("ru", "en"):
        ex = _post(flow, "/explain", {"client_id": ids[0], "top_k": 5, "lang": lang})
        assert ex["rule"] is None and ex["rule_note"] == SAID[lang]
        assert not {c["feature"] for c in ex["contributions"]} & set(RULE_COLUMNS)
        assert ex["drivers"] and ex["lang"] == lang


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make browser)")
def test_the_page_hides_the_rule_and_shows_the_sentence(flow: dict) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            for lang in ("en", "ru"):
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.set_default_timeout(30_000)
                errors: list[str] = []
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                page.goto(f"{flow['url']}/ui/?lang={lang}")
                page.locator("[data-testid=auth-panel]").wait_for(state="visible")
                page.fill("[data-testid=api-key]", flow["key"])
                with page.expect_response(lambda r: r.url.endswith("/call_list")):
                    page.click("[data-testid=auth-submit]")
                rows = page.locator("[data-testid=call-list] tbody tr")
                rows.first.wait_for()
                header = page.locator("[data-testid=call-list] thead th")
                shown = [header.nth(i).is_visible() for i in range(header.count())]
                assert rows.first.locator("td").count() == sum(shown)  # no empty rule cell
                assert not page.locator("th[data-i18n=th_rule]").is_visible()
                note = page.locator("[data-testid=list-rule-note]")
                assert note.is_visible() and note.inner_text() == SAID[lang]
                with page.expect_response(lambda r: r.url.endswith("/explain")):
                    rows.first.click()
                page.locator("[data-testid=client-card]").wait_for(state="visible")
                page.locator("[data-testid=driver]").first.wait_for()
                assert not page.locator("[data-testid=rule-box]").is_visible()
                assert not page.locator("[data-testid=agreement]").is_visible()
                missing = page.locator("[data-testid=rule-missing]")
                assert missing.is_visible() and missing.inner_text() == SAID[lang]
                assert errors == []
                page.context.close()
        finally:
            browser.close()


@pytest.mark.slow
def test_churn_monitor_says_it_has_no_rule_metrics(flow: dict) -> None:
    report = json.loads((flow["work"] / "reports" / "monitor.json").read_text(encoding="utf-8"))
    assert report["rule_indicator"] == {"available": False, "reason": SAID}
    note = f"rule indicator not available ({SAID['en']}): no rule metrics"
    assert note in report["notes"] and f"note: {note}" in flow["monitor"]
    assert report["weeks"] and report["weeks"][-1]["drift"]["score"]["psi"] is not None
