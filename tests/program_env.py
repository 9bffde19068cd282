"""The environment of a test that runs the program as an operator does (its own config,
store and registry in a temp dir), without what this pytest session set for itself.

The session fixture ``mlflow_uri`` (tests/conftest.py) points ``MLFLOW_TRACKING_URI`` at the
session's registry for the rest of the session, and ``serving.run.service_env`` and
``churn.tracking`` rightly let that variable win over the config: a server or command
started from a test later in the same session would then look for its model in the
session's registry. Where the program is told its config, store, alias and registry, the
test must say it itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from churn import environment as names

PROGRAM_VARS = (
    names.CONFIG,
    names.CONFIG_DIR,
    names.MODEL_ALIAS,
    names.STORE_URL,
    "MLFLOW_TRACKING_URI",
)


def program_env() -> dict[str, str]:
    """``os.environ`` without the variables that tell the program where it runs: for
    ``subprocess`` calls of ``churn``."""
    return {k: v for k, v in os.environ.items() if k not in PROGRAM_VARS}


@contextmanager
def without_program_vars() -> Iterator[None]:
    """The same for code run in this process (``load_config``, ``open_store``,
    ``service_env``) while the block runs; put back afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        for name in PROGRAM_VARS:
            mp.delenv(name, raising=False)
        yield
