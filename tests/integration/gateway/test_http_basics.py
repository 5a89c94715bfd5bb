"""What every response carries, cross-origin calls only from configured origins, limits,
and signing keys strong enough."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from relay_common.provisioning import create_workspace
from relay_common.testing.gateway import GatewayFactory

ALLOWED = "https://app.example.com"


@pytest.mark.timeout(60)
async def test_cors_only_for_configured_origins_and_headers_everywhere(
    start_gateway: GatewayFactory,
) -> None:
    gateway = await start_gateway(GATEWAY_CORS_ORIGINS=f'["{ALLOWED}"]')
    client = await gateway.client()

    def preflight(origin: str) -> dict[str, str]:
        return {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-csrf-token, content-type",
        }

    allowed = await client.options("/api/v1/bots", headers=preflight(ALLOWED))
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "x-csrf-token" in allowed.headers["access-control-allow-headers"].lower()

    refused = await client.options("/api/v1/bots", headers=preflight("https://evil.example"))
    assert "access-control-allow-origin" not in refused.headers
    simple = await client.get("/api/v1/auth/me", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers

    # Errors too carry the one error body, a request id (the caller's when given) and
    # the security headers.
    answer = await client.get("/api/v1/bots", headers={"X-Request-Id": "trace-123"})
    assert answer.status_code == 401
    assert answer.json() == {
        "code": "unauthenticated",
        "message": "Sign in first.",
        "details": None,
    }
    assert answer.headers["x-request-id"] == "trace-123"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert (await client.get("/api/v1/nowhere")).json()["code"] == "not_found"


@pytest.mark.timeout(60)
async def test_no_cross_origin_calls_by_default(start_gateway: GatewayFactory) -> None:
    gateway = await start_gateway()
    client = await gateway.client()
    answer = await client.options(
        "/api/v1/bots",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.timeout(60)
async def test_requests_are_limited_per_user(
    pool: asyncpg.Pool, start_gateway: GatewayFactory
) -> None:
    emails = [f"{who}-{uuid4().hex[:6]}@example.com" for who in ("busy", "calm")]
    async with pool.acquire() as conn:
        for email in emails:
            await create_workspace(conn, "Limited", email)
    gateway = await start_gateway(GATEWAY_REQUESTS_PER_MINUTE="5")
    busy, calm = [await gateway.client(email) for email in emails]
    answers = [(await busy.get("/api/v1/bots")).status_code for _ in range(7)]
    assert answers == [200] * 5 + [429] * 2
    limited = await busy.get("/api/v1/bots")
    assert limited.json()["code"] == "rate_limited"
    assert (await calm.get("/api/v1/bots")).status_code == 200


@pytest.mark.timeout(60)
async def test_a_short_signing_key_is_refused_at_start(start_service: Any) -> None:
    gateway = await start_service("gateway", PORT="0", GATEWAY_JWT_SECRET="too-short")
    assert gateway.proc is not None
    code = await asyncio.wait_for(gateway.proc.wait(), 30)
    assert code != 0
    assert "at least 32 bytes" in gateway.log_text()
