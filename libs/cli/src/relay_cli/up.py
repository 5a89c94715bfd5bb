"""`relay up`: the whole product on this machine.

With ``NATS_URL`` / ``DATABASE_URL`` unset it starts an embedded NATS (JetStream) and an
embedded PostgreSQL whose data stay in the data folder across restarts; with them set it
uses those servers. Then it applies migrations, creates the demo workspace on first run,
supervises the six services and prints where to open the dashboard.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from relay_cli.demo import DEV_EMAIL, ensure_demo
from relay_cli.state import RunState, StateFile
from relay_cli.supervisor import Supervisor
from relay_common.db import apply_migrations
from relay_common.embedded import EmbeddedNats, EmbeddedPostgres, ensure_database, port_open
from relay_common.services import SERVICES

READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    host: str
    port: int
    web_dist: Path | None


def say(text: str) -> None:
    print(f"relay: {text}", flush=True)


def jwt_secret(data_dir: Path) -> str:
    """The key that signs session cookies, made once and kept, so sign-ins survive restarts."""
    path = data_dir / "jwt-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


async def wait_ready(url: str, stop: asyncio.Event) -> bool:
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2) as client:
        while not stop.is_set() and asyncio.get_running_loop().time() < deadline:
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    return False


async def up(opts: UpOptions) -> int:
    data = opts.data_dir
    (data / "logs").mkdir(parents=True, exist_ok=True)
    state_file = StateFile(data / "state.json")
    if running := state_file.running():
        say(f"already running (pid {running.pid}) on this data folder: {running.gateway_url}")
        return 1
    if port_open(opts.host, opts.port):
        say(f"port {opts.port} is taken; stop what uses it or set PORT to another port")
        return 1

    nats: EmbeddedNats | None = None
    pg: EmbeddedPostgres | None = None
    supervisor: Supervisor | None = None
    try:
        nats_url = os.environ.get("NATS_URL", "")
        if not nats_url:
            say("starting embedded NATS (JetStream)")
            nats = EmbeddedNats(data / "nats", log_file=data / "logs" / "nats.log")
            nats_url = nats.start()
        database_url = os.environ.get("DATABASE_URL", "")
        if not database_url:
            say("starting embedded PostgreSQL")
            pg = EmbeddedPostgres(data / "postgres")
            database_url = await ensure_database(pg.start(), "relay")
        say("applying migrations")
        await apply_migrations(database_url)
        if await ensure_demo(database_url):
            say(f"created the demo workspace (owner {DEV_EMAIL}) with one demo bot")

        url = f"http://{opts.host}:{opts.port}"
        prefix = os.environ.get("RELAY_BUS_PREFIX", "relay")
        env = dict(os.environ) | {
            "NATS_URL": nats_url,
            "DATABASE_URL": database_url,
            "RELAY_BUS_PREFIX": prefix,
            "RELAY_EMBEDDED": "true",
            "PORT": str(opts.port),
            "GATEWAY_HOST": opts.host,
            "GATEWAY_REQUIRE_SERVICES": json.dumps(list(SERVICES)),
            "GATEWAY_JWT_SECRET": os.environ.get("GATEWAY_JWT_SECRET") or jwt_secret(data),
            "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console"),
            "PYTHONUNBUFFERED": "1",
        }
        if opts.web_dist is not None:
            env["GATEWAY_WEB_DIST"] = str(opts.web_dist)

        def save_state() -> None:
            state_file.write(
                RunState(
                    pid=os.getpid(),
                    gateway_url=url,
                    nats_url=nats_url,
                    bus_prefix=prefix,
                    embedded_nats=nats is not None,
                    embedded_postgres=pg is not None,
                    nats_pid=nats.pid if nats else None,
                    postgres_pid=pg.pid if pg else None,
                    services=supervisor.pids() if supervisor else {},
                )
            )

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        supervisor = Supervisor(list(SERVICES), env, on_change=save_state, say=say)
        await supervisor.start()
        save_state()
        if await wait_ready(url, stop):
            print(
                f"\n  Relay is running.\n"
                f"  Dashboard: {url}/\n"
                f"  Sign in:   {url}/api/v1/auth/dev?email={quote(DEV_EMAIL)}\n"
                f"  API docs:  {url}/api/docs\n"
                f"  Data:      {data}\n"
                f"  Press Ctrl-C to stop.\n",
                flush=True,
            )
        elif not stop.is_set():
            say(f"the stack is not ready after {READY_TIMEOUT_S:g} s; see the logs above")
        await stop.wait()
        say("stopping")
        return 0
    finally:
        if supervisor is not None:
            await supervisor.stop()
        if nats is not None:
            nats.stop()
        if pg is not None:
            pg.stop()
        state_file.remove()
        say("stopped")
