"""One dependency list: ``pyproject.toml``. The lock pins every name it declares (dev
extras included) to one version, and the bento reads its packages from it at build."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version.strip(), f"requirements.lock: not an exact pin: {line!r}"
        key = canonicalize_name(name)
        assert key not in pins, f"requirements.lock: {name} pinned twice"
        pins[key] = version.strip()
    return pins


def test_the_lock_pins_every_declared_dependency_and_satisfies_it() -> None:
    project = _pyproject()["project"]
    declared = [
        Requirement(text)
        for text in project["dependencies"] + project["optional-dependencies"]["dev"]
    ]
    pins = _pins()
    missing = [str(r) for r in declared if canonicalize_name(r.name) not in pins]
    assert missing == [], f"not in requirements.lock (run make lock): {missing}"
    outside = [
        f"{r.name}=={pins[canonicalize_name(r.name)]} (wants {r.specifier})"
        for r in declared
        if not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert outside == [], f"requirements.lock violates pyproject.toml (run make lock): {outside}"
    assert "churn-risk" not in pins  # the project itself is installed editable, not pinned


def test_the_bento_takes_its_packages_from_pyproject() -> None:
    """No bentofile.yaml with a second list: ``[tool.bentoml.build]`` names no packages,
    so ``bentoml build`` uses ``[project] dependencies`` (what BentoML reads from the file)."""
    from bentoml._internal.bento.build_config import BentoBuildConfig

    assert not (REPO / "bentofile.yaml").exists()
    build = _pyproject()["tool"]["bentoml"]["build"]
    assert "python" not in build
    with (REPO / "pyproject.toml").open("rb") as f:
        config = BentoBuildConfig.from_pyproject(f, base_dir=str(REPO))
    assert config.python.packages == _pyproject()["project"]["dependencies"]
    assert config.service == "serving.service:ChurnService" and config.name == "churn_risk"
