"""The live event stream: seed event names, resume by Last-Event-ID on any replica with
no gap and no repeat, role filtering, tenant isolation, heartbeat and slow clients."""

from __future__ import annotations

import asyncio
import functools
import socket
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from relay_common.bus import Bus
from relay_common.contract import (
    BotStatus,
    BotUpdated,
    LeadAssigned,
    LeadMessageRecorded,
    Origin,
    SessionState,
    SessionStateChanged,
)
from relay_common.provisioning import add_member, create_bot, create_workspace
from relay_common.testing.gateway import GatewayFactory
from relay_common.testing.sse import EventStream
from relay_common.testing.waiting import eventually


async def _workspace(pool: asyncpg.Pool) -> dict[str, Any]:
    tag = uuid4().hex[:6]
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, f"Live {tag}", f"owner-{tag}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "Live bot")
        vendors = []
        for name in ("ann", "bob"):
            email = f"{name}-{tag}@example.com"
            user_id = await add_member(conn, ws.workspace_id, email)
            vendors.append((email, user_id))
        leads = []
        for i, assignee in enumerate((vendors[0][1], None)):
            leads.append(
                await conn.fetchval(
                    """INSERT INTO leads (workspace_id, bot_id, chat_jid, status, assigned_to)
                       VALUES ($1, $2, $3, $4, $5) RETURNING id""",
                    ws.workspace_id,
                    bot,
                    f"3460000{tag}{i}@s.whatsapp.net",
                    "assigned" if assignee else "qualified",
                    assignee,
                )
            )
    return {
        "ws": ws.workspace_id,
        "bot": bot,
        "owner": f"owner-{tag}@example.com",
        "vendors": vendors,
        "leads": leads,
    }


def _renamed(t: dict[str, Any], name: str) -> BotUpdated:
    return BotUpdated(
        workspace_id=t["ws"], bot_id=t["bot"], name=name, status=BotStatus.ENABLED, changed=["name"]
    )


def _message(t: dict[str, Any], lead_id: UUID, text: str) -> LeadMessageRecorded:
    return LeadMessageRecorded(
        workspace_id=t["ws"],
        bot_id=t["bot"],
        lead_id=lead_id,
        chat_jid="x@s.whatsapp.net",
        message_id=uuid4(),
        whatsapp_message_id=uuid4().hex,
        origin=Origin.CUSTOMER,
        text=text,
        sent_at=datetime.now(UTC),
    )


async def _names_of(stream: EventStream, name: str, n: int) -> list[str]:
    async def enough() -> list[str] | None:
        found = [e.data["name"] for e in stream.named(name)]
        return found if len(found) >= n else None

    return await eventually(enough, within_s=15, what=f"{n} {name}")


@pytest.mark.timeout(120)
async def test_resume_on_another_replica_without_gap_or_repeat(
    pool: asyncpg.Pool, bus: Bus, start_gateway: GatewayFactory
) -> None:
    t = await _workspace(pool)
    first, second = await start_gateway(), await start_gateway()
    owner = await first.client(t["owner"])
    async with EventStream(owner) as stream:
        await eventually(lambda: _ready(stream, "INIT_LEADS"), what="snapshot")
        assert [e.name for e in stream.events[:3]] == ["CONNECTED", "INIT", "INIT_LEADS"]
        init = stream.named("INIT")[0].data
        assert [b["id"] for b in init["bots"]] == [str(t["bot"])]
        assert {lead["id"] for lead in stream.named("INIT_LEADS")[0].data["leads"]} == {
            str(lead) for lead in t["leads"]
        }
        for i in range(3):
            await bus.publish(_renamed(t, f"before {i}"))
        assert await _names_of(stream, "UPDATE_BOT", 3) == ["before 0", "before 1", "before 2"]
        last_id = stream.last_id
        ids = [e.id or 0 for e in stream.named("UPDATE_BOT")]
        assert ids == sorted(ids)
        assert len(set(ids)) == 3

    for i in range(3):
        await bus.publish(_renamed(t, f"missed {i}"))
    # The browser reconnects to the other replica, as a load balancer may send it.
    moved = await second.client(t["owner"])
    async with EventStream(moved, headers={"Last-Event-ID": str(last_id)}) as resumed:
        expected = ["missed 0", "missed 1", "missed 2"]
        assert await _names_of(resumed, "UPDATE_BOT", 3) == expected
        await bus.publish(_renamed(t, "live"))
        assert await _names_of(resumed, "UPDATE_BOT", 4) == [*expected, "live"]
        assert not resumed.named("INIT")  # a resume continues, it does not start over
        await asyncio.sleep(0.5)
        assert len(resumed.named("UPDATE_BOT")) == 4


