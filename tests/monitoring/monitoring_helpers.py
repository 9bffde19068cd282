"""Helpers for the monitoring tests (imported by name: the test dirs are not packages)."""

from __future__ import annotations

from pathlib import Path

import yaml

from churn.config import Config


def write_config(cfg: Config, path: Path) -> Path:
    """``cfg`` as a YAML file the CLI reads with ``--config``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    return path
