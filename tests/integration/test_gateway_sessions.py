"""Linking and controlling a bot through the API: QR code as an image, simulated scan,
pause; only owners and admins may, and only in their own workspace."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from relay_common.embedded import free_port
from relay_common.provisioning import add_member, create_bot, create_workspace
from relay_common.testing.gateway import sign_in
from relay_common.testing.waiting import eventually


@pytest.mark.timeout(120)
async def test_link_by_qr_scan_and_pause_through_the_api(
    pool: asyncpg.Pool, start_service: Any
) -> None:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Linkers", f"owner-{uuid4().hex[:6]}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "To link", linked=False)
        other = await create_workspace(conn, "Others", f"other-{uuid4().hex[:6]}@example.com")
        foreign_bot = await create_bot(conn, other.workspace_id, "Not yours")
        vendor_email = f"vendor-{uuid4().hex[:6]}@example.com"
        await add_member(conn, ws.workspace_id, vendor_email)
        owner_email = await conn.fetchval("SELECT email FROM users WHERE id = $1", ws.owner_id)

    port = free_port()
    await start_service("session-worker", SESSION_WORKER_HEARTBEAT_S="0.5")
    gateway = await start_service("gateway", PORT=str(port))
    base = f"http://127.0.0.1:{port}"
    async with (
        httpx.AsyncClient(base_url=base, timeout=10) as owner,
        httpx.AsyncClient(base_url=base, timeout=10) as vendor,
    ):
        await gateway.wait_ready(base)
        headers = (await owner.get("/api/v1/bots")).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-request-id"]
        assert "strict-transport-security" not in headers  # plain http here
        await sign_in(owner, owner_email)
        await sign_in(vendor, vendor_email)

        async def bot_state(state: str) -> dict[str, Any] | None:
            body: dict[str, Any] = (await owner.get(f"/api/v1/bots/{bot}")).json()
            return body if body["runtime_state"] == state else None

        linking = await eventually(lambda: bot_state("linking"), what="QR shown")
        assert linking["qr_data_url"].startswith("data:image/png;base64,")

        scanned = await owner.post(
            f"/api/v1/bots/{bot}/simulator/scan", json={"phone_number": "+15550001234"}
        )
        assert scanned.status_code == 202, scanned.text
        linked = await eventually(lambda: bot_state("connected"), what="linked")
        assert linked["phone_number"] == "+15550001234"
        assert linked["qr_data_url"] is None

        assert (await vendor.post(f"/api/v1/bots/{bot}/session/pause")).status_code == 403
        paused = await owner.post(f"/api/v1/bots/{bot}/session/pause")
        assert paused.status_code == 202
        await eventually(lambda: bot_state("paused"), what="paused")
        # The stored status too: the AI worker reads it and stays silent.
        assert (await owner.get(f"/api/v1/bots/{bot}")).json()["status"] == "paused"

        again = await owner.post(
            f"/api/v1/bots/{bot}/simulator/scan", json={"phone_number": "+15550001234"}
        )
        assert again.status_code == 409
        assert again.json()["code"] == "conflict"
        assert (await owner.post(f"/api/v1/bots/{bot}/session/explode")).status_code == 422
        assert (
            await owner.post(
                f"/api/v1/bots/{bot}/session/pause", json={"phone_number": "+15550001234"}
            )
        ).status_code == 422
        for path in (f"/api/v1/bots/{foreign_bot}", f"/api/v1/bots/{uuid4()}"):
            assert (await owner.get(path)).status_code == 404
        assert (await owner.post(f"/api/v1/bots/{foreign_bot}/session/logout")).status_code == 404
