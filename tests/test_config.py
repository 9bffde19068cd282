"""The settings: frozen, changed only by copies, each key once, moved keys named, every
``CHURN_*`` variable read in ``churn/environment.py`` alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from churn.config import MOVED, REPO_ROOT, Config, load_config
from churn.environment import environment
from churn.errors import InputError
from cli.base import LIBRARY as LOGGING_PACKAGES
from simulator.config import SIMULATE_FILE, load_simulate_config

LIBRARY = (*LOGGING_PACKAGES, "cli")  # every package of the program


def test_settings_are_frozen_and_overrides_are_validated_copies() -> None:
    cfg = load_config()
    with pytest.raises(ValidationError, match="frozen"):
        cfg.training.n_trials = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        cfg.paths = cfg.paths.under(Path("/tmp"))  # type: ignore[misc]
    changed = cfg.override(training__n_trials=3, paths=cfg.paths.under(Path("/w")))
    assert changed.training.n_trials == 3 and cfg.training.n_trials == 30
    assert changed.paths.raw_dir == Path("/w/raw") and cfg.paths.raw_dir == Path("data/raw")
    with pytest.raises(ValidationError, match="n_trials"):
        cfg.override(training__n_trials=0)
    with pytest.raises(ValidationError, match="no_such"):
        cfg.override(training__no_such=1)
    with pytest.raises(KeyError, match="nothing"):
        cfg.override(nothing__x=1)


def test_simulator_settings_live_in_their_own_file() -> None:
    assert "simulate" not in Config.model_fields
    text = (REPO_ROOT / "configs" / "default.yaml").read_text(encoding="utf-8")
    assert "simulate" not in yaml.safe_load(text)
    sim = load_simulate_config()
    assert sim.clients == 3000 and sim.loop.n_trials == 5
    # the reference answers the label's question: the main config's horizon
    assert sim.reference.horizon_days == load_config().training.horizon_days


def test_simulate_yaml_beside_the_config_wins_and_takes_its_horizon(tmp_path: Path) -> None:
    main = tmp_path / "default.yaml"
    main.write_text(yaml.safe_dump({"training": {"horizon_days": 60}}), encoding="utf-8")
    sim = load_simulate_config(main)  # no simulate.yaml beside it: the repository's
    assert sim.clients == 3000 and sim.reference.horizon_days == 60
    (tmp_path / SIMULATE_FILE).write_text("clients: 17\n", encoding="utf-8")
    assert load_simulate_config(main).clients == 17
    (tmp_path / SIMULATE_FILE).write_text("clients: 0\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"(?s)simulate.yaml: invalid simulator config.*clients"):
        load_simulate_config(main)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"simulate": {"clients": 10}}, r"simulate is no longer .* moved to .*simulate.yaml"),
        ({"serving": {"model_name": "x"}}, r"serving.model_name .* moved to registry.model_name"),
        ({"training": {"model_name": "x"}}, r"training.model_name .* moved to registry.model_name"),
        ({"training": {"capacity_per_week": 5}}, r"moved to serving.default_capacity"),
        ({"retention": {"bootstrap_rounds": 5}}, r"moved to training.bootstrap_rounds"),
        ({"serving": {"extra": {}}}, r"serving.extra .* removed"),
    ],
)  # fmt: skip
def test_a_moved_key_fails_naming_where_it_went(tmp_path: Path, data: dict, message: str) -> None:
    path = tmp_path / "default.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_config(path)


def test_each_knob_once() -> None:
    """One registry model name, one capacity, one bootstrap budget, no unused dicts."""
    cfg = load_config()
    names = {
        f"{section}.{field}"
        for section, info in Config.model_fields.items()
        if hasattr(info.annotation, "model_fields")
        for field in info.annotation.model_fields  # type: ignore[union-attr]
    }
    for key in MOVED:
        assert key not in names, key
    assert "registry.model_name" in names and cfg.registry.model_name == "churn-risk"
    assert not any(name.endswith(".extra") for name in names)


def test_every_churn_variable_is_read_in_the_environment_module(monkeypatch) -> None:
    """No ``CHURN_*`` name appears in the program outside ``churn/environment.py``; the
    module's docstring table lists every name it reads."""
    import churn.environment as env

    pattern = re.compile(r"[\"']CHURN_[A-Z_]+")
    outside = []
    for package in LIBRARY:
        for path in (REPO_ROOT / package).rglob("*.py"):
            if path == Path(env.__file__):
                continue
            text = path.read_text(encoding="utf-8")
            outside += [f"{path.relative_to(REPO_ROOT)}: {m}" for m in pattern.findall(text)]
    assert outside == []
    names = {v for k, v in vars(env).items() if k.isupper() and isinstance(v, str)}
    table = env.__doc__ or ""
    assert names and all(re.search(rf"^{name}\s", table, re.M) for name in names)
    monkeypatch.setenv("CHURN_STORE_URL", "  sqlite:///x.db ")
    monkeypatch.setenv("CHURN_MODEL_ALIAS", "")
    now = environment()
    assert now.store_url == "sqlite:///x.db" and now.model_alias is None


def test_a_config_extends_another_and_states_only_what_differs(tmp_path: Path, monkeypatch) -> None:
    base = load_config()
    generic = load_config(REPO_ROOT / "configs" / "generic" / "default.yaml")
    # its own keys
    assert generic.paths.raw_dir == Path("data/generic/raw")
    assert generic.registry.model_name != base.registry.model_name
    assert generic.features.source == REPO_ROOT / "configs" / "sources" / "generic_demo.yaml"
    # everything else from the file it extends, side files (rules, reasons) included
    assert generic.training.search_space == base.training.search_space
    assert generic.serving == base.serving and generic.rules == base.rules
    assert generic.reasons == base.reasons and generic.languages() == base.languages()
    assert base.features.source is None
    # relative to the config file, made absolute: a copy written elsewhere (the service's
    # config) names the same file, whatever the working directory was
    monkeypatch.chdir(REPO_ROOT)
    rel = load_config(Path("configs/generic/default.yaml"))
    assert rel.features.source.is_absolute() and rel.features.source == generic.features.source
    # a section merges key by key; a cycle is named
    child = tmp_path / "child.yaml"
    child.write_text(
        f"extends: {REPO_ROOT / 'configs' / 'default.yaml'}\ntraining: {{n_trials: 3}}\n",
        encoding="utf-8",
    )
    cfg = load_config(child)
    assert cfg.training.n_trials == 3 and cfg.training.seed == base.training.seed
    loop = tmp_path / "loop.yaml"
    loop.write_text("extends: loop.yaml\n", encoding="utf-8")
    with pytest.raises(InputError, match="extends itself"):
        load_config(loop)


def test_the_services_copy_of_a_relative_config_names_the_same_spec_files(
    tmp_path: Path, monkeypatch
) -> None:
    """``churn --config configs/generic/default.yaml serve`` hands the service a copy of the
    settings in a temporary folder: the spec paths in it must still name the files."""
    from serving.run import write_config

    monkeypatch.chdir(REPO_ROOT)
    cfg = load_config(Path("configs/generic/default.yaml"))
    copy = load_config(write_config(cfg, tmp_path / "elsewhere" / "config.yaml"))
    assert copy.features.source == cfg.features.source and copy.features.source.is_file()
    assert copy.features.signals == cfg.features.signals and copy.features.signals.is_file()
