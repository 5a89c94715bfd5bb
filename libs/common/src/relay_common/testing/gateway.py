"""A running gateway for tests, and clients signed in to it as a given person."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx

from relay_common.testing.processes import ServiceProcess


@dataclass
class Gateway:
    process: ServiceProcess
    base_url: str
    _clients: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def client(self, email: str | None = None, **kwargs: object) -> httpx.AsyncClient:
        """A client of this gateway, signed in as ``email`` (dev sign-in) when given.

        It sends the session's CSRF secret, as the dashboard does."""
        client = await self._clients.enter_async_context(
            httpx.AsyncClient(base_url=self.base_url, timeout=15, **kwargs)  # type: ignore[arg-type]
        )
        if email is not None:
            await sign_in(client, email)
        return client

    async def close(self) -> None:
        await self._clients.aclose()


async def sign_in(client: httpx.AsyncClient, email: str) -> None:
    response = await client.get("/api/v1/auth/dev", params={"email": email})
    assert response.status_code == 303, response.text
    client.headers["X-CSRF-Token"] = client.cookies["relay_csrf"]


GatewayFactory = Callable[..., Awaitable[Gateway]]


async def gateway_factory(
    start: Callable[..., Awaitable[ServiceProcess]], free_port: Callable[[], int]
) -> AsyncIterator[GatewayFactory]:
    started: list[Gateway] = []

    async def make(**env: str) -> Gateway:
        port = free_port()
        process = await start("gateway", PORT=str(port), **env)
        gateway = Gateway(process, f"http://127.0.0.1:{port}")
        await process.wait_ready(gateway.base_url)
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        await gateway.close()
