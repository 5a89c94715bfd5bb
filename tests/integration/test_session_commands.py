"""Commands reach the worker holding a bot: pause, resume, relink with a simulated scan,
log out, vendor sends; and commands wait while no worker holds the bot."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from relay_common.bus import Bus
from relay_common.contract import (
    ControlAction,
    ControlBot,
    Origin,
    SendMessage,
    SimulatedCustomerWrote,
    SimulatedPhoneScanned,
)
from relay_common.phone import chat_jid_for_phone
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.waiting import eventually

FAST = {"SESSION_WORKER_LEASE_TTL_S": "3", "SESSION_WORKER_HEARTBEAT_S": "0.5"}


class Watch:
    """Everything published about one bot, by subject path."""

    def __init__(self, bot_id: UUID) -> None:
        self.bot_id = str(bot_id)
        self.seen: dict[str, list[dict[str, Any]]] = {}

    async def on(self, msg: Any) -> None:
        if not msg.subject.endswith(self.bot_id):
            return  # other tests' bots share the bus prefix
        path = ".".join(msg.subject.split(".")[1:4])
        self.seen.setdefault(path, []).append(json.loads(msg.data))

    def of(self, path: str) -> list[dict[str, Any]]:
        return self.seen.get(path, [])


async def _setup(pool: asyncpg.Pool, bus: Bus) -> tuple[UUID, UUID, Watch]:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Cmd", f"cmd-{uuid4().hex[:6]}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "Commanded bot")
    watch = Watch(bot)
    for domain in ("session", "simnet", "deadletter"):
        await bus.nc.subscribe(f"{bus.prefix}.{domain}.>", cb=watch.on)
    return ws.workspace_id, bot, watch


async def _customer_writes(bus: Bus, ws: UUID, bot: UUID, phone: str, text: str) -> str:
    wa_id = f"C{uuid4().hex.upper()}"
    await bus.publish(
        SimulatedCustomerWrote(
            workspace_id=ws,
            bot_id=bot,
            customer_phone=phone,
            whatsapp_message_id=wa_id,
            text=text,
            sent_at=datetime.now(UTC),
        )
    )
    return wa_id


def _states(watch: Watch, bot: UUID) -> list[str]:
    return [e["state"] for e in watch.of("session.state.v1") if e["bot_id"] == str(bot)]


async def _last(items: list[Any]) -> Any:
    return items[-1] if items else None


@pytest.mark.timeout(120)
async def test_pause_resume_vendor_send_relink_scan_and_logout(
    pool: asyncpg.Pool, bus: Bus, start_service: Any
) -> None:
    ws, bot, watch = await _setup(pool, bus)
    for service in ("lead-service", "ai-worker"):
        await start_service(service)
    await start_service("session-worker", **FAST)
    await eventually(lambda: _last([x for x in _states(watch, bot) if x == "connected"]))

    # Paused: the customer's message is stored, the bot stays silent, a vendor can write.
    await bus.publish(ControlBot(workspace_id=ws, bot_id=bot, action=ControlAction.PAUSE))
    await eventually(lambda: _last([x for x in _states(watch, bot) if x == "paused"]))
    phone = "+34611000001"
    wa_id = await _customer_writes(bus, ws, bot, phone, "Are you open today?")
    await eventually(
        lambda: pool.fetchval(
            "SELECT 1 FROM lead_messages WHERE bot_id = $1 AND whatsapp_message_id = $2",
            bot,
            wa_id,
        ),
        what="paused bot stores the message",
    )
    await asyncio.sleep(3)
    assert watch.of("simnet.delivery.v1") == []
    await bus.publish(
        SendMessage(
            workspace_id=ws,
            bot_id=bot,
            chat_jid=chat_jid_for_phone(phone),
            text="Hi, this is Ana from sales.",
            origin=Origin.VENDOR,
        )
    )
    vendor = await eventually(lambda: _last(watch.of("simnet.delivery.v1")), what="vendor send")
    assert vendor["text"] == "Hi, this is Ana from sales."

    # Resumed: answered again.
    await bus.publish(ControlBot(workspace_id=ws, bot_id=bot, action=ControlAction.RESUME))
    await eventually(lambda: _last([x for x in _states(watch, bot)[-1:] if x == "connected"]))
    # Another customer: the first one is in a vendor's hands now (human takeover).
    delivered = len(watch.of("simnet.delivery.v1"))
    await _customer_writes(bus, ws, bot, "+34611000009", "Hello there")
    await eventually(
        lambda: _last(watch.of("simnet.delivery.v1")[delivered:]), what="reply after resume"
    )

    # Relink: a QR code; a simulated phone scans it; the bot is linked to that number.
    await bus.publish(ControlBot(workspace_id=ws, bot_id=bot, action=ControlAction.RELINK))
    linking = await eventually(
        lambda: _last(
            [e for e in watch.of("session.state.v1") if e["state"] == "linking" and e["qr_code"]]
        ),
        what="QR code",
    )
    assert await pool.fetchval("SELECT runtime_state FROM bots WHERE id = $1", bot) == "linking"
    await bus.publish(
        SimulatedPhoneScanned(
            workspace_id=ws, bot_id=bot, qr_code=linking["qr_code"], phone_number="+15557654321"
        )
    )
    linked = await eventually(
        lambda: _last(
            [e for e in watch.of("session.state.v1") if e.get("phone_number") == "+15557654321"]
        ),
        what="linked after scan",
    )
    assert linked["state"] == "connected"
    device = await pool.fetchrow(
        "SELECT device_jid, phone_number FROM bot_devices WHERE bot_id = $1", bot
    )
    assert device is not None
    assert device["phone_number"] == "+15557654321"
    assert device["device_jid"] == "15557654321:1@s.whatsapp.net"

    # Log out: a distinct state with a reason; the device is forgotten.
    await bus.publish(ControlBot(workspace_id=ws, bot_id=bot, action=ControlAction.LOGOUT))
    await eventually(lambda: _last([x for x in _states(watch, bot) if x == "logged_out"]))
    row = await pool.fetchrow("SELECT runtime_state, runtime_reason FROM bots WHERE id = $1", bot)
    assert row is not None
    assert row["runtime_state"] == "logged_out"
    assert row["runtime_reason"]
    assert await pool.fetchval("SELECT count(*) FROM bot_devices WHERE bot_id = $1", bot) == 0


@pytest.mark.timeout(120)
async def test_first_messages_are_refused_and_commands_wait_for_a_holder(
    pool: asyncpg.Pool, bus: Bus, start_service: Any
) -> None:
    ws, bot, watch = await _setup(pool, bus)
    await start_service("lead-service")
    worker = await start_service("session-worker", **FAST)
    await eventually(lambda: _last([x for x in _states(watch, bot) if x == "connected"]))

    stranger = SendMessage(
        workspace_id=ws,
        bot_id=bot,
        chat_jid=chat_jid_for_phone("+34699999999"),
        text="Buy now!",
        origin=Origin.VENDOR,
    )
    await bus.publish(stranger)
    dead = await eventually(lambda: _last(watch.of("deadletter.command.send")))
    assert dead["event_id"] == str(stranger.event_id)
    assert watch.of("simnet.delivery.v1") == []

    phone = "+34611000002"
    await _customer_writes(bus, ws, bot, phone, "Hi")
    await eventually(
        lambda: pool.fetchval("SELECT 1 FROM leads WHERE bot_id = $1 AND phone = $2", bot, phone)
    )
    assert await worker.stop(signal.SIGTERM) == 0  # releases its lease; nobody holds the bot

    queued = SendMessage(
        workspace_id=ws,
        bot_id=bot,
        chat_jid=chat_jid_for_phone(phone),
        text="Sent while no worker held the bot",
        origin=Origin.VENDOR,
    )
    await bus.publish(queued)
    await asyncio.sleep(2)
    assert watch.of("simnet.delivery.v1") == []
    await start_service("session-worker", **FAST)
    delivered = await eventually(lambda: _last(watch.of("simnet.delivery.v1")), within_s=30)
    assert delivered["text"] == "Sent while no worker held the bot"
    sent = await eventually(
        lambda: pool.fetchval(
            "SELECT whatsapp_message_id FROM sent_commands WHERE command_id = $1", queued.event_id
        )
    )
    assert sent == delivered["whatsapp_message_id"]
