"""Every service shares one runner: health endpoints, announcement, clean stop."""

from __future__ import annotations

import signal
from typing import Any

import httpx
import pytest

from relay_common.bus import Bus
from relay_common.registry import ServiceInstance, list_instances
from relay_common.testing.waiting import eventually


@pytest.mark.parametrize("service", ["billing", "scheduler"])
async def test_service_announces_serves_health_and_stops_cleanly(
    bus: Bus, start_service: Any, service: str
) -> None:
    proc = await start_service(service)

    async def announced() -> ServiceInstance | None:
        assert proc.proc.returncode is None, proc.log_text()
        return next((i for i in await list_instances(bus) if i.pid == proc.pid), None)

    instance = await eventually(announced, within_s=30, what=f"{service} announced")
    assert instance.service == service
    async with httpx.AsyncClient(base_url=instance.health_url, timeout=5) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": service}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"nats": "ok", "postgres": "ok"}
        metrics = await client.get("/metrics")
        assert "python_info" in metrics.text

    assert await proc.stop(signal.SIGTERM) == 0
    assert "service_stopped" in proc.log_text()
    assert all(i.pid != proc.pid for i in await list_instances(bus))


async def test_gateway_is_not_ready_until_the_services_it_requires_run(
    start_service: Any,
) -> None:
    from relay_common.embedded import free_port

    port = free_port()
    gateway = await start_service(
        "gateway", PORT=str(port), GATEWAY_REQUIRE_SERVICES='["gateway", "billing"]'
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

        async def answered() -> httpx.Response | None:
            assert gateway.proc.returncode is None, gateway.log_text()
            try:
                return await client.get("/readyz")
            except httpx.TransportError:
                return None

        first = await eventually(answered, within_s=30, what="gateway answering")
        assert first.status_code == 503
        assert first.json()["checks"]["stack"] == "waiting for billing"
        await start_service("billing")

        async def ready() -> bool:
            response = await answered()
            return response is not None and response.status_code == 200

        await eventually(ready, within_s=30, what="gateway ready once billing runs")
