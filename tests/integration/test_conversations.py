"""Whole conversations through the real pipeline: simulated WhatsApp, session worker,
lead service, AI worker (local reply engine), real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from relay_common.bus import Bus
from relay_common.contract import MessageReceived, Origin, SendMessage, SimulatedCustomerWrote
from relay_common.db import apply_migrations, create_pool
from relay_common.embedded import drop_database, ensure_database
from relay_common.phone import chat_jid_for_phone
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.infra import Infra
from relay_common.testing.processes import ServiceProcess
from relay_common.testing.waiting import eventually

pytestmark = pytest.mark.timeout(120)


@dataclass
class World:
    pool: asyncpg.Pool
    bus: Bus
    workspace_id: UUID
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    lead_events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def bot(self, name: str, **features: Any) -> UUID:
        async with self.pool.acquire() as conn:
            bot_id = await create_bot(conn, self.workspace_id, name)
            features.setdefault("debounce_ms", 300)
            for column, value in features.items():
                await conn.execute(
                    f"UPDATE bot_features SET {column} = $2 WHERE bot_id = $1", bot_id, value
                )
        return bot_id

    async def customer_writes(self, bot_id: UUID, phone: str, text: str) -> str:
        wa_id = f"C{uuid4().hex.upper()}"
        await self.bus.publish(
            SimulatedCustomerWrote(
                workspace_id=self.workspace_id,
                bot_id=bot_id,
                customer_phone=phone,
                whatsapp_message_id=wa_id,
                text=text,
                sent_at=datetime.now(UTC),
            )
        )
        return wa_id

    def to(self, bot_id: UUID, phone: str) -> list[dict[str, Any]]:
        return [
            d
            for d in self.deliveries
            if d["bot_id"] == str(bot_id) and d["customer_phone"] == phone
        ]

    async def replies(self, bot_id: UUID, phone: str, count: int) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]] | None:
            got = self.to(bot_id, phone)
            return got if len(got) >= count else None

        return await eventually(enough, within_s=30, what=f"{count} replies to {phone}")

    async def lead(self, bot_id: UUID, phone: str) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            "SELECT * FROM leads WHERE bot_id = $1 AND chat_jid = $2",
            bot_id,
            chat_jid_for_phone(phone),
        )
        assert row is not None
        return row


@pytest.fixture(scope="module")
async def world(
    infra: Infra, bus_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    name = f"relay_conv_{uuid4().hex[:8]}"
    url = await ensure_database(infra.admin_database_url, name)
    await apply_migrations(url)
    pool = await create_pool(url, max_size=5)
    from relay_common.bus import connect_bus

    bus = await connect_bus(infra.nats_url, bus_prefix, "conversations")
    await bus.ensure_streams()
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Conversations", f"conv-{uuid4().hex[:6]}@example.com")
    world = World(pool, bus, ws.workspace_id)

    async def on_delivery(msg: Any) -> None:
        world.deliveries.append(json.loads(msg.data))

    async def on_lead(msg: Any) -> None:
        world.lead_events.append((".".join(msg.subject.split(".")[1:4]), json.loads(msg.data)))

    await bus.nc.subscribe(f"{bus_prefix}.simnet.delivery.v1.{ws.workspace_id}.*", cb=on_delivery)
    await bus.nc.subscribe(f"{bus_prefix}.lead.*.v1.{ws.workspace_id}.*", cb=on_lead)
    env = {
        "NATS_URL": infra.nats_url,
        "DATABASE_URL": url,
        "RELAY_BUS_PREFIX": bus_prefix,
        "LEAD_SERVICE_UNCLAIMED_CHECK_S": "1",
    }
    logs = tmp_path_factory.mktemp("conversations")
    procs = [
        ServiceProcess(service, env, Path(logs) / f"{service}.log")
        for service in ("lead-service", "ai-worker", "session-worker")
    ]
    for proc in procs:
        await proc.start()
    yield world
    for proc in procs:
        await proc.stop()
    await bus.close()
    await pool.close()
    await drop_database(infra.admin_database_url, name)


def _events(world: World, kind: str, lead_id: UUID) -> list[dict[str, Any]]:
    return [
        e for k, e in world.lead_events if k == f"lead.{kind}.v1" and e["lead_id"] == str(lead_id)
    ]


async def test_natural_qualification_in_english(world: World) -> None:
    bot = await world.bot("Homes", required_lead_fields=["name", "email"])
    phone = "+14155550101"
    await world.customer_writes(bot, phone, "Hi! I'm interested in the flat on Main Street")
    first = await world.replies(bot, phone, 1)
    assert "your name" in first[0]["text"]
    await world.customer_writes(bot, phone, "My name is John Smith")
    second = await world.replies(bot, phone, 2)
    assert "email" in second[1]["text"]
    await world.customer_writes(bot, phone, "sure, it's john dot smith at gmail dot com")
    third = await world.replies(bot, phone, 3)
    assert "john.smith@gmail.com" in third[2]["text"]

    lead = await world.lead(bot, phone)
    assert (lead["name"], lead["email"], lead["phone"]) == (
        "John Smith",
        "john.smith@gmail.com",
        phone,
    )
    await eventually(
        lambda: _async(len(_events(world, "qualified", lead["id"])) == 1), what="qualified"
    )
    assert lead["status"] == "qualified" or (await world.lead(bot, phone))["status"] == "qualified"
    changes = await world.pool.fetch(
        """SELECT field, new_value, message_id FROM lead_field_changes
           WHERE lead_id = $1 ORDER BY id""",
        lead["id"],
    )
    assert [(c["field"], c["new_value"]) for c in changes] == [
        ("name", "John Smith"),
        ("email", "john.smith@gmail.com"),
    ]
    assert all(c["message_id"] is not None for c in changes)
    await asyncio.sleep(1)
    assert len(_events(world, "qualified", lead["id"])) == 1


async def test_natural_qualification_in_spanish(world: World) -> None:
    bot = await world.bot("Pisos", required_lead_fields=["name", "email"])
    phone = "+34600200300"
    await world.customer_writes(bot, phone, "Hola, quiero información sobre el piso")
    first = await world.replies(bot, phone, 1)
    assert "tu nombre" in first[0]["text"]
    await world.customer_writes(bot, phone, "Me llamo María García")
    await world.replies(bot, phone, 2)
    await world.customer_writes(bot, phone, "mi correo es maria.garcia arroba hotmail punto com")
    third = await world.replies(bot, phone, 3)
    assert "Gracias" in third[2]["text"]
    lead = await world.lead(bot, phone)
    assert lead["email"] == "maria.garcia@hotmail.com"
    assert lead["name"] == "María García"
    await eventually(
        lambda: _async(len(_events(world, "qualified", lead["id"])) == 1), what="qualified"
    )


async def test_a_burst_of_three_messages_gets_one_answer(world: World) -> None:
    bot = await world.bot("Burst", debounce_ms=1500)
    phone = "+14155550102"
    for text in ("hello", "are you there?", "I want to know prices"):
        await world.customer_writes(bot, phone, text)
    await world.replies(bot, phone, 1)
    await asyncio.sleep(3)
    assert len(world.to(bot, phone)) == 1
    stored = await world.pool.fetchval(
        """SELECT count(*) FROM lead_messages m JOIN leads l ON l.id = m.lead_id
           WHERE l.bot_id = $1 AND m.origin = 'customer'""",
        bot,
    )
    assert stored == 3


async def test_human_takeover_and_release_after_idle_time(world: World) -> None:
    bot = await world.bot("Takeover", takeover_idle_s=4)
    phone = "+14155550103"
    await world.customer_writes(bot, phone, "hi there")
    await world.replies(bot, phone, 1)
    await world.bus.publish(
        SendMessage(
            workspace_id=world.workspace_id,
            bot_id=bot,
            chat_jid=chat_jid_for_phone(phone),
            text="Hi, Ana from sales here!",
            origin=Origin.VENDOR,
        )
    )
    await world.replies(bot, phone, 2)
    await eventually(
        lambda: world.pool.fetchval("SELECT human_active_at FROM leads WHERE bot_id = $1", bot),
        what="human took over",
    )
    await world.customer_writes(bot, phone, "great, thanks Ana")
    await asyncio.sleep(2)
    assert len(world.to(bot, phone)) == 2  # the bot kept quiet
    # Someone answering from the bot's own phone also counts as a human.
    await world.bus.publish(
        MessageReceived(
            workspace_id=world.workspace_id,
            bot_id=bot,
            whatsapp_message_id=f"OWN{uuid4().hex.upper()}",
            chat_jid=chat_jid_for_phone(phone),
            text="(typed on the phone) see you tomorrow",
            from_me=True,
            sent_at=datetime.now(UTC),
        )
    )
    await asyncio.sleep(5)  # idle time passes: released
    await world.customer_writes(bot, phone, "one more question")
    third = await world.replies(bot, phone, 3)
    assert third[2]["text"]


def _zone_where_closed(now: datetime) -> tuple[str, str]:
    """Two fixed-offset zones: in the first it is night now, in the second office hours."""
    closed = open_ = None
    for offset in range(-12, 15):
        zone = f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}" if offset else "UTC"
        hour = now.astimezone(ZoneInfo(zone)).hour
        if closed is None and (hour >= 20 or hour < 6):
            closed = zone
        if open_ is None and 11 <= hour < 15:
            open_ = zone
    assert closed is not None
    assert open_ is not None
    return closed, open_


async def test_working_hours_across_time_zones(world: World) -> None:
    closed_zone, open_zone = _zone_where_closed(datetime.now(UTC))
    hours = {
        "working_hours_enabled": True,
        "working_hours_start": datetime.strptime("09:00", "%H:%M").time(),
        "working_hours_end": datetime.strptime("18:00", "%H:%M").time(),
    }
    night = await world.bot(
        "Night", time_zone=closed_zone, away_message="We're closed, back at 9.", **hours
    )
    day = await world.bot("Day", time_zone=open_zone, **hours)
    phone = "+14155550104"
    await world.customer_writes(night, phone, "hello?")
    await world.customer_writes(day, phone, "hello?")
    away = await world.replies(night, phone, 1)
    assert away[0]["text"] == "We're closed, back at 9."
    normal = await world.replies(day, phone, 1)
    assert normal[0]["text"] != "We're closed, back at 9."
    await asyncio.sleep(1)
    await world.customer_writes(night, phone, "anyone?")
    await asyncio.sleep(2.5)
    assert len(world.to(night, phone)) == 1  # one away message per closed period


async def test_keyword_image_is_sent_once_per_conversation(world: World) -> None:
    bot = await world.bot("Menu")
    data = b"\x89PNG\r\n\x1a\n" + b"menu-image" * 10
    sha = hashlib.sha256(data).hexdigest()
    await world.pool.execute(
        """INSERT INTO media_blobs (workspace_id, sha256, content_type, data)
           VALUES ($1, $2, 'image/png', $3)""",
        world.workspace_id,
        sha,
        data,
    )
    await world.pool.execute(
        """INSERT INTO bot_images (workspace_id, bot_id, sha256, content_type, size_bytes,
                                   original_name, keywords)
           VALUES ($1, $2, $3, 'image/png', $4, 'menu.png', ARRAY['menu', 'carta'])""",
        world.workspace_id,
        bot,
        sha,
        len(data),
    )
    phone = "+14155550105"
    await world.customer_writes(bot, phone, "Can I see the MENÚ?")
    got = await world.replies(bot, phone, 2)
    assert [d.get("image_sha256") for d in got] == [None, sha]
    await world.customer_writes(bot, phone, "menu again please")
    await world.replies(bot, phone, 3)
    await asyncio.sleep(2)
    images = [d for d in world.to(bot, phone) if d.get("image_sha256")]
    assert len(images) == 1
    await world.customer_writes(bot, phone, "what about the menus of tomorrow")  # not a whole word
    await asyncio.sleep(2)
    assert len([d for d in world.to(bot, phone) if d.get("image_sha256")]) == 1


async def test_paused_and_disabled_bots_store_but_stay_silent(world: World) -> None:
    paused = await world.bot("Paused")
    await world.pool.execute("UPDATE bots SET status = 'paused' WHERE id = $1", paused)
    phone = "+14155550106"
    await world.customer_writes(paused, phone, "hello?")
    await eventually(
        lambda: world.pool.fetchval("SELECT count(*) FROM leads WHERE bot_id = $1", paused),
        what="stored",
    )
    await asyncio.sleep(2)
    assert world.to(paused, phone) == []


async def _async(value: Any) -> Any:
    return value
