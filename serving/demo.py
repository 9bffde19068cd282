"""The last step of ``make demo``: start the service, show it working, stop it cleanly.

``python -m serving.demo --port P`` starts ``bentoml serve`` with the demo's latest
snapshot and champion, waits for ``/readyz``, prints a sample ``/score`` and
``/explain`` answer (the client at the top of the call list) and the URL of the
supervisor page, then kills the server's process group. ``--keep`` leaves it running
until Ctrl-C (``make serve`` does the same through ``churn serve``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from churn.config import load_config
from churn.errors import ChurnError
from serving.run import service_env, start_service, stop_service, wait_ready

SHOWN_CONTRIBUTIONS = 3


def shorten(explanation: dict[str, Any]) -> dict[str, Any]:
    """The explanation with only the largest contributions, so it fits on a screen."""
    contributions = explanation.get("contributions", [])
    short = {**explanation, "contributions": contributions[:SHOWN_CONTRIBUTIONS]}
    if len(contributions) > SHOWN_CONTRIBUTIONS:
        short["contributions"].append(f"... {len(contributions) - SHOWN_CONTRIBUTIONS} more")
    return short


def show(title: str, request: dict[str, Any], response: dict[str, Any]) -> None:
    print(f"\n--- {title} {json.dumps(request)}")
    print(json.dumps(response, indent=2, ensure_ascii=False))


def sample(url: str) -> None:
    """Print /score and /explain for the first client of the call list."""
    with httpx.Client(base_url=url, timeout=60) as client:
        top = client.post("/call_list", json={"capacity": 1}).raise_for_status().json()
        client_id = top["clients"][0]["client_id"]
        score_req = {"client_ids": [client_id]}
        show(
            "POST /score",
            score_req,
            client.post("/score", json=score_req).raise_for_status().json(),
        )
        explain_req = {"client_id": client_id, "top_k": 3}
        explanation = client.post("/explain", json=explain_req).raise_for_status().json()
        show("POST /explain", explain_req, shorten(explanation))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="port (default from config)")
    parser.add_argument("--features", type=Path, default=None, help="snapshot Parquet file")
    parser.add_argument("--config", type=Path, default=None, help="config YAML")
    parser.add_argument("--keep", action="store_true", help="keep serving until Ctrl-C")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
        env = service_env(cfg, features_file=args.features)
    except ChurnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    port = args.port or cfg.serving.port
    url = f"http://127.0.0.1:{port}"
    log_path = Path(cfg.paths.reports_dir) / "serve-demo.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = start_service(port, env, log=log)
        try:
            wait_ready(url, proc)
            print(f"service ready on {url} in {time.monotonic() - started:.1f} s (log: {log_path})")
            sample(url)
            print(f"\nSupervisor page: http://localhost:{port}/ui")
            if args.keep:
                print("serving until Ctrl-C")
                proc.wait()
        except KeyboardInterrupt:
            pass
        except (ChurnError, httpx.HTTPError) as exc:
            print(f"error: the service did not answer: {exc} (see {log_path})", file=sys.stderr)
            return 1
        finally:
            stop_service(proc)
    print("service stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
