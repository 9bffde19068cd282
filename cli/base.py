"""The ground of the CLI: the Typer app, the config it reads and the error wrapper.

The CLI is the edge of the program: it reads the config, sets the MLflow tracking URI,
creates directories, prints what the library returns and what it logs (INFO and above of
the project's packages, message only: :func:`show_logs`), and turns
:class:`churn.errors.ChurnError` into a one-line message and a non-zero exit code.
Heavy libraries are imported inside each command so that
``churn --help`` is fast and importing the CLI has no side effects. Each command group
lives in its own module (``cli/flow.py``, ...) and ``cli/main.py`` assembles them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from churn.config import Config, load_config
from churn.errors import ChurnError

if TYPE_CHECKING:
    from simulator.config import SimulateConfig

app = typer.Typer(
    help="Churn-risk scoring for a regional information-service centre.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

F = TypeVar("F", bound=Callable[..., Any])
_state: dict[str, Any] = {"config_path": None}
# the packages whose log lines a command shows (library code logs; it never prints)
LIBRARY = (
    "churn",
    "features",
    "importing",
    "training",
    "serving",
    "store",
    "monitoring",
    "simulator",
    "loop",
)


class _EchoHandler(logging.Handler):
    """A log line as the command's output: INFO on stdout, warnings and errors on stderr
    (through ``typer.echo`` at the moment of the call, so a test's runner captures it)."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(self.format(record), err=record.levelno >= logging.WARNING)


def show_logs() -> None:
    """Show the library's INFO-and-above log lines as plain output (once per process)."""
    handler = _EchoHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in LIBRARY:
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, _EchoHandler)]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def config() -> Config:
    """The typed config named by ``--config`` (default ``configs/default.yaml``)."""
    return load_config(_state["config_path"])


def simulate_config() -> SimulateConfig:
    """The generator's settings: ``simulate.yaml`` beside ``--config`` (else the repo's)."""
    from simulator.config import load_simulate_config

    return load_simulate_config(_state["config_path"])


def friendly(fn: F) -> F:
    """Print ChurnError as one line on stderr and exit with its code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ChurnError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            for line in getattr(exc, "violations", [])[:200]:
                typer.echo(f"  - {line}", err=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def _main(
    config: Path | None = typer.Option(
        None, "--config", help="config YAML (default configs/default.yaml)"
    ),
) -> None:
    _state["config_path"] = config
    if config is not None and _names_source(config):
        from churn.environment import use_config

        use_config(config)  # the catalog (read at import) follows a source's --config
    show_logs()


def _names_source(path: Path) -> bool:
    """The config names a subscription + activity source (``features.source``); a broken
    config is the command's to report."""
    try:
        return load_config(path).features.source is not None
    except ChurnError:
        return False


def parse_date(value: str, field: str) -> date:
    """Parse YYYY-MM-DD or fail with the field's name."""
    from churn.errors import InputError

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{field}: expected a date YYYY-MM-DD, got {value!r}") from None
