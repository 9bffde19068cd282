"""Load another benchmark script as a module (benchmarks are scripts, not a package, and
``benchmarks/features.py`` would clash with the ``features`` package by name).

Loaded once per process under ``bench_<name>``, so module state (``service.py``'s API
key in ``HEADERS``) is shared, and registered in ``sys.modules`` (dataclasses look their
module up there)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def sibling(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as the module ``bench_<name>``."""
    key = f"bench_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module
