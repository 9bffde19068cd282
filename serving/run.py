"""Starting and stopping the service: ``churn serve``, the demo, the tests and benchmarks.

The service is always ``bentoml serve serving.service:ChurnService`` in its own process
group, configured by environment variables (see ``serving.service``); the CLI's config —
including overrides made in memory — travels as a YAML file, so the server reads exactly
the settings the caller had. Stopping kills the whole group, so no worker is orphaned.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import yaml

from churn import environment as env_names
from churn.config import Config
from churn.environment import environment
from churn.errors import ChurnError, InputError
from serving.current import NO_WEEK
from store.db import store_url

SERVICE = "serving.service:ChurnService"

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now (bind to port 0)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def write_config(cfg: Config, path: Path) -> Path:
    """``cfg`` as a YAML file the server can load (rules and reasons included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(cfg.model_dump(mode="json"), allow_unicode=True), encoding="utf-8"
    )
    return path


def absolute_sqlite(uri: str) -> str:
    """A relative ``sqlite:///models/mlflow.db`` made absolute, so the server finds it."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri.removeprefix(prefix)).resolve())
    return uri


def service_env(
    cfg: Config,
    *,
    alias: str | None = None,
    tracking_uri: str | None = None,
    config_path: Path | None = None,
) -> dict[str, str]:
    """Environment for ``bentoml serve``: config, alias, registry and score store (the
    service serves only what ``churn weekly`` stored there)."""
    if config_path is None:
        config_path = write_config(
            cfg, Path(tempfile.mkdtemp(prefix="churn-serve-")) / "config.yaml"
        )
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or cfg.paths.mlflow_tracking_uri
    env = {
        **os.environ,
        env_names.CONFIG: str(Path(config_path).resolve()),
        env_names.MODEL_ALIAS: alias or cfg.serving.alias,
        "MLFLOW_TRACKING_URI": absolute_sqlite(uri),
        env_names.STORE_URL: absolute_sqlite(store_url(cfg)),
    }
    return env


def start_service(
    port: int, env: dict[str, str], *, host: str = "127.0.0.1", log: IO[Any] | None = None
) -> subprocess.Popen[Any]:
    """``bentoml serve`` in a new process group (stop it with :func:`stop_service`)."""
    if not 0 < port < 65536:
        raise InputError(f"port: must be between 1 and 65535, got {port}")
    bentoml = Path(sys.executable).with_name("bentoml")
    cmd = [str(bentoml), "serve", SERVICE, "--host", host, "--port", str(port)]
    return subprocess.Popen(
        cmd,
        cwd=Path.cwd(),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
        start_new_session=True,
    )


class ServiceFailed(ChurnError):
    """The server started but could not load its model or snapshot (message says why)."""

    exit_code = 3


def load_failure(url: str) -> str | None:
    """The server's load error, if loading failed (None while loading or when ready):
    ``/readyz`` (open, no key needed) says it in its JSON body."""
    import httpx

    try:
        r = httpx.get(f"{url}/readyz", timeout=2)
    except httpx.HTTPError:
        return None
    if r.status_code != 503:
        return None
    try:
        message = str(r.json().get("error") or "")
    except ValueError:
        return None
    return None if not message or "still loading" in message else message


def wait_ready(
    url: str, proc: subprocess.Popen[Any], timeout_s: float = 180.0, *, no_week_ok: bool = False
) -> bool:
    """Poll ``/readyz`` until 200; fail early if the server dies or cannot load its model.
    ``no_week_ok``: a server up with an empty store ("no week scored yet") counts as
    started too. True when a week is served."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceFailed(f"bentoml serve exited with code {proc.returncode} before ready")
        try:
            status = httpx.get(f"{url}/readyz", timeout=2).status_code
        except httpx.HTTPError:
            status = None
        if status == 200:
            return True
        if status == 503 and (failure := load_failure(url)):
            if no_week_ok and failure == NO_WEEK:
                return False
            raise ServiceFailed(failure)
        time.sleep(0.5)
    raise ServiceFailed(f"service at {url} not ready after {timeout_s:.0f} s")


def stop_service(proc: subprocess.Popen[Any], timeout_s: float = 20.0) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout_s)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait(timeout=timeout_s)


def probe_host(host: str) -> str:
    """Where to reach a server bound to ``host`` from this machine (a wildcard bind is
    reached on loopback)."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def run_serve(
    cfg: Config,
    *,
    port: int | None = None,
    host: str | None = None,
    alias: str | None = None,
) -> None:
    """``churn serve``: run the service in the foreground until Ctrl-C. It binds
    ``serving.host`` (loopback by default: the service holds client fees and debts) unless
    ``host`` says otherwise, and says where it listens."""
    env = service_env(cfg, alias=alias)
    port = port or cfg.serving.port
    host = host or environment().host or cfg.serving.host
    proc = start_service(port, env, host=host)
    where = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    log.info(f"starting the service, listening on {where} ...")

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM (and SIGINT even when inherited as ignored) stop the server's whole group too
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        probe = f"http://{probe_host(host)}:{port}"
        if not wait_ready(probe, proc, timeout_s=300, no_week_ok=True):
            log.info(f"{NO_WEEK}: data endpoints answer 503 until a week is stored")
        log.info(f"serving on {where} (UI at /ui); Ctrl-C stops it")
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_service(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
