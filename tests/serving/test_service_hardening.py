"""Issue 18: the defects an attack run found, each reproduced against the real server.

Outcome defects (NaN, NUL, a reused ``outcome_id``, an absurd ``called_on``) run on a
server over SQLite (the session's ``weekly_service``) and one over PostgreSQL, started the
way an operator starts it, with ``churn serve`` (which must bind loopback and say so).
The door's defects (body size, echoed input, tracebacks in the log, the OpenAPI) run on
the SQLite server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from week_helpers import Server, make_keys, outcome_row, weekly_config, write_test_week

from serving.run import free_port, write_config
from store.db import connect
from store.outcomes import count_outcomes, outcomes_for
from store.weeks import read_scores

START_TIMEOUT_S = 300


def _churn_serve(cfg: Any, work: Path) -> tuple[subprocess.Popen[str], str, int]:
    """``churn serve`` (no --host) over the store of ``cfg`` (it serves the stored week) in
    its own process group; returns it, its start-up lines up to "serving on", and the port."""
    port = free_port()
    config = write_config(cfg, work / "config.yaml")
    churn = Path(sys.executable).with_name("churn")
    env = {k: v for k, v in os.environ.items() if k not in ("CHURN_STORE_URL", "CHURN_HOST")}
    env["BENTOML_HOME"] = str(work / "bentoml")
    cmd = [str(churn), "--config", str(config), "serve", "--port", str(port)]
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=open(work / "server.log", "w"),  # noqa: SIM115 — closed with the process
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(
                f"churn serve exited: {lines}\n{(work / 'server.log').read_text()[-3000:]}"
            )
        lines.append(line.strip())
        if line.startswith("serving on"):
            # keep reading the server's output (its access log) so a full pipe never blocks it
            threading.Thread(target=_drain, args=(proc, work / "server.out"), daemon=True).start()
            return proc, "\n".join(lines), port
    raise RuntimeError(f"churn serve not ready: {lines}")


def _drain(proc: subprocess.Popen[str], path: Path) -> None:
    assert proc.stdout is not None
    with path.open("a") as out:
        for line in proc.stdout:
            out.write(line)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # churn stops the server's own group
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def pg_served(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    session_config: Any,
    champion: Any,
    snapshot_weeks: list[Any],
    mlflow_uri: str,
) -> Iterator[Server]:
    """A PostgreSQL store with one stored week, served by ``churn serve`` (the service
    only reads stored weeks)."""
    admin = request.getfixturevalue("pg_admin_url")
    if admin is None:
        pytest.skip("PostgreSQL unavailable (no server could be started: tests/pg_server.py)")
    from pg_server import create_database

    work = tmp_path_factory.mktemp("hardening-pg")
    store = create_database(admin)
    engine = connect(store)
    cfg = weekly_config(session_config).override(store__url=store)
    week = write_test_week(
        engine,
        model=champion.model,
        model_version=str(champion.version),
        snapshot=snapshot_weeks[-1],
        cfg=cfg,
        weeks_dir=work / "weeks",
    )
    keys = make_keys(engine)
    proc, startup, port = _churn_serve(cfg, work)
    try:
        server = Server(
            url=f"http://127.0.0.1:{port}", store_url=store, keys=keys, log=work / "server.log"
        )
        server.extra.update(engine=engine, weeks=[week], startup=startup, port=port, proc=proc)
        yield server
    finally:
        _stop(proc)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest) -> Server:
    """The stored-week server on each store backend."""
    if request.param == "sqlite":
        return request.getfixturevalue("weekly_service")
    return request.getfixturevalue("pg_served")


def _post(server: Server, path: str, body: Any, role: str = "admin", **kw: Any) -> httpx.Response:
    if isinstance(body, (bytes, str)):
        headers = {**server.headers(role), "content-type": "application/json"}
        return httpx.post(f"{server.url}{path}", content=body, headers=headers, timeout=120)
    return httpx.post(f"{server.url}{path}", json=body, headers=server.headers(role), timeout=120)


def _client(server: Server) -> int:
    engine = server.extra["engine"]
    return int(read_scores(engine, server.extra["weeks"][-1])["client_id"].iloc[0])


def _stored_ids(server: Server, cid: int) -> set[str]:
    return {o["outcome_id"] for o in outcomes_for(server.extra["engine"], cid)}


# ------------------------------------------------------------------ item 1: NaN / Infinity


@pytest.mark.parametrize(
    ("row_text", "field"),
    [
        ('{"outcome_id": "nan-1", "client_id": NaN, "called_on": "%s", "reached": true, '
         '"result": "callback"}', "outcomes[0].client_id"),
        ('{"outcome_id": "nan-2", "client_id": %d, "called_on": "%s", "reached": true, '
         '"result": "callback", "note": Infinity}', "outcomes[0].note"),
        ("NaN", "outcomes[0]"),
    ],
)  # fmt: skip
def test_nan_or_infinity_in_outcomes_is_a_400_naming_the_field(served, row_text, field):
    cid = _client(served)
    day = served.extra["weeks"][-1].isoformat()
    if "%d" in row_text:
        row_text = row_text % (cid, day)
    elif "%s" in row_text:
        row_text = row_text % day
    before = count_outcomes(served.extra["engine"])
    r = _post(served, "/outcomes", '{"outcomes": [' + row_text + "]}", role="scheduler")
    assert r.status_code == 400, r.text  # was 500: json.dumps(allow_nan=False) raised
    assert r.json()["field"] == field, r.text
    assert count_outcomes(served.extra["engine"]) == before


# ------------------------------------------------------------------ item 2: NUL characters


@pytest.mark.parametrize("field", ["outcome_id", "note"])
def test_a_nul_character_is_a_400_on_every_store(served, field):
    cid = _client(served)
    good = outcome_row(f"nul-ok-{field}-{served.store_url[:5]}", cid)
    bad = outcome_row(f"nul-{field}", cid, **{field: "before\x00after"})
    r = _post(served, "/outcomes", {"outcomes": [good, bad]}, role="scheduler")
    assert r.status_code == 400, r.text  # was 500 on PostgreSQL (psycopg.DataError)
    assert r.json()["field"] == f"outcomes[1].{field}" and "NUL" in r.json()["error"]
    assert good["outcome_id"] not in _stored_ids(served, cid)


# ------------------------------------------------------------------ item 5: outcome_id reuse


def test_a_reused_outcome_id_with_other_content_is_a_409(served):
    cid = _client(served)
    oid = f"reuse-{served.store_url[:5]}"
    first = outcome_row(oid, cid, result="callback", note="call back Friday")
    r = _post(served, "/outcomes", {"outcomes": [first]}, role="scheduler")
    assert r.json() == {"inserted": 1, "already_recorded": 0}, r.text
    # the same call again (a retry): idempotent
    r = _post(served, "/outcomes", {"outcomes": [first]}, role="scheduler")
    assert r.status_code == 200 and r.json() == {"inserted": 0, "already_recorded": 1}
    # the id again with another result: refused naming the id, not dropped with 200
    other = {**first, "result": "retained"}
    extra = outcome_row(f"{oid}-extra", cid)
    r = _post(served, "/outcomes", {"outcomes": [extra, other]}, role="scheduler")
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["field"] == "outcomes[1].outcome_id" and oid in body["error"], body
    stored = {o["outcome_id"]: o for o in outcomes_for(served.extra["engine"], cid)}
    assert stored[oid]["result"] == "callback"  # what was acknowledged stands
    assert extra["outcome_id"] not in stored  # nothing of the refused batch


def test_two_different_rows_under_one_id_in_a_batch_are_a_400(served):
    cid = _client(served)
    oid = f"twice-{served.store_url[:5]}"
    rows = [outcome_row(oid, cid), outcome_row(oid, cid, reached=False, result="no_answer")]
    r = _post(served, "/outcomes", {"outcomes": rows}, role="scheduler")
    assert r.status_code == 400, r.text  # one of the two used to be lost silently
    assert r.json()["field"] == "outcomes[1].outcome_id" and "outcomes[0]" in r.json()["error"]
    assert oid not in _stored_ids(served, cid)
    same = [outcome_row(oid, cid), outcome_row(oid, cid)]  # a repeat inside the batch: one call
    r = _post(served, "/outcomes", {"outcomes": same}, role="scheduler")
    assert r.json() == {"inserted": 1, "already_recorded": 1}, r.text


# ------------------------------------------------------------------ item 9: called_on range


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "future"])
def test_an_absurd_called_on_is_a_400_naming_field_and_value(served, day):
    cid = _client(served)
    if day == "future":
        day = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    row = outcome_row(f"day-{day}-{served.store_url[:5]}", cid, called_on=day)
    r = _post(served, "/outcomes", {"outcomes": [row]}, role="scheduler")
    assert r.status_code == 400, r.text  # was stored with 200
    assert r.json()["field"] == "outcomes[0].called_on" and day in r.json()["error"]
    assert row["outcome_id"] not in _stored_ids(served, cid)


def test_todays_call_is_stored(served):
    cid = _client(served)
    today = datetime.now(UTC).date().isoformat()
    row = outcome_row(f"today-{served.store_url[:5]}", cid, called_on=today)
    r = _post(served, "/outcomes", {"outcomes": [row]}, role="scheduler")
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text


# ------------------------------------------------------------------ item 10: churn serve


def test_churn_serve_binds_loopback_and_says_where(pg_served):
    import psutil

    port = pg_served.extra["port"]
    assert f"http://127.0.0.1:{port}" in pg_served.extra["startup"]
    listening = {
        c.laddr.ip
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }
    assert listening == {"127.0.0.1"}, listening  # was 0.0.0.0


# ------------------------------------------------------------------ item 4: body size


def _raw_exchange(url: str, head: bytes, body_chunks: Any = ()) -> tuple[int, bytes, float]:
    """Send a request by hand (headers, then body chunks until the server answers or
    closes); returns (status, response body, seconds to the answer)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed while we were still sending
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            got = sock.recv(65536)
            if not got:
                break
            data += got
    took = time.monotonic() - started
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1], took


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def _head(server: Server, path: str, extra: str) -> bytes:
    key = server.keys["scheduler"]
    return (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


def test_a_declared_oversized_body_is_a_413_before_it_is_read(weekly_service):
    limit = weekly_service.extra["cfg"].serving.max_body_bytes
    head = _head(weekly_service, "/score", f"Content-Length: {50_000_000}\r\n")
    status, body, took = _raw_exchange(weekly_service.url, head)  # no body sent at all
    assert status == 413, body  # was parsed whole (50 MB) before the 400
    assert str(limit) in json.loads(body)["error"]
    assert took < 30


def test_a_chunked_oversized_body_is_a_413(weekly_service):
    limit = weekly_service.extra["cfg"].serving.max_body_bytes
    piece = b"[" + b"1," * 500_000  # 1 MB of a never-ending JSON list

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // len(piece) + 3):
            yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"

    head = _head(weekly_service, "/score", "Transfer-Encoding: chunked\r\n")
    status, body, _ = _raw_exchange(weekly_service.url, head, chunks())
    assert status == 413, body[:300]
    assert httpx.get(f"{weekly_service.url}/livez", timeout=30).status_code == 200
    # a body within the limit is read and judged as before
    r = _post(weekly_service, "/score", {"client_ids": [-1]})
    assert r.status_code == 400, r.text


# ------------------------------------------------------------------ item 7: echoes and log


def _tracebacks(server: Server) -> int:
    return server.log.read_text(errors="replace").count("Traceback (most recent call last)")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/explain", {"client_id": 1, "lang": "x" * 1_000_000}),
        ("/call_list", {"capacity": 5, "lang": "y" * 1_000_000}),
        ("/outcomes", {"outcomes": [outcome_row("z" * 1_000_000, 1)]}),
        ("/outcomes", {"outcomes": [outcome_row("long-note", 1, note="n" * 1_000_000)]}),
        ("/score", {"client_ids": [1], "junk" * 100_000: 1}),
        ("/history", {"client_id": "q" * 1_000_000}),
        ("/score", "{" + "x" * 1_000_000),  # not JSON at all
    ],
)
def test_errors_quote_a_short_prefix_and_log_one_line(weekly_service, path, body):
    before = _tracebacks(weekly_service)
    r = _post(weekly_service, path, body)
    assert 400 <= r.status_code < 500, r.text[:300]
    assert len(r.content) < 4000, len(r.content)  # a 10 MB value came back whole
    assert isinstance(r.json(), dict) and r.json()["error"]  # one shape, never a list
    time.sleep(0.5)  # the worker's log line
    assert _tracebacks(weekly_service) == before  # every 400 wrote a full traceback


