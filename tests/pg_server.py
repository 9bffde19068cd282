"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temp dir, a free port.

Used by the session fixture ``pg_admin_url`` (tests/conftest.py) so that ``make test`` and
``.ci/run`` behave the same: if Debian's ``postgresql`` is installed (``make postgres``
installs it), a private server is started for the session and stopped at its end; if it
cannot be started, ``reason`` says why and the PostgreSQL variants of the store tests skip
with that reason. ``CHURN_TEST_PG_URL`` points the tests at an existing server instead.
Root cannot run postgres, so as root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PG_URL_ENV = "CHURN_TEST_PG_URL"
SUPERUSER = "churn"


def _bin(name: str) -> str | None:
    """Debian keeps initdb/pg_ctl under /usr/lib/postgresql/<major>/bin, off the PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major, reverse=True)
    return found[0] if found else shutil.which(name)


def _major(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except (ValueError, IndexError):
        return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """One private server; ``url`` is a superuser URL on its ``postgres`` database."""

    url: str | None = None
    reason: str = ""
    _dir: Path | None = None
    _run_as: list[str] = field(default_factory=list)
    _pg_ctl: str | None = None

    def start(self) -> PgServer:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not initdb or not pg_ctl:
            self.reason = "PostgreSQL is not installed (run `make postgres`: apt-get postgresql)"
            return self
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                self.reason = "running as root and there is no 'postgres' user to run the server"
                return self
            runuser = shutil.which("runuser") or shutil.which("su")
            if not runuser:
                self.reason = "running as root and neither runuser nor su is available"
                return self
            self._run_as = [runuser, "-u", "postgres", "--"]
        self._dir = Path(tempfile.mkdtemp(prefix="churn-pg-"))
        if owner is not None:
            os.chown(self._dir, owner.pw_uid, owner.pw_gid)
        data, log = self._dir / "data", self._dir / "server.log"
        port = _free_port()
        self._pg_ctl = pg_ctl
        try:
            self._run(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ]  # fmt: skip
            )
            opts = (
                f"-p {port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
            )
            self._run([pg_ctl, "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60",
                       "start"])  # fmt: skip
        except (subprocess.CalledProcessError, OSError) as exc:
            tail = log.read_text(errors="replace")[-300:] if log.exists() else ""
            out = getattr(exc, "stdout", "") or ""
            self.reason = f"could not start PostgreSQL: {str(out).strip()[-300:]} {tail}".strip()
            self.stop()
            return self
        self.url = f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres"
        return self

    def _run(self, cmd: list[str]) -> None:
        subprocess.run(
            self._run_as + cmd,
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            cwd=self._dir,
        )

    def stop(self) -> None:
        """Stop the server (immediately: it holds nothing worth keeping) and delete its dir."""
        if self._dir is None:
            return
        data = self._dir / "data"
        if self._pg_ctl and (data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                self._run([self._pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
        self.url = None


def create_database(admin_url: str, prefix: str = "t") -> str:
    """A new, empty database on the server of ``admin_url``; returns its URL."""
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return str(sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False))
