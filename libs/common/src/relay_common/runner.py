"""One runner for every service: start, serve health, wait for a signal, stop cleanly.

Start: migrations (advisory lock), pool, bus and streams, the service's own setup, HTTP
(health + metrics, or the gateway's app), consumers, announcement. On SIGTERM/SIGINT:
readiness goes false, consumers stop fetching and finish in-flight messages, then the
stack unwinds in reverse: announcement, HTTP, the service's own resources, NATS drain,
pool. Exit code 0.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Generic, TypeVar

import asyncpg
import uvloop
from starlette.applications import Starlette
from starlette.types import ASGIApp
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from relay_common.bus.client import Bus, connect_bus
from relay_common.db import apply_migrations, create_pool
from relay_common.gcwatch import watch_gc
from relay_common.health import Health, HttpServer
from relay_common.logging import configure_logging, get_logger
from relay_common.registry import Announcer
from relay_common.settings import ServiceSettings, WorkerSettings

log = get_logger(__name__)

S = TypeVar("S", bound=ServiceSettings)
W = TypeVar("W", bound=WorkerSettings)


@dataclass
class ServiceContext(Generic[S]):
    name: str
    settings: S
    bus: Bus
    pool: asyncpg.Pool
    health: Health
    stack: AsyncExitStack


Setup = Callable[[ServiceContext[S]], Awaitable[ASGIApp | None]]
"""Registers consumers and resources; may return the ASGI app to serve (with health routes)."""


async def _with_retry(what: str, attempt: Callable[[], Awaitable[object]]) -> object:
    async for step in AsyncRetrying(
        stop=stop_after_delay(60),
        wait=wait_exponential(multiplier=0.2, max=5),
        retry=retry_if_exception_type((OSError, asyncio.TimeoutError, asyncpg.PostgresError)),
        reraise=True,
        before_sleep=lambda state: log.warning(
            "dependency_unavailable", what=what, attempt=state.attempt_number
        ),
    ):
        with step:
            return await attempt()
    raise AssertionError("unreachable")


async def _nats_ready(bus: Bus) -> str | None:
    return None if bus.nc.is_connected else "not connected"


def _pg_ready(pool: asyncpg.Pool) -> Callable[[], Awaitable[str | None]]:
    async def check() -> str | None:
        await pool.fetchval("SELECT 1")
        return None

    return check


async def serve(name: str, settings: S, setup: Setup[S], *, http_host: str, http_port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    common = settings.common
    dsn = common.database_url.get_secret_value()
    await _with_retry("postgres", lambda: apply_migrations(dsn))
    async with AsyncExitStack() as stack:
        pool = await _with_retry(
            "postgres",
            lambda: create_pool(dsn, min_size=common.db_pool_min, max_size=common.db_pool_max),
        )
        assert isinstance(pool, asyncpg.Pool)
        stack.push_async_callback(pool.close)
        bus = await _with_retry(
            "nats",
            lambda: connect_bus(common.nats_url, common.bus_prefix, f"{name}:{common.instance_id}"),
        )
        assert isinstance(bus, Bus)
        stack.push_async_callback(bus.close)
        await bus.ensure_streams()

        health = Health(name)
        health.add_check("nats", lambda: _nats_ready(bus))
        health.add_check("postgres", _pg_ready(pool))
        ctx = ServiceContext(name, settings, bus, pool, health, stack)
        app = await setup(ctx) or Starlette(routes=health.routes())

        server = HttpServer(app, http_host, http_port)
        await server.start()
        stack.push_async_callback(server.stop)
        for consumer in bus.consumers:
            await consumer.start()
        announcer = Announcer(bus, name, common.instance_id, server.url)
        await announcer.start()
        stack.push_async_callback(announcer.stop)
        log.info("service_started", url=server.url)

        await stop.wait()
        health.stopping = True
        log.info("service_stopping")
        try:
            await asyncio.wait_for(bus.stop_consumers(), timeout=settings.shutdown_grace_s)
        except TimeoutError:
            log.warning("in_flight_abandoned", grace_s=settings.shutdown_grace_s)
    log.info("service_stopped")


def run_service(name: str, settings: S, setup: Setup[S], *, http_host: str, http_port: int) -> None:
    """Entry point of a service's ``main()``: blocks until a signal, then exits 0."""
    configure_logging(name, settings.common.log_level, settings.common.log_format)
    watch_gc()
    # uvloop: the same asyncio, faster at many sockets (event streams, NATS, PostgreSQL).
    uvloop.run(serve(name, settings, setup, http_host=http_host, http_port=http_port))
    sys.exit(0)


def run_worker(name: str, settings: W, setup: Setup[W]) -> None:
    """``run_service`` for a service that serves only health and metrics."""
    run_service(
        name, settings, setup, http_host=settings.health_host, http_port=settings.health_port
    )