# ------------------------------------------------------------------ item 6: the OpenAPI


def _validator(spec: dict[str, Any], path: str, status: str) -> Any:
    from jsonschema import Draft202012Validator

    op = spec["paths"][path]["post"]
    schema = op["responses"][status]["content"]["application/json"]["schema"]
    return Draft202012Validator({"allOf": [schema], "components": spec["components"]})


def test_the_openapi_describes_what_is_answered(weekly_service, snapshot_weeks, champion):
    from test_service_http import json_row

    spec = httpx.get(f"{weekly_service.url}/docs.json", timeout=60).json()
    # posted clients: as_of is null (was declared a string)
    row = json_row(snapshot_weeks[-1].reset_index().iloc[0], champion.model.features)
    r = _post(weekly_service, "/score", {"clients": [row]})
    assert r.status_code == 200 and r.json()["as_of"] is None, r.text
    _validator(spec, "/score", "200").validate(r.json())
    # a first stored week: changes is null
    first = weekly_service.extra["weeks"][0]
    cid = _client(weekly_service)
    r = _post(weekly_service, "/explain", {"client_id": cid, "as_of": first.isoformat()})
    assert r.status_code == 200 and r.json()["changes"] is None, r.text
    _validator(spec, "/explain", "200").validate(r.json())
    # a 400 with pydantic's detail: a list, as documented
    r = _post(weekly_service, "/explain", {"client_id": "seven"})
    assert r.status_code == 400 and isinstance(r.json()["detail"], list), r.text
    _validator(spec, "/explain", "400").validate(r.json())
    r = _post(weekly_service, "/history", {"client_id": cid})
    assert r.status_code == 200, r.text
    _validator(spec, "/history", "200").validate(r.json())
    row = outcome_row(f"spec-{cid}", cid)
    r = _post(weekly_service, "/outcomes", {"outcomes": [row]})
    assert r.status_code == 200, r.text
    _validator(spec, "/outcomes", "200").validate(r.json())
    for path in ("/score", "/explain", "/outcomes", "/call_list", "/history"):
        documented = set(spec["paths"][path]["post"]["responses"])
        assert {"200", "400", "401", "403", "413", "415", "503"} <= documented, path
    assert "409" in spec["paths"]["/outcomes"]["post"]["responses"]
