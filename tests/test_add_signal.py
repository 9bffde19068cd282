"""Adding a signal is one spec entry (issue 19, item 5).

The configs are copied, one entry (webinars in the last 14 days) is appended to the copy's
signal spec, and the whole flow runs against the copy (``CHURN_CONFIG_DIR``) in
subprocesses, as a data scientist would run it: features, training (two trials), a weekly
run, the real service. The new column must reach the snapshot, the catalog, the model's
features, the request schema, the page's labels (``GET /catalog``) and an explanation
sentence in Russian and English, with no file edited but the copied spec.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from churn.config import REPO_ROOT
from serving.run import free_port, stop_service, wait_ready
from store.db import connect
from store.keys import add_key

NEW = "webinars_14d"
ENTRY = """
  - name: webinars_14d
    kind: count
    unit: webinars
    risk: down
    table: webinars
    aggregate: count
    window: 14
    group: low_engagement
    label: {ru: "Вебинары за 14 дней", en: "Webinars in the last 14 days"}
    definition: webinar attendances in the 14 days before as_of
"""
LABELS = {"ru": "Вебинары за 14 дней", "en": "Webinars in the last 14 days"}
BIN = Path(sys.executable).parent


def _with_entry(spec_text: str) -> str:
    """The entry inserted before the rule-indicator block (entries are columns, in order)."""
    marker = "  - name: contact_index\n"
    assert marker in spec_text
    return spec_text.replace(marker, ENTRY.lstrip("\n") + "\n" + marker, 1)


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("add-signal")
    configs = work / "configs"
    shutil.copytree(REPO_ROOT / "configs", configs)
    spec = configs / "signals.yaml"
    spec.write_text(_with_entry(spec.read_text(encoding="utf-8")), encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CHURN_CONFIG", "CHURN_STORE_URL", "MLFLOW_TRACKING_URI")
    }
    env["CHURN_CONFIG_DIR"] = str(configs)
    before = _git_status()

    def churn(*args: str) -> str:
        done = subprocess.run(
            [str(BIN / "churn"), *args], cwd=work, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"churn {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    churn("simulate", "--clients", "400", "--months", "20", "--seed", "5", "--out", "data/raw")
    churn("features", "--raw", "data/raw", "--out", "data/features/snapshots.parquet",
          "--every", "month")  # fmt: skip
    churn("train", "--features", "data/features/snapshots.parquet", "--trials", "2",
          "--report", "reports/train.json")  # fmt: skip
    churn("weekly", "--raw", "data/raw")
    engine = connect(f"sqlite:///{work / 'data' / 'store.db'}")
    key = add_key(engine, "supervisor", "add-signal-test")
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
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, timeout_s=300)
        yield {"work": work, "env": env, "url": url, "key": key, "git_before": before}
    finally:
        stop_service(proc)


def _in_copy(flow: dict, code: str) -> object:
    """Run ``code`` (which prints JSON) in a process that reads the copied configs."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=flow["work"], env=flow["env"], capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_the_new_signal_reaches_every_consumer(flow: dict) -> None:
    work, headers = flow["work"], {"Authorization": f"Bearer {flow['key']}"}
    # the snapshot: the column, counted as the spec says
    snap = pd.read_parquet(work / "data" / "features" / "snapshots.parquet")
    assert NEW in snap.columns and list(snap.columns).index(NEW) < list(snap.columns).index(
        "contact_index"
    )
    assert (snap[NEW] >= 0).all() and snap[NEW].sum() > 0
    assert (snap[NEW] <= snap["webinars_180d"]).all()
    # the catalog, the request schema and the sentences of a process reading the copy
    facts = _in_copy(
        flow,
        "import json\n"
        "from churn.config import load_config\n"
        "from features.catalog import COLUMNS, MODEL_FEATURES\n"
        "from serving.schemas import ClientFeatures\n"
        "from serving.sentences import describe\n"
        "cfg = load_config()\n"
        "print(json.dumps({'columns': COLUMNS, 'model': MODEL_FEATURES,\n"
        "  'schema': list(ClientFeatures.model_fields),\n"
        f"  'words': {{l: describe('{NEW}', 3, {{}}, cfg.reasons_in(l))\n"
        "            for l in ('ru', 'en')}}))",
    )
    assert NEW in facts["columns"] and NEW in facts["model"] and NEW in facts["schema"]
    assert facts["words"] == {lang: f"{LABELS[lang]}: 3" for lang in ("ru", "en")}
    # the registered model's features and the page's labels, from the running service
    catalog = httpx.get(f"{flow['url']}/catalog", headers=headers, timeout=30).json()
    entry = next(s for s in catalog["signals"] if s["name"] == NEW)
    assert entry["label"] == LABELS and entry["model_input"] is True
    # /explain in both languages: the new signal is one of the model's contributions, and
    # where it drives the score its sentence reads with its label
    ids = [
        c["client_id"]
        for c in httpx.post(
            f"{flow['url']}/call_list", json={"capacity": 20}, headers=headers, timeout=60
        ).json()["clients"]
    ]
    n_features = len(facts["model"])
    said = {}
    for lang in ("ru", "en"):
        for cid in ids:
            body = httpx.post(
                f"{flow['url']}/explain",
                json={"client_id": cid, "top_k": n_features, "lang": lang},
                headers=headers,
                timeout=60,
            ).json()
            assert NEW in {c["feature"] for c in body["contributions"]}
            texts = [d["text"] for d in body["drivers"] + body["protective"] if d["feature"] == NEW]
            if texts:
                said[lang] = texts[0]
                break
    for lang, text in said.items():
        assert text.startswith(LABELS[lang]), text
    # a posted client row must carry the new column (the request schema), named when absent
    row = snap[snap["as_of"] == snap["as_of"].max()].iloc[0]
    client = {
        k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
        for k, v in row.items()
        if k in facts["schema"] and k != "as_of"
    }
    ok = httpx.post(f"{flow['url']}/score", json={"clients": [client]}, headers=headers, timeout=60)
    assert ok.status_code == 200, ok.text
    del client[NEW]
    missing = httpx.post(
        f"{flow['url']}/score", json={"clients": [client]}, headers=headers, timeout=60
    )
    assert missing.status_code == 400 and NEW in missing.text
    # nothing but the copy was edited
    assert _git_status() == flow["git_before"]
