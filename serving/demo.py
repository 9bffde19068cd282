"""The last step of ``make demo``: start the service, show it working, stop it cleanly.

``python -m cli.demo --port P`` prints the lines :func:`tour` yields:

1. makes sure there is a supervisor key (as ``churn keys add --role supervisor --name
   demo-supervisor`` would), kept in ``data/demo_supervisor_key.txt`` beside the store so
   the page can be opened later, and a scheduler key for this run (revoked at the end);
2. starts ``bentoml serve`` over the score store (the latest stored week; the snapshot file
   when nothing is stored yet), waits for ``/readyz``;
3. prints a sample ``/score`` and ``/explain`` (the client at the top of the call list),
   posts a few call outcomes through ``/outcomes`` with the scheduler key, and, when two
   weeks are stored, the client whose risk moved most between them with its ``changes``
   sentences in Russian and English;
4. prints the supervisor page's URL with the key, then kills the server's process group.

``--keep`` leaves it running until Ctrl-C (``make serve`` does the same through
``churn serve``). The tour yields its text (it never prints); a service that does not
answer ends it with :class:`DemoFailed` after the server is stopped and the run's key
revoked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from churn.config import Config
from churn.errors import ChurnError
from serving.run import service_env, start_service, stop_service, wait_ready

SHOWN_CONTRIBUTIONS = 3
SUPERVISOR_NAME = "demo-supervisor"
SCHEDULER_NAME = "demo-scheduler"
KEY_FILE = "demo_supervisor_key.txt"
OUTCOMES_POSTED = 3


class DemoFailed(ChurnError):
    """The service did not answer during the tour (the message names its log file)."""

    exit_code = 1


def shorten(explanation: dict[str, Any]) -> dict[str, Any]:
    """The explanation with only the largest contributions, so it fits on a screen."""
    contributions = explanation.get("contributions", [])
    short = {**explanation, "contributions": contributions[:SHOWN_CONTRIBUTIONS]}
    if len(contributions) > SHOWN_CONTRIBUTIONS:
        short["contributions"].append(f"... {len(contributions) - SHOWN_CONTRIBUTIONS} more")
    short.pop("changes", None)  # shown on its own below
    return short


def show(title: str, request: dict[str, Any], response: dict[str, Any]) -> Iterator[str]:
    yield f"\n--- {title} {json.dumps(request, ensure_ascii=False)}"
    yield json.dumps(response, indent=2, ensure_ascii=False)


def key_file(cfg: Config) -> Path:
    """``data/demo_supervisor_key.txt``: beside the default SQLite store."""
    return Path(cfg.paths.store_path).parent / KEY_FILE


def supervisor_key(engine: Engine, path: Path) -> str:
    """The demo's supervisor key: the saved one if it still verifies, else a new one
    (``demo-supervisor``, or ``demo-supervisor-N`` when that name was used before)."""
    from store.keys import add_key, list_keys, verify_key

    if path.is_file():
        saved = path.read_text(encoding="utf-8").strip()
        if verify_key(engine, saved) is not None:
            return saved
    taken = {k.name for k in list_keys(engine)}
    name, n = SUPERVISOR_NAME, 1
    while name in taken:
        n += 1
        name = f"{SUPERVISOR_NAME}-{n}"
    key = add_key(engine, "supervisor", name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return key


def scheduler_key(engine: Engine) -> tuple[str, str]:
    """A scheduler key for this run only: (name, key); revoked when the demo ends."""
    from store.keys import add_key, list_keys

    taken = {k.name for k in list_keys(engine)}
    n = 1
    while f"{SCHEDULER_NAME}-{n}" in taken:
        n += 1
    name = f"{SCHEDULER_NAME}-{n}"
    return name, add_key(engine, "scheduler", name)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sample(url: str, supervisor: str) -> Iterator[str]:
    """/score and /explain for the first client of the call list."""
    with httpx.Client(base_url=url, timeout=60, headers=bearer(supervisor)) as client:
        top = client.post("/call_list", json={"capacity": 1}).raise_for_status().json()
        client_id = top["clients"][0]["client_id"]
        score_req = {"client_ids": [client_id]}
        yield from show(
            "POST /score",
            score_req,
            client.post("/score", json=score_req).raise_for_status().json(),
        )
        explain_req = {"client_id": client_id, "top_k": 3, "lang": "en"}
        explanation = client.post("/explain", json=explain_req).raise_for_status().json()
        yield from show("POST /explain", explain_req, shorten(explanation))


def post_outcomes(url: str, scheduler: str) -> Iterator[str]:
    """A few call outcomes for the top of the call list, as the scheduler would send them
    (ids derived from the week and client, so a rerun is acknowledged, not duplicated)."""
    with httpx.Client(base_url=url, timeout=60, headers=bearer(scheduler)) as client:
        calls = client.post("/call_list", json={"capacity": OUTCOMES_POSTED}).raise_for_status()
        body = calls.json()
        called_on = (_date(body["as_of"]) + timedelta(days=1)).isoformat()
        results = [("retained", True), ("callback", True), ("no_answer", False)]
        outcomes = [
            {
                "outcome_id": f"demo-{body['as_of']}-{c['client_id']}",
                "client_id": c["client_id"],
                "called_on": called_on,
                "reached": reached,
                "result": result,
                "note": "demo call",
            }
            for c, (result, reached) in zip(body["clients"], results, strict=False)
        ]
        request = {"outcomes": outcomes}
        answer = client.post("/outcomes", json=request).raise_for_status().json()
        yield from show("POST /outcomes", {"outcomes": f"{len(outcomes)} rows"}, answer)


def _date(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def most_changed_client(engine: Engine) -> tuple[int, str, str] | None:
    """The client whose probability moved most between the last two stored weeks."""
    from store.weeks import list_weeks, read_scores

    weeks = list_weeks(engine)
    if len(weeks) < 2:
        return None
    before, after = weeks[-2], weeks[-1]
    a = read_scores(engine, before.as_of).set_index("client_id")["probability"]
    b = read_scores(engine, after.as_of).set_index("client_id")["probability"]
    both = a.index.intersection(b.index)
    if not len(both):
        return None
    cid = int((b[both] - a[both]).abs().idxmax())
    return cid, before.as_of.isoformat(), after.as_of.isoformat()


def show_changes(url: str, supervisor: str, engine: Engine) -> Iterator[str]:
    """The client whose risk moved most, and why, in Russian and English."""
    found = most_changed_client(engine)
    if found is None:
        yield "\n(fewer than two weeks in the store: run `churn weekly` twice to see changes)"
        return
    cid, before, after = found
    with httpx.Client(base_url=url, timeout=60, headers=bearer(supervisor)) as client:
        history = client.post("/history", json={"client_id": cid, "weeks": 26}).raise_for_status()
        trend = ", ".join(f"{h['as_of']} {h['probability']:.1%}" for h in history.json()["history"])
        yield f"\n--- client {cid}: risk moved most between {before} and {after} ({trend})"
        for lang in ("ru", "en"):
            body = {"client_id": cid, "top_k": 3, "lang": lang}
            changes = client.post("/explain", json=body).raise_for_status().json()["changes"]
            if not changes:
                yield f"[{lang}] no earlier week for this client"
                continue
            yield (
                f"[{lang}] {changes['previous_probability']:.1%} ({changes['previous_risk_band']})"
                f" -> {changes['probability']:.1%} ({changes['risk_band']})"
            )
            for item in changes["items"]:
                yield f"  - {item['text']}"


def tour(cfg: Config, *, port: int | None = None, keep: bool = False) -> Iterator[str]:
    """Keys, the server started over the store, the sample calls, the page's URL; the
    server stopped and the run's scheduler key revoked whatever happens. ``keep``: serve
    until Ctrl-C before stopping."""
    from store.db import open_store
    from store.keys import revoke_key

    env = service_env(cfg)
    engine = open_store(cfg)
    supervisor = supervisor_key(engine, key_file(cfg))
    scheduler_name, scheduler = scheduler_key(engine)
    port = port or cfg.serving.port
    url = f"http://127.0.0.1:{port}"
    log_path = Path(cfg.paths.reports_dir) / "serve-demo.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        with log_path.open("w") as log:
            proc = start_service(port, env, log=log)
            try:
                wait_ready(url, proc)
                ready = httpx.get(f"{url}/readyz", timeout=10).json()
                yield (
                    f"service ready on {url} in {time.monotonic() - started:.1f} s, serving week "
                    f"{ready.get('as_of')} (model {ready.get('model_version')}; log: {log_path})"
                )
                yield from sample(url, supervisor)
                yield from post_outcomes(url, scheduler)
                yield from show_changes(url, supervisor, engine)
                yield f"\nSupervisor page: http://localhost:{port}/ui"
                yield f"Supervisor key (saved in {key_file(cfg)}): {supervisor}"
                if keep:
                    yield "serving until Ctrl-C"
                    proc.wait()
            except KeyboardInterrupt:
                pass
            except (ChurnError, httpx.HTTPError) as exc:
                raise DemoFailed(f"the service did not answer: {exc} (see {log_path})") from None
            finally:
                stop_service(proc)
    finally:
        revoke_key(engine, scheduler_name)
    yield "service stopped"
