"""pytest plugin: real NATS and PostgreSQL, one database and one bus prefix per test run."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from nats.js.errors import NotFoundError

from relay_common.bus import Bus, connect_bus
from relay_common.contract import subjects
from relay_common.db import apply_migrations, create_pool
from relay_common.embedded import drop_database, ensure_database, free_port
from relay_common.testing.gateway import GatewayFactory, gateway_factory
from relay_common.testing.infra import Infra, resolve_infra
from relay_common.testing.processes import ServiceProcess

RUN_ID = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    found = resolve_infra(tmp_path_factory.mktemp("infra"))
    yield found
    found.stop()


@pytest.fixture(scope="session")
def bus_prefix() -> str:
    return f"t{RUN_ID}"


@pytest.fixture(scope="session")
async def database_url(infra: Infra) -> AsyncIterator[str]:
    name = f"relay_test_{RUN_ID}"
    url = await ensure_database(infra.admin_database_url, name)
    await apply_migrations(url)
    yield url
    await drop_database(infra.admin_database_url, name)


@pytest.fixture
async def own_database(infra: Infra) -> AsyncIterator[str]:
    """A migrated database for one test, for tests that look at every row (or every bot)."""
    name = f"relay_test_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    url = await ensure_database(infra.admin_database_url, name)
    await apply_migrations(url)
    yield url
    await drop_database(infra.admin_database_url, name)


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, min_size=1, max_size=5)
    yield created
    await created.close()


@pytest.fixture(scope="session")
async def session_bus(infra: Infra, bus_prefix: str) -> AsyncIterator[Bus]:
    bus = await connect_bus(infra.nats_url, bus_prefix, "tests")
    await bus.ensure_streams()
    yield bus
    for stream in (*subjects.STREAMS, subjects.FEED):
        with contextlib.suppress(NotFoundError):
            await bus.js.delete_stream(stream.full_name(bus_prefix))
    with contextlib.suppress(NotFoundError):
        await bus.js.delete_key_value(subjects.services_bucket(bus_prefix))
    await bus.close()


@pytest.fixture
def bus(session_bus: Bus) -> Bus:
    return session_bus


@pytest.fixture
def service_env(infra: Infra, database_url: str, bus_prefix: str) -> dict[str, str]:
    """Environment for a service process of this test run."""
    return {
        "NATS_URL": infra.nats_url,
        "DATABASE_URL": database_url,
        "RELAY_BUS_PREFIX": bus_prefix,
        "RELAY_EMBEDDED": "true",
        "GATEWAY_JWT_SECRET": f"test-secret-{RUN_ID}-of-thirty-two-bytes-or-more",
    }


@pytest.fixture
async def start_service(
    service_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[Callable[..., asyncio.Future[ServiceProcess]]]:
    """Start a service as a child process; every one still running is stopped afterwards."""
    started: list[ServiceProcess] = []

    async def start(service: str, **env: str) -> ServiceProcess:
        proc = ServiceProcess(
            service, service_env | env, tmp_path / f"{service}-{len(started)}.log"
        )
        await proc.start()
        started.append(proc)
        return proc

    yield start  # type: ignore[misc]
    for proc in started:
        await proc.stop()


@pytest.fixture
async def start_gateway(
    start_service: Callable[..., Awaitable[ServiceProcess]],
) -> AsyncIterator[GatewayFactory]:
    """``await start_gateway(**env)``: a ready gateway process with signed-in clients."""
    async for factory in gateway_factory(start_service, free_port):
        yield factory