@pytest.mark.timeout(120)
async def test_an_id_that_cannot_be_resumed_starts_afresh(
    pool: asyncpg.Pool, bus: Bus, start_gateway: GatewayFactory
) -> None:
    t = await _workspace(pool)
    gateway = await start_gateway()
    owner = await gateway.client(t["owner"])
    future = {"Last-Event-ID": str(10**12)}
    async with EventStream(owner, headers=future) as stream:
        await eventually(lambda: _ready(stream, "INIT_LEADS"), what="fresh start")
        await bus.publish(_renamed(t, "after"))
        assert await _names_of(stream, "UPDATE_BOT", 1) == ["after"]
    bad = await (await gateway.client(t["owner"])).get(
        "/api/v1/events", headers={"Last-Event-ID": "yesterday"}
    )
    assert bad.status_code == 422


@pytest.mark.timeout(120)
async def test_vendors_see_only_their_leads_and_no_qr_codes(
    pool: asyncpg.Pool, bus: Bus, start_gateway: GatewayFactory
) -> None:
    t = await _workspace(pool)
    other = await _workspace(pool)
    gateway = await start_gateway()
    (ann_email, _), (bob_email, bob_id) = t["vendors"]
    ann_lead, open_lead = t["leads"]
    clients = {
        "owner": await gateway.client(t["owner"]),
        "ann": await gateway.client(ann_email),
        "bob": await gateway.client(bob_email),
        "outsider": await gateway.client(other["owner"]),
    }
    streams = {who: EventStream(c) for who, c in clients.items()}
    for stream in streams.values():
        await stream.__aenter__()
    try:
        for stream in streams.values():
            await eventually(functools.partial(_ready, stream, "INIT_LEADS"), what="snapshot")
        assert [x["id"] for x in streams["ann"].named("INIT_LEADS")[0].data["leads"]] == [
            str(ann_lead)
        ]
        assert streams["bob"].named("INIT_LEADS")[0].data["leads"] == []
        outsiders_leads = streams["outsider"].named("INIT_LEADS")[0].data["leads"]
        assert {x["id"] for x in outsiders_leads} == {str(x) for x in other["leads"]}

        await bus.publish(
            SessionStateChanged(
                workspace_id=t["ws"], bot_id=t["bot"], state=SessionState.LINKING, qr_code="2@abc"
            )
        )
        await bus.publish(_message(t, ann_lead, "for ann"))
        await bus.publish(_message(t, open_lead, "for nobody yet"))
        await bus.publish(
            LeadAssigned(
                workspace_id=t["ws"],
                bot_id=t["bot"],
                lead_id=open_lead,
                vendor_user_id=bob_id,
                at=datetime.now(UTC),
            )
        )
        await bus.publish(_message(t, open_lead, "for bob"))
        await bus.publish(_renamed(t, "everyone sees this"))

        def texts(who: str) -> list[str]:
            return [e.data["text"] for e in streams[who].named("NEW_MESSAGE_FOR_SALES")]

        await eventually(lambda: _return(len(texts("owner")) == 3), what="owner's messages")
        await eventually(lambda: _return(streams["bob"].named("UPDATE_BOT")), what="bob's")
        await eventually(lambda: _return(streams["ann"].named("UPDATE_BOT")), what="ann's")
        assert texts("owner") == ["for ann", "for nobody yet", "for bob"]
        assert texts("ann") == ["for ann"]
        assert texts("bob") == ["for bob"]
        assert [e.data["lead_id"] for e in streams["bob"].named("LEAD_ASSIGNED")] == [
            str(open_lead)
        ]
        assert not streams["ann"].named("LEAD_ASSIGNED")
        qr = streams["owner"].named("QR_GENERATED")
        assert qr
        assert qr[0].data["qr_data_url"].startswith("data:image/png;base64,")
        for vendor in ("ann", "bob"):
            assert not streams[vendor].named("QR_GENERATED")
        await asyncio.sleep(0.3)
        assert [e.name for e in streams["outsider"].events] == ["CONNECTED", "INIT", "INIT_LEADS"]
        assert _no_trace_of(streams["outsider"].events, t)
    finally:
        for stream in streams.values():
            await stream.__aexit__()


@pytest.mark.timeout(120)
async def test_lead_history_on_request_and_only_for_visible_leads(
    pool: asyncpg.Pool, start_gateway: GatewayFactory
) -> None:
    t = await _workspace(pool)
    other = await _workspace(pool)
    ann_lead, open_lead = t["leads"]
    await pool.execute(
        """INSERT INTO lead_messages (workspace_id, bot_id, lead_id, whatsapp_message_id,
                                      origin, body, sent_at)
           VALUES ($1, $2, $3, 'WA1', 'customer', 'hello', now())""",
        t["ws"],
        t["bot"],
        ann_lead,
    )
    gateway = await start_gateway()
    ann = await gateway.client(t["vendors"][0][0])
    async with EventStream(ann, params={"lead_id": str(ann_lead)}) as stream:
        await eventually(lambda: _ready(stream, "LEAD_MESSAGES"), what="history")
        history = stream.named("LEAD_MESSAGES")[0].data
        assert [m["text"] for m in history["messages"]] == ["hello"]
    for lead in (open_lead, other["leads"][0]):
        refused = await ann.get("/api/v1/events", params={"lead_id": str(lead)})
        assert refused.status_code == 404


