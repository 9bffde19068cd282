"""Every ``CHURN_*`` environment variable the program reads, in one place.

The YAML config (``churn/config.py``) says what the program does; these variables say
where it runs: a process started by ``churn serve`` or a built bento is told its config,
registry alias and store this way. Nothing else reads ``os.environ`` for a ``CHURN_*``
name; code asks :func:`environment` (read on every call, so a test's ``monkeypatch.setenv``
is seen).

==================== =====================================================================
variable             meaning
==================== =====================================================================
CHURN_CONFIG         config YAML the service loads (default ``configs/default.yaml``);
                     ``churn serve`` sets it to the CLI's config
CHURN_CONFIG_DIR     folder of ``default.yaml``, ``rules.yaml``, ``reasons*.yaml`` and
                     ``simulate.yaml`` when no path is given (default the repository's
                     ``configs/``)
CHURN_MODEL_ALIAS    registry alias the service loads (default ``serving.alias``)
CHURN_STORE_URL      SQLAlchemy URL of the score store; overrides ``store.url`` and
                     ``paths.store_path``
CHURN_GIT_COMMIT     the code's commit where there is no git checkout (a built bento)
CHURN_HOST           interface ``churn serve`` binds unless ``--host`` is given (default
                     ``serving.host``: ``127.0.0.1``, loopback)
==================== =====================================================================

``MLFLOW_TRACKING_URI`` (MLflow's own variable) overrides ``paths.mlflow_tracking_uri``;
``churn.tracking`` reads it. Tests have their own ``CHURN_TEST_*`` variables, read in
``tests/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG = "CHURN_CONFIG"
CONFIG_DIR = "CHURN_CONFIG_DIR"
MODEL_ALIAS = "CHURN_MODEL_ALIAS"
STORE_URL = "CHURN_STORE_URL"
GIT_COMMIT = "CHURN_GIT_COMMIT"
HOST = "CHURN_HOST"


@dataclass(frozen=True)
class Environment:
    """The ``CHURN_*`` variables of this process; unset or blank is None."""

    config: Path | None
    config_dir: Path | None
    model_alias: str | None
    store_url: str | None
    git_commit: str | None
    host: str | None


def _text(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


def _path(name: str) -> Path | None:
    value = _text(name)
    return Path(value) if value else None


def environment() -> Environment:
    """The variables as they are now (module docstring for their meaning)."""
    return Environment(
        config=_path(CONFIG),
        config_dir=_path(CONFIG_DIR),
        model_alias=_text(MODEL_ALIAS),
        store_url=_text(STORE_URL),
        git_commit=_text(GIT_COMMIT),
        host=_text(HOST),
    )


def use_config(path: Path) -> None:
    """Name ``path`` as this process's config (and its children's): modules that read the
    config at import (``features.catalog``) and a started service then see the CLI's
    ``--config``."""
    os.environ[CONFIG] = str(Path(path).resolve())
