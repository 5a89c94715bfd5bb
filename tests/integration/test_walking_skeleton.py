"""The main flow through every hop, against real NATS and PostgreSQL and real processes:

simulated customer -> session worker -> JetStream -> lead service stores it -> AI worker
answers -> session worker sends on the simulated network -> lead service stores the reply
-> gateway pushes both to the workspace's SSE stream.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import asyncpg
import httpx
import pytest

from relay_common.bus import Bus
from relay_common.contract import subjects as s
from relay_common.embedded import free_port
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.gateway import sign_in
from relay_common.testing.sse import EventStream
from relay_common.testing.waiting import eventually

CUSTOMER = "+34600111222"


@pytest.mark.timeout(120)
async def test_customer_message_crosses_every_hop(
    pool: asyncpg.Pool, bus: Bus, start_service: Any
) -> None:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Skeleton Co", "owner@skeleton.test")
        bot_id = await create_bot(conn, ws.workspace_id, "Skeleton bot")
        other = await create_workspace(conn, "Other Co", "owner@other.test")

    seen: dict[str, list[dict[str, Any]]] = defaultdict(list)

    async def record(msg: Any) -> None:
        path = ".".join(msg.subject.split(".")[1:4])
        seen[path].append(json.loads(msg.data))

    for subject in (s.INBOUND_MESSAGE, s.SEND_MESSAGE, s.MESSAGE_SENT, s.SIMNET_DELIVERY):
        await bus.nc.subscribe(subject.for_bot(bus.prefix, ws.workspace_id, bot_id), cb=record)

    port = free_port()
    for service in ("lead-service", "ai-worker", "session-worker"):
        await start_service(service)
    gateway = await start_service("gateway", PORT=str(port))

    base = f"http://127.0.0.1:{port}"
    async with (
        httpx.AsyncClient(base_url=base, timeout=10) as owner,
        httpx.AsyncClient(base_url=base, timeout=10) as outsider,
    ):
        await gateway.wait_ready(base)
        await sign_in(owner, "owner@skeleton.test")
        await sign_in(outsider, "owner@other.test")

        async def connected() -> bool:
            state = await pool.fetchval("SELECT runtime_state FROM bots WHERE id = $1", bot_id)
            return bool(state == "connected")

        await eventually(connected, within_s=30, what="simulated session connected")

        owner_stream, outsider_stream = EventStream(owner), EventStream(outsider)
        for stream in (owner_stream, outsider_stream):
            await stream.__aenter__()
        await eventually(
            lambda: _return(len(owner_stream.events) and len(outsider_stream.events)),
            what="SSE connected",
        )

        sent = await owner.post(
            f"/api/v1/bots/{bot_id}/simulator/messages",
            json={"customer_phone": CUSTOMER, "text": "Hello, is anyone there?"},
        )
        assert sent.status_code == 202, sent.text
        wa_id = sent.json()["whatsapp_message_id"]

        # Hop 1: the session worker published the inbound message.
        inbound = await eventually(lambda: _first(seen["message.inbound.v1"]), what="inbound")
        assert inbound["whatsapp_message_id"] == wa_id
        assert inbound["sender_phone"] == CUSTOMER
        assert inbound["text"] == "Hello, is anyone there?"

        # Hop 2: the lead service stored it once, on a new lead.
        async def stored_customer() -> asyncpg.Record | None:
            row: asyncpg.Record | None = await pool.fetchrow(
                """SELECT m.body, l.phone, l.workspace_id FROM lead_messages m
                   JOIN leads l ON l.id = m.lead_id
                   WHERE m.bot_id = $1 AND m.whatsapp_message_id = $2 AND m.origin = 'customer'""",
                bot_id,
                wa_id,
            )
            return row

        row = await eventually(stored_customer, what="customer message stored")
        assert row["body"] == "Hello, is anyone there?"
        assert row["phone"] == CUSTOMER
        assert row["workspace_id"] == ws.workspace_id

        # Hop 3: the AI worker asked for a reply to exactly this message.
        command = await eventually(lambda: _first(seen["command.send.v1"]), what="send command")
        assert command["in_reply_to"] == wa_id
        assert command["chat_jid"] == "34600111222@s.whatsapp.net"
        assert "Skeleton bot" in command["text"]

        # Hop 4: the session worker sent it on the simulated network.
        sent_event = await eventually(lambda: _first(seen["message.sent.v1"]), what="sent")
        assert sent_event["command_id"] == command["event_id"]
        delivery = await eventually(lambda: _first(seen["simnet.delivery.v1"]), what="delivery")
        assert delivery["customer_phone"] == CUSTOMER
        assert delivery["text"] == command["text"]

        # Hop 5: the lead service stored the reply.
        reply_body = await eventually(
            lambda: pool.fetchval(
                "SELECT body FROM lead_messages WHERE bot_id = $1 AND whatsapp_message_id = $2",
                bot_id,
                sent_event["whatsapp_message_id"],
            ),
            what="reply stored",
        )
        assert reply_body == command["text"]

        # Hop 6: the gateway pushed both messages to the workspace's browsers, and only there.
        def lead_messages() -> list[dict[str, Any]]:
            return [e.data for e in owner_stream.named("NEW_MESSAGE_FOR_SALES", "MESSAGE_SENT")]

        await eventually(lambda: _return(len(lead_messages()) >= 2), what="both on SSE")
        origins = [m["origin"] for m in lead_messages()]
        assert origins[:2] == ["customer", "bot"]
        assert not [e for e in outsider_stream.events if "bot_id" in e.data]

        # The simulator shows the conversation; another workspace cannot read it.
        convo = await owner.get(
            f"/api/v1/bots/{bot_id}/simulator/messages", params={"customer_phone": CUSTOMER}
        )
        assert [m["origin"] for m in convo.json()] == ["customer", "bot"]
        foreign = await outsider.get(
            f"/api/v1/bots/{bot_id}/simulator/messages", params={"customer_phone": CUSTOMER}
        )
        assert foreign.status_code == 404
        del other

        for stream in (owner_stream, outsider_stream):
            await stream.__aexit__()

    count = await pool.fetchval("SELECT count(*) FROM lead_messages WHERE bot_id = $1", bot_id)
    assert count == 2


async def _first(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


async def _return(value: Any) -> Any:
    return value