@pytest.mark.timeout(120)
async def test_heartbeat_and_slow_clients_are_dropped_not_the_gateway(
    pool: asyncpg.Pool, bus: Bus, start_gateway: GatewayFactory
) -> None:
    t = await _workspace(pool)
    gateway = await start_gateway(GATEWAY_SSE_QUEUE_SIZE="50", GATEWAY_SSE_HEARTBEAT_S="0.3")
    owner = await gateway.client(t["owner"])
    cookie = "; ".join(f"{k}={v}" for k, v in owner.cookies.items())
    port = int(gateway.base_url.rsplit(":", 1)[1])

    # A client that reads nothing, with a tiny receive window: its queue fills up.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    slow.connect(("127.0.0.1", port))
    slow.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n".encode())
    slow.settimeout(10)
    assert slow.recv(20).startswith(b"HTTP/1.1 200")
    async with EventStream(owner) as healthy:
        await eventually(lambda: _ready(healthy, "INIT_LEADS"), what="healthy stream")
        padding = "x" * 16000
        # 8 MB: more than the kernel's socket buffers (4 MB at most here) and the queue.
        for i in range(500):
            await bus.publish(_renamed(t, f"{i} {padding}"))
            await asyncio.sleep(0.005)  # a busy bot, not a flood: readers keep up
        names = await _names_of(healthy, "UPDATE_BOT", 500)
        assert [int(n.split()[0]) for n in names] == list(range(500))
    log = gateway.process.log_text()
    assert "sse_client_dropped" in log
    assert gateway.process.proc is not None
    assert gateway.process.proc.returncode is None
    slow.close()

    raw = await gateway.client(t["owner"])
    async with raw.stream("GET", "/api/v1/events") as response:
        seen = b""
        async for chunk in response.aiter_bytes():
            seen += chunk
            if b": heartbeat" in seen:
                break
    assert b": heartbeat" in seen


async def _ready(stream: EventStream, name: str) -> bool:
    return bool(stream.named(name))


async def _return(value: Any) -> Any:
    return value


def _no_trace_of(events: list[Any], t: dict[str, Any]) -> bool:
    text = repr([e.data for e in events])
    return str(t["bot"]) not in text and str(t["ws"]) not in text


@pytest.mark.timeout(120)
async def test_streams_end_when_access_is_taken_away(
    pool: asyncpg.Pool, start_gateway: GatewayFactory
) -> None:
    t = await _workspace(pool)
    (ann_email, ann_id), (bob_email, bob_id) = t["vendors"]
    # Heartbeats far apart: what ends the streams here is the revocation itself.
    gateway = await start_gateway(GATEWAY_SSE_HEARTBEAT_S="600")
    owner, ann = await gateway.client(t["owner"]), await gateway.client(ann_email)
    created = await owner.post("/api/v1/api-keys", json={"name": "feed", "scopes": ["read"]})
    key = created.json()
    integrator = await gateway.client(headers={"Authorization": f"Bearer {key['key']}"})
    async with EventStream(ann) as ann_stream, EventStream(integrator) as key_stream:
        for stream in (ann_stream, key_stream):
            await eventually(functools.partial(_ready, stream, "INIT_LEADS"), what="open")
        await owner.patch(f"/api/v1/team/{ann_id}", json={"is_active": False})
        await asyncio.wait_for(ann_stream.closed.wait(), 5)
        assert not key_stream.closed.is_set()
        await owner.delete(f"/api/v1/api-keys/{key['id']}")
        await asyncio.wait_for(key_stream.closed.wait(), 5)
    assert (await ann.get("/api/v1/events")).status_code == 401
    assert (await integrator.get("/api/v1/events")).status_code == 401

    # A change made behind the API's back is caught by the periodic check.
    watchful = await start_gateway(GATEWAY_SSE_HEARTBEAT_S="0.3")
    bob = await watchful.client(bob_email)
    async with EventStream(bob) as bob_stream:
        await eventually(functools.partial(_ready, bob_stream, "INIT_LEADS"), what="open")
        await pool.execute(
            "UPDATE memberships SET role = 'admin' WHERE workspace_id = $1 AND user_id = $2",
            t["ws"],
            bob_id,
        )
        await asyncio.wait_for(bob_stream.closed.wait(), 5)
