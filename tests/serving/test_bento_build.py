"""``bentoml build`` packages the service with its code, static page and configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_bentoml_build_packages_the_service(tmp_path):
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml")}
    bentoml = Path(sys.executable).with_name("bentoml")
    result = subprocess.run(
        [str(bentoml), "build", "."], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (bento,) = [d for d in (tmp_path / "bentoml" / "bentos" / "churn_risk").iterdir() if d.is_dir()]
    src = bento / "src"
    for path in (
        "serving/service.py",
        "serving/static/index.html",
        "configs/reasons.yaml",
        "training/model.py",
    ):
        assert (src / path).is_file(), path
    assert not (src / "tests").exists() and not (src / "data").exists()
    meta = yaml.safe_load((bento / "bento.yaml").read_text())
    assert meta["service"] == "serving.service:ChurnService"
    routes = {r["route"] for r in meta["schema"]["routes"]}
    assert {"/score", "/explain", "/call_list"} <= routes
