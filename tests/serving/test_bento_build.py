"""``bentoml build`` packages the service with its code, static page and configs."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
FIRST_PARTY = (
    "churn",
    "features",
    "training",
    "store",
    "monitoring",
    "serving",
    "simulator",
    "cli",
)


def _first_party_imports(package: str) -> set[str]:
    """Top-level project packages that any module of ``package`` imports (also inside functions)."""
    found: set[str] = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            found.update(n.split(".")[0] for n in names if n.split(".")[0] in FIRST_PARTY)
    return found


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
    # every project package the service imports is packaged, with the store's migrations
    for package in _first_party_imports("serving") | {"serving"}:
        assert (src / package / "__init__.py").is_file(), f"{package} missing from the bento"
    for path in ("store/migrations/env.py", "store/migrations/script.py.mako"):
        assert (src / path).is_file(), path
    assert list((src / "store/migrations/versions").glob("0001_*.py")), "store migrations missing"
    assert not (src / "tests").exists() and not (src / "data").exists()
    # its Python packages are pyproject.toml's dependencies, read at build (no second list)
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    packed = (bento / "env" / "python" / "requirements.in").read_text().splitlines()
    assert [d for d in declared if d not in packed] == []
    meta = yaml.safe_load((bento / "bento.yaml").read_text())
    assert meta["service"] == "serving.service:ChurnService"
    routes = {r["route"] for r in meta["schema"]["routes"]}
    assert {"/score", "/explain", "/call_list", "/history", "/outcomes"} <= routes
