"""Helpers for the closed-loop tests (``churn simulate-weeks``): config and CLI calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from churn.config import Config
from simulator.config import SIMULATE_FILE, load_simulate_config

LOOP_CLIENTS, LOOP_WEEKS, LOOP_SEED = 800, 26, 3


def loop_config(base: Config, root: Path) -> Path:
    """The default config with a small tuning budget, written where --config can read it,
    and the generator's settings (one Optuna trial for the base's model) beside it."""
    cfg = base.override(training__timeout_s=60)
    sim = load_simulate_config().override(loop__n_trials=1)
    path = root / "cfg" / "default.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    (path.parent / SIMULATE_FILE).write_text(
        yaml.safe_dump(sim.model_dump(mode="json")), encoding="utf-8"
    )
    return path


def invoke(config: Path, *args: str) -> Any:
    from cli.main import app

    return CliRunner().invoke(app, ["--config", str(config), *args])


def run_closed_loop(base: Config, root: Path, registry: str | None = None) -> dict[str, Any]:
    """``churn simulate-weeks`` then ``churn uplift`` on its result, both through the CLI;
    with ``registry`` the loop takes that registry's champion instead of training one."""
    config = loop_config(base, root)
    out = root / "run"
    take = ["--registry", registry] if registry else []
    sim = invoke(
        config, "simulate-weeks", "--weeks", str(LOOP_WEEKS), "--clients", str(LOOP_CLIENTS),
        "--seed", str(LOOP_SEED), "--out", str(out), "--json", str(root / "loop.json"), *take,
    )  # fmt: skip
    assert sim.exit_code == 0, sim.output
    summary = json.loads((root / "loop.json").read_text())
    report = out / "uplift.json"
    up = invoke(
        config, "uplift", "--assignments", summary["assignments"], "--raw", summary["raw_dir"],
        "--capacity", str(summary["capacity"]), "--report", str(report),
    )  # fmt: skip
    assert up.exit_code == 0, up.output
    return {
        "summary": summary,
        "report": json.loads(report.read_text()),
        "out": out,
        "output": sim.output,
        "config": config,
    }
