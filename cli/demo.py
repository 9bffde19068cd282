"""The last step of ``make demo``: ``python -m cli.demo --port P [--keep]``.

Parses the arguments and prints the lines of :func:`serving.demo.tour` (keys, the service
started over the store, sample calls, the page's URL, the service stopped); an error is
one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from churn.config import load_config
from churn.errors import ChurnError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="port (default from config)")
    parser.add_argument("--config", type=Path, default=None, help="config YAML")
    parser.add_argument("--keep", action="store_true", help="keep serving until Ctrl-C")
    args = parser.parse_args(argv)
    from serving.demo import tour

    try:
        for line in tour(load_config(args.config), port=args.port, keep=args.keep):
            print(line, flush=True)
    except ChurnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
