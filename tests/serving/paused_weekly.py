"""``churn ...`` with a pause inside the store's write transaction, for the SIGKILL test.

``python paused_weekly.py MARKER SECONDS <churn arguments>``: installs a hook in
``store.weeks.MID_WRITE_HOOKS`` that writes this process's id to MARKER and sleeps, then
runs the CLI. The test waits for MARKER and kills the process inside the transaction.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main() -> None:
    marker, seconds, *args = sys.argv[1:]

    def pause() -> None:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(float(seconds))

    import store.weeks
    from cli.main import app

    store.weeks.MID_WRITE_HOOKS.append(pause)
    app(args)


if __name__ == "__main__":
    main()
