"""Lead events reach a workspace's webhook: signed, retried after a failure, logged."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relay_common.bus import Bus
from relay_common.contract import MessageReceived
from relay_common.db import create_pool
from relay_common.health import HttpServer
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.waiting import eventually

SECRET = "s3cret-s3cret-s3cret"


@pytest.mark.timeout(90)
async def test_lead_events_are_posted_signed_and_retried(
    own_database: str, bus: Bus, start_service: Any
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    calls = {"n": 0}

    async def hook(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return Response("temporarily broken", status_code=503)
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    server = HttpServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])]), "127.0.0.1", 0)
    await server.start()
    pool = await create_pool(own_database, max_size=2)
    try:
        async with pool.acquire() as conn:
            ws = await create_workspace(conn, "Hooked", f"hook-{uuid4().hex[:6]}@example.com")
            bot = await create_bot(conn, ws.workspace_id, "bot")
            await conn.execute(
                "INSERT INTO webhooks (workspace_id, url, secret) VALUES ($1, $2, $3)",
                ws.workspace_id,
                f"{server.url}/hook",
                SECRET,
            )
        await start_service(
            "lead-service", DATABASE_URL=own_database, LEAD_SERVICE_WEBHOOK_ALLOW_HTTP="true"
        )
        await bus.publish(
            MessageReceived(
                workspace_id=ws.workspace_id,
                bot_id=bot,
                whatsapp_message_id="HOOK1",
                chat_jid="34600123123@s.whatsapp.net",
                sender_phone="+34600123123",
                text="hello",
                sent_at=datetime.now(UTC),
            )
        )
        await eventually(lambda: _async(len(received) >= 2), within_s=30, what="deliveries")
        events = {h["relay-event"]: (h, body) for h, body in received}
        assert set(events) == {"lead.created.v1", "lead.message.v1"}
        for headers, body in events.values():
            stamp, mac = (part.split("=", 1)[1] for part in headers["relay-signature"].split(","))
            expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
            assert hmac.compare_digest(mac, expected.hexdigest())
            assert json.loads(body)["workspace_id"] == str(ws.workspace_id)
        log = await pool.fetch(
            "SELECT event, status, attempts, last_status FROM webhook_deliveries ORDER BY id"
        )
        assert {r["status"] for r in log} == {"delivered"}
        assert sorted(r["attempts"] for r in log) == [1, 2]  # the first try got a 503
    finally:
        await pool.close()
        await server.stop()


async def _async(value: Any) -> Any:
    return value
