"""``churn``: the one CLI. Importing the command modules registers them on the app."""

from __future__ import annotations

import sys

import cli.flow  # noqa: F401  (registers the flow commands)
import cli.generic  # noqa: F401  (churn simulate-generic)
import cli.imports  # noqa: F401  (churn import, churn export-crm)
import cli.keys  # noqa: F401  (churn keys add|list|revoke)
import cli.monitor  # noqa: F401  (churn monitor)
import cli.retrain  # noqa: F401  (churn retrain)
import cli.simulate  # noqa: F401  (churn simulate)
import cli.simulate_weeks  # noqa: F401  (churn simulate-weeks)
import cli.uplift  # noqa: F401  (churn uplift)
import cli.weekly  # noqa: F401  (churn weekly)
from cli.base import app

__all__ = ["app"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
