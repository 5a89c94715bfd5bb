"""The leads API: list with filters, search and cursor pages, detail, CSV export,
assignment and status with their public events, notes, and messages written by vendors.
Leads and messages are written with SQL here; the pipeline that makes them is tested
elsewhere."""

from __future__ import annotations

import base64
import csv
import io
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import asyncpg
import pytest
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from relay_common.bus import Bus
from relay_common.contract import subjects
from relay_common.db import DbConn
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.gateway import Gateway, GatewayFactory
from relay_common.testing.waiting import eventually
from relay_gateway.repo.principals import hash_api_key

T = TypeVar("T")

NOW = datetime.now(UTC).replace(microsecond=123456)


def unique(label: str) -> str:
    return f"{label}-{uuid4().hex[:6]}@example.com"


async def add_member(conn: DbConn, workspace_id: UUID, role: str, *, active: bool = True) -> str:
    email = unique(role)
    user_id = await conn.fetchval("INSERT INTO users (email) VALUES ($1) RETURNING id", email)
    await conn.execute(
        "INSERT INTO memberships (workspace_id, user_id, role, is_active) VALUES ($1, $2, $3, $4)",
        workspace_id,
        user_id,
        role,
        active,
    )
    return email


async def user_id(conn: DbConn, email: str) -> UUID:
    found: UUID = await conn.fetchval("SELECT id FROM users WHERE email = $1", email)
    return found


async def add_lead(
    conn: DbConn, workspace_id: UUID, bot_id: UUID, *, minutes_ago: float, **columns: Any
) -> UUID:
    values = {
        "workspace_id": workspace_id,
        "bot_id": bot_id,
        "chat_jid": f"{uuid4().int % 10**12}@s.whatsapp.net",
        "last_message_at": NOW - timedelta(minutes=minutes_ago),
        "created_at": NOW - timedelta(days=1),
        **columns,
    }
    names = ", ".join(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    lead_id: UUID = await conn.fetchval(
        f"INSERT INTO leads ({names}) VALUES ({placeholders}) RETURNING id", *values.values()
    )
    return lead_id


async def add_api_key(conn: DbConn, workspace_id: UUID, scopes: list[str]) -> str:
    key = f"rly_{secrets.token_urlsafe(24)}"
    await conn.execute(
        """INSERT INTO api_keys (workspace_id, name, prefix, key_hash, scopes)
           VALUES ($1, 'tests', $2, $3, $4)""",
        workspace_id,
        key[:8],
        hash_api_key(key),
        scopes,
    )
    return key


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


class Received:
    """Bus messages on a subject, as JSON, in the order they arrived."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def take(self, msg: Msg) -> None:
        self.messages.append(json.loads(msg.data))

    def about(self, lead_id: UUID) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["lead_id"] == str(lead_id)]


async def soon(check: Callable[[], T], *, what: str) -> T:
    """``check()`` once it is truthy."""

    async def probe() -> T | None:
        found = check()
        return found if found else None

    return await eventually(probe, within_s=15, what=what)


Listen = Callable[[str], Awaitable[Received]]


@pytest.fixture
async def listen(bus: Bus) -> AsyncIterator[Listen]:
    """``await listen(subject)``: what the bus carries on it from now on."""
    subscriptions: list[Subscription] = []

    async def subscribe(subject: str) -> Received:
        received = Received()
        subscriptions.append(await bus.nc.subscribe(subject, cb=received.take))
        await bus.nc.flush()
        return received

    yield subscribe
    for subscription in subscriptions:
        await subscription.unsubscribe()


@dataclass
class Shop:
    """A workspace with two bots, an owner, two vendors, and five leads (newest first:
    ana, bob, carla, formula, nameless)."""

    workspace_id: UUID
    sales: UUID
    support: UUID
    owner: str
    vendor: str
    vendor_id: UUID
    other_vendor: str
    other_vendor_id: UUID
    ana: UUID
    bob: UUID
    carla: UUID
    formula: UUID
    nameless: UUID


async def open_shop(conn: DbConn) -> Shop:
    owner = unique("owner")
    ws = await create_workspace(conn, "Shop", owner)
    sales = await create_bot(conn, ws.workspace_id, "Sales")
    support = await create_bot(conn, ws.workspace_id, "Support")
    vendor = await add_member(conn, ws.workspace_id, "vendor")
    other_vendor = await add_member(conn, ws.workspace_id, "vendor")
    vendor_id = await user_id(conn, vendor)
    other_vendor_id = await user_id(conn, other_vendor)
    w = ws.workspace_id
    ana = await add_lead(
        conn,
        w,
        sales,
        minutes_ago=1,
        name="Ana 100% real",
        email="ANA@example.com",
        status="qualified",
        qualified_at=NOW,
    )
    bob = await add_lead(
        conn,
        w,
        sales,
        minutes_ago=2,
        name="Bob_Smith",
        whatsapp_number="+34600111222",
        phone="+34600111222",
        created_at=NOW,
    )
    carla = await add_lead(
        conn,
        w,
        support,
        minutes_ago=3,
        name="Carla",
        location="Madrid",
        status="assigned",
        assigned_to=vendor_id,
        assigned_at=NOW,
        qualified_at=NOW,
    )
    formula = await add_lead(
        conn,
        w,
        support,
        minutes_ago=4,
        name='=HYPERLINK("http://evil.example","x")',
        email="@SUM(1+1)",
        location="-2+3",
        status="won",
        assigned_to=other_vendor_id,
        qualified_at=NOW,
    )
    nameless = await add_lead(conn, w, sales, minutes_ago=5, status="lost")
    return Shop(
        w,
        sales,
        support,
        owner,
        vendor,
        vendor_id,
        other_vendor,
        other_vendor_id,
        ana,
        bob,
        carla,
        formula,
        nameless,
    )


async def other_workspace(conn: DbConn) -> tuple[str, UUID]:
    """Another tenant with one lead: its owner's email and the lead."""
    owner = unique("rival")
    ws = await create_workspace(conn, "Rival", owner)
    bot = await create_bot(conn, ws.workspace_id, "Rival bot")
    lead = await add_lead(conn, ws.workspace_id, bot, minutes_ago=0, name="Ana rival")
    return owner, lead


@pytest.mark.timeout(120)
async def test_list_filters_search_pages_and_export(
    pool: asyncpg.Pool, start_gateway: GatewayFactory
) -> None:
    async with pool.acquire() as conn:
        shop = await open_shop(conn)
        rival_owner, rival_lead = await other_workspace(conn)
    gw = await start_gateway()
    owner = await gw.client(shop.owner)
    vendor = await gw.client(shop.vendor)
    rival = await gw.client(rival_owner)

    async def listed(**params: Any) -> list[str]:
        response = await owner.get("/api/v1/leads", params=params)
        assert response.status_code == 200, response.text
        return ids(response.json())

    everyone = [shop.ana, shop.bob, shop.carla, shop.formula, shop.nameless]
    assert await listed() == [str(i) for i in everyone]
    first = (await owner.get("/api/v1/leads")).json()
    assert first["next_cursor"] is None
    carla = next(item for item in first["items"] if item["id"] == str(shop.carla))
    assert carla["bot_name"] == "Support"
    assert carla["assignee"] == {"id": str(shop.vendor_id), "email": shop.vendor}
    assert carla["status"] == "assigned"

    assert await listed(status=["qualified", "won"]) == [str(shop.ana), str(shop.formula)]
    assert await listed(bot_id=str(shop.support)) == [str(shop.carla), str(shop.formula)]
    assert await listed(assigned_to="none") == [str(shop.ana), str(shop.bob), str(shop.nameless)]
    assert await listed(assigned_to=str(shop.vendor_id)) == [str(shop.carla)]
    assert await listed(assigned_to="me") == []
    assert await listed(qualified_only="true") == [
        str(shop.ana),
        str(shop.carla),
        str(shop.formula),
    ]
    assert await listed(created_since=(NOW - timedelta(hours=1)).isoformat()) == [str(shop.bob)]
    assert await listed(updated_since=(NOW - timedelta(seconds=150)).isoformat()) == [
        str(shop.ana),
        str(shop.bob),
        str(shop.carla),  # assigned just now, though its last message is older
        str(shop.formula),  # qualified just now
    ]
    assert await listed(status="lost", bot_id=str(shop.sales)) == [str(shop.nameless)]

    # Search: name, email (any case), phone and WhatsApp number; LIKE wildcards are text.
    assert await listed(q="ana") == [str(shop.ana)]
    assert await listed(q="600111") == [str(shop.bob)]
    assert await listed(q="%") == [str(shop.ana)]
    assert await listed(q="_") == [str(shop.bob)]
    assert await listed(q="nobody-like-this") == []

    # Pages of two: three pages, every lead once, in order.
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await owner.get("/api/v1/leads", params=params)).json()
        pages += 1
        seen += ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [str(i) for i in everyone]
    # A page of a filtered list keeps the filter.
    support_page = (
        await owner.get("/api/v1/leads", params={"limit": 1, "bot_id": str(shop.support)})
    ).json()
    assert ids(support_page) == [str(shop.carla)]
    rest = await listed(bot_id=str(shop.support), cursor=support_page["next_cursor"])
    assert rest == [str(shop.formula)]

    for bad in ("!!!", base64.urlsafe_b64encode(b"not-a-cursor").decode(), "x" * 500):
        response = await owner.get("/api/v1/leads", params={"cursor": bad})
        assert response.status_code == 400, bad
        assert response.json()["code"] == "bad_cursor"
    for params in (
        {"limit": 0},
        {"limit": 201},
        {"status": "sleeping"},
        {"assigned_to": "someone"},
        {"bot_id": "not-a-uuid"},
        {"q": ""},
        {"q": "nul\x00"},
        {"updated_since": "yesterday"},
    ):
        assert (await owner.get("/api/v1/leads", params=params)).status_code == 422, params

    # Vendors: only their own leads, whatever they ask for.
    mine = (await vendor.get("/api/v1/leads")).json()
    assert ids(mine) == [str(shop.carla)]
    assert ids((await vendor.get("/api/v1/leads", params={"assigned_to": "none"})).json()) == []
    assert (
        ids(
            (
                await vendor.get("/api/v1/leads", params={"assigned_to": str(shop.other_vendor_id)})
            ).json()
        )
        == []
    )
    assert (await vendor.get(f"/api/v1/leads/{shop.carla}")).status_code == 200
    assert (await vendor.get(f"/api/v1/leads/{shop.ana}")).status_code == 404
    assert (await vendor.get(f"/api/v1/leads/{shop.formula}")).status_code == 404
    assert (await vendor.get("/api/v1/leads/export.csv")).status_code == 403

    # CSV export: every matching lead, parsed back, with formula-looking cells defused.
    export = await owner.get("/api/v1/leads/export.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"] == (
        f'attachment; filename="leads-{datetime.now(UTC).date().isoformat()}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert list(rows[0]) == [
        "id",
        "bot",
        "name",
        "email",
        "phone",
        "location",
        "whatsapp_number",
        "status",
        "assigned_to",
        "created_at",
        "qualified_at",
        "last_message_at",
    ]
    assert [r["id"] for r in rows] == [str(i) for i in everyone]
    by_id = {r["id"]: r for r in rows}
    assert by_id[str(shop.ana)]["name"] == "Ana 100% real"
    assert by_id[str(shop.ana)]["bot"] == "Sales"
    assert by_id[str(shop.ana)]["qualified_at"] == NOW.isoformat()
    assert by_id[str(shop.bob)]["whatsapp_number"] == "'+34600111222"
    assert by_id[str(shop.carla)]["assigned_to"] == shop.vendor
    assert by_id[str(shop.carla)]["location"] == "Madrid"
    formula = by_id[str(shop.formula)]
    assert formula["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert formula["email"] == "'@SUM(1+1)"
    assert formula["location"] == "'-2+3"
    assert by_id[str(shop.nameless)]["name"] == ""
    won = await owner.get("/api/v1/leads/export.csv", params={"status": "won"})
    assert [r["id"] for r in csv.DictReader(io.StringIO(won.text))] == [str(shop.formula)]
    searched = await owner.get("/api/v1/leads/export.csv", params={"q": "%"})
    assert [r["id"] for r in csv.DictReader(io.StringIO(searched.text))] == [str(shop.ana)]

    # Another workspace sees none of it, and its ids mean nothing here.
    assert ids((await rival.get("/api/v1/leads")).json()) == [str(rival_lead)]
    rival_export = await rival.get("/api/v1/leads/export.csv")
    assert [r["id"] for r in csv.DictReader(io.StringIO(rival_export.text))] == [str(rival_lead)]
    assert (await owner.get(f"/api/v1/leads/{rival_lead}")).status_code == 404
    assert (await owner.get(f"/api/v1/leads/{rival_lead}/notes")).status_code == 404
    assert (await rival.get(f"/api/v1/leads/{shop.ana}")).status_code == 404
    assert (await rival.get("/api/v1/leads", params={"bot_id": str(shop.sales)})).json()[
        "items"
    ] == []


@pytest.mark.timeout(120)
async def test_lead_detail_has_conversation_notes_and_field_history(
    pool: asyncpg.Pool, start_gateway: GatewayFactory
) -> None:
    async with pool.acquire() as conn:
        shop = await open_shop(conn)
        lead = shop.carla
        await conn.execute(
            "UPDATE leads SET field_sources = $2 WHERE id = $1",
            lead,
            {"name": {"confidence": 0.9, "source": "model"}},
        )

        async def message(minutes_ago: int, origin: str, body: str, **more: Any) -> UUID:
            found: UUID = await conn.fetchval(
                """INSERT INTO lead_messages (workspace_id, bot_id, lead_id,
                       whatsapp_message_id, origin, kind, body, media, sent_by, sent_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id""",
                shop.workspace_id,
                shop.support,
                lead,
                f"WA{uuid4().hex}",
                origin,
                more.get("kind", "text"),
                body,
                more.get("media"),
                more.get("sent_by"),
                NOW - timedelta(minutes=minutes_ago),
            )
            return found

        # Stored out of order: the detail lists them by when they were sent.
        reply = await message(8, "bot", "Hi! Who are you?")
        hello = await message(9, "customer", "Hello")
        photo = await message(7, "customer", "", kind="image", media={"sha256": "ab" * 32})
        vendor_says = await message(6, "vendor", "I'll call you", sent_by=shop.vendor_id)
        await conn.execute(
            """INSERT INTO lead_field_changes (workspace_id, lead_id, field, old_value,
                   new_value, confidence, source, message_id)
               VALUES ($1, $2, 'name', NULL, 'Carla', 0.9, 'model', $3)""",
            shop.workspace_id,
            lead,
            reply,
        )
        rival_owner, rival_lead = await other_workspace(conn)
    gw = await start_gateway()
    owner = await gw.client(shop.owner)
    vendor = await gw.client(shop.vendor)
    rival = await gw.client(rival_owner)

    note = await vendor.post(f"/api/v1/leads/{lead}/notes", json={"body": "Wants a quote"})
    assert note.status_code == 201, note.text
    assert note.json()["author_email"] == shop.vendor
    second = await owner.post(f"/api/v1/leads/{lead}/notes", json={"body": "=1+1 is fine here"})
    assert second.status_code == 201

    response = await owner.get(f"/api/v1/leads/{lead}")
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["name"] == "Carla"
    assert detail["bot_name"] == "Support"
    assert detail["assignee"] == {"id": str(shop.vendor_id), "email": shop.vendor}
    assert detail["field_sources"] == {"name": {"confidence": 0.9, "source": "model"}}
    assert [m["id"] for m in detail["messages"]] == [
        str(hello),
        str(reply),
        str(photo),
        str(vendor_says),
    ]
    assert [m["origin"] for m in detail["messages"]] == ["customer", "bot", "customer", "vendor"]
    assert detail["messages"][0]["text"] == "Hello"
    assert detail["messages"][0]["whatsapp_message_id"].startswith("WA")
    assert detail["messages"][2]["kind"] == "image"
    assert detail["messages"][2]["media"] == {"sha256": "ab" * 32}
    assert detail["messages"][3]["sent_by"] == str(shop.vendor_id)
    assert [(n["author_email"], n["body"]) for n in detail["notes"]] == [
        (shop.vendor, "Wants a quote"),
        (shop.owner, "=1+1 is fine here"),
    ]
    [change] = detail["field_changes"]
    assert (change["field"], change["old_value"], change["new_value"]) == ("name", None, "Carla")
    assert change["message_id"] == str(reply)
    assert change["source"] == "model"

    notes = (await vendor.get(f"/api/v1/leads/{lead}/notes")).json()
    assert [n["body"] for n in notes] == ["Wants a quote", "=1+1 is fine here"]
    assert (await vendor.get(f"/api/v1/leads/{shop.ana}/notes")).status_code == 404
    assert (
        await vendor.post(f"/api/v1/leads/{shop.ana}/notes", json={"body": "not mine"})
    ).status_code == 404
    for bad in ({"body": ""}, {"body": "x" * 5001}, {"body": "nul\x00"}, {}):
        assert (await owner.post(f"/api/v1/leads/{lead}/notes", json=bad)).status_code == 422, bad
    assert (await owner.get(f"/api/v1/leads/{uuid4()}")).status_code == 404
    assert (await owner.get("/api/v1/leads/not-a-uuid")).status_code == 422

    # Another workspace can neither read nor write on this lead.
    assert (await rival.get(f"/api/v1/leads/{lead}")).status_code == 404
    assert (await rival.get(f"/api/v1/leads/{lead}/notes")).status_code == 404
    assert (await rival.post(f"/api/v1/leads/{lead}/notes", json={"body": "hi"})).status_code == 404
    assert (
        await owner.post(f"/api/v1/leads/{rival_lead}/notes", json={"body": "hi"})
    ).status_code == 404
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM lead_notes WHERE lead_id = $1", lead) == 2
        assert (
            await conn.fetchval("SELECT count(*) FROM lead_notes WHERE lead_id = $1", rival_lead)
            == 0
        )


async def lead_row(pool: asyncpg.Pool, lead_id: UUID) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT status, assigned_to, assigned_at FROM leads WHERE id = $1", lead_id
    )
    assert row is not None
    return dict(row)


@pytest.mark.timeout(120)
async def test_assign_release_and_status_publish_lead_events(
    pool: asyncpg.Pool, bus: Bus, listen: Listen, start_gateway: GatewayFactory
) -> None:
    async with pool.acquire() as conn:
        shop = await open_shop(conn)
        admin = await add_member(conn, shop.workspace_id, "admin")
        retired = await add_member(conn, shop.workspace_id, "vendor", active=False)
        retired_id = await user_id(conn, retired)
        rival_owner, rival_lead = await other_workspace(conn)
        rival_owner_id = await user_id(conn, rival_owner)
    assigned = await listen(subjects.LEAD_ASSIGNED.for_workspace(bus.prefix, shop.workspace_id))
    statuses = await listen(subjects.LEAD_STATUS.for_workspace(bus.prefix, shop.workspace_id))
    gw = await start_gateway()
    boss = await gw.client(admin)
    vendor = await gw.client(shop.vendor)
    rival = await gw.client(rival_owner)
    lead = shop.ana  # qualified, nobody's

    # An admin gives the lead to a vendor: assigned, with both events.
    response = await boss.put(
        f"/api/v1/leads/{lead}/assignee", json={"user_id": str(shop.vendor_id)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "assigned"
    assert body["assignee"] == {"id": str(shop.vendor_id), "email": shop.vendor}
    row = await lead_row(pool, lead)
    assert (row["status"], row["assigned_to"]) == ("assigned", shop.vendor_id)
    assert row["assigned_at"] is not None

    [event] = await soon(lambda: assigned.about(lead), what="LeadAssigned")
    assert event["vendor_user_id"] == str(shop.vendor_id)
    assert event["vendor_email"] == shop.vendor
    assert event["by"] == "manual"
    assert event["bot_id"] == str(shop.sales)
    [change] = await soon(lambda: statuses.about(lead), what="LeadStatusChanged")
    assert (change["status"], change["previous"]) == ("assigned", "qualified")
    action = await pool.fetchval(
        "SELECT action FROM audit_log WHERE workspace_id = $1 AND target_id = $2",
        shop.workspace_id,
        str(lead),
    )
    assert action == "lead.assigned"

    # The vendor now sees it; they may not reassign it; wrong assignees are refused.
    assert (await vendor.get(f"/api/v1/leads/{lead}")).status_code == 200
    assert (
        await vendor.put(f"/api/v1/leads/{lead}/assignee", json={"user_id": str(shop.vendor_id)})
    ).status_code == 403
    for user, code in ((rival_owner_id, 422), (uuid4(), 422), (retired_id, 409)):
        refused = await boss.put(f"/api/v1/leads/{lead}/assignee", json={"user_id": str(user)})
        assert refused.status_code == code, refused.text
        assert refused.json()["message"]
    assert (await boss.put(f"/api/v1/leads/{lead}/assignee", json={})).status_code == 422

    # Status: no going back to qualified while assigned; the vendor wins it.
    conflict = await vendor.put(f"/api/v1/leads/{lead}/status", json={"status": "qualified"})
    assert conflict.status_code == 409
    won = await vendor.put(f"/api/v1/leads/{lead}/status", json={"status": "won"})
    assert won.status_code == 200, won.text
    assert won.json()["status"] == "won"
    await soon(lambda: len(statuses.about(lead)) == 2, what="won status event")
    assert (statuses.about(lead)[1]["status"], statuses.about(lead)[1]["previous"]) == (
        "won",
        "assigned",
    )
    assert (
        await vendor.put(f"/api/v1/leads/{lead}/status", json={"status": "rich"})
    ).status_code == 422
    assert (
        await vendor.put(f"/api/v1/leads/{shop.bob}/status", json={"status": "won"})
    ).status_code == 404
    assert (
        await boss.put(f"/api/v1/leads/{shop.bob}/status", json={"status": "assigned"})
    ).status_code == 409

    # Back to assigned, then the vendor hands it back: qualified again, released.
    again = await boss.put(f"/api/v1/leads/{lead}/status", json={"status": "assigned"})
    assert again.status_code == 200
    released = await vendor.delete(f"/api/v1/leads/{lead}/assignee")
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "qualified"
    assert released.json()["assignee"] is None
    row = await lead_row(pool, lead)
    assert (row["status"], row["assigned_to"], row["assigned_at"]) == ("qualified", None, None)
    await soon(lambda: len(assigned.about(lead)) == 2, what="release event")
    release = assigned.about(lead)[1]
    assert (release["vendor_user_id"], release["by"]) == (None, "release")
    await soon(lambda: len(statuses.about(lead)) == 4, what="released status event")
    assert [(s["status"], s["previous"]) for s in statuses.about(lead)[2:]] == [
        ("assigned", "won"),
        ("qualified", "assigned"),
    ]
    assert (await vendor.get(f"/api/v1/leads/{lead}")).status_code == 404
    assert (await vendor.delete(f"/api/v1/leads/{lead}/assignee")).status_code == 404

    # An admin releases a won lead: it stays won, and only the release is published.
    won_one = shop.formula
    response = await boss.delete(f"/api/v1/leads/{won_one}/assignee")
    assert response.status_code == 200
    assert response.json()["status"] == "won"
    await soon(lambda: assigned.about(won_one), what="admin release event")
    assert statuses.about(won_one) == []
    # A lead assigned while capturing goes back to capturing.
    capturing = shop.bob
    assert (
        await boss.put(
            f"/api/v1/leads/{capturing}/assignee", json={"user_id": str(shop.other_vendor_id)}
        )
    ).json()["status"] == "assigned"
    assert (await boss.delete(f"/api/v1/leads/{capturing}/assignee")).json()[
        "status"
    ] == "capturing"

    # Another workspace's lead ids, and this workspace's from there, are not found.
    assert (
        await boss.put(
            f"/api/v1/leads/{rival_lead}/assignee", json={"user_id": str(shop.vendor_id)}
        )
    ).status_code == 404
    assert (await boss.delete(f"/api/v1/leads/{rival_lead}/assignee")).status_code == 404
    assert (
        await boss.put(f"/api/v1/leads/{rival_lead}/status", json={"status": "lost"})
    ).status_code == 404
    assert (
        await rival.put(f"/api/v1/leads/{lead}/assignee", json={"user_id": str(rival_owner_id)})
    ).status_code == 404
    assert (
        await rival.put(f"/api/v1/leads/{lead}/status", json={"status": "lost"})
    ).status_code == 404
    assert (await lead_row(pool, rival_lead))["status"] == "capturing"
    assert (await lead_row(pool, lead))["status"] == "qualified"


@pytest.mark.timeout(120)
async def test_vendor_messages_go_to_the_bot_as_send_commands(
    pool: asyncpg.Pool, bus: Bus, listen: Listen, start_gateway: GatewayFactory
) -> None:
    async with pool.acquire() as conn:
        shop = await open_shop(conn)
        chat_jid = await conn.fetchval("SELECT chat_jid FROM leads WHERE id = $1", shop.carla)
        off = await create_bot(conn, shop.workspace_id, "Off", status="disabled")
        off_lead = await add_lead(
            conn, shop.workspace_id, off, minutes_ago=0, assigned_to=shop.vendor_id
        )
        sender_key = await add_api_key(conn, shop.workspace_id, ["read", "send"])
        reader_key = await add_api_key(conn, shop.workspace_id, ["read"])
        rival_owner, rival_lead = await other_workspace(conn)
    commands = await listen(
        subjects.SEND_MESSAGE.for_bot(bus.prefix, shop.workspace_id, shop.support)
    )
    gw: Gateway = await start_gateway()
    vendor = await gw.client(shop.vendor)
    owner = await gw.client(shop.owner)
    rival = await gw.client(rival_owner)
    integrator = await gw.client(headers={"Authorization": f"Bearer {sender_key}"})
    reader = await gw.client(headers={"Authorization": f"Bearer {reader_key}"})

    response = await vendor.post(
        f"/api/v1/leads/{shop.carla}/messages", json={"text": "Hi Carla, Ana here"}
    )
    assert response.status_code == 202, response.text
    [command] = await soon(lambda: commands.messages, what="SendMessage published")
    assert command["event_id"] == response.json()["command_id"]
    assert command["chat_jid"] == chat_jid
    assert command["text"] == "Hi Carla, Ana here"
    assert command["origin"] == "vendor"
    assert command["sent_by_user_id"] == str(shop.vendor_id)
    assert command["bot_id"] == str(shop.support)

    # An integrator's key with send writes too, as nobody in particular.
    by_key = await integrator.post(f"/api/v1/leads/{shop.carla}/messages", json={"text": "Hey"})
    assert by_key.status_code == 202, by_key.text
    await soon(lambda: len(commands.messages) == 2, what="second command")
    assert commands.messages[1]["sent_by_user_id"] is None
    key_note = await integrator.post(f"/api/v1/leads/{shop.carla}/notes", json={"body": "CRM"})
    assert key_note.status_code == 201
    assert (key_note.json()["author_id"], key_note.json()["author_email"]) == (None, None)
    assert (await integrator.get("/api/v1/leads", params={"assigned_to": "me"})).status_code == 400
    assert (await integrator.get("/api/v1/leads/export.csv")).status_code == 403
    assert (await integrator.delete(f"/api/v1/leads/{shop.carla}/assignee")).status_code == 403
    assert (
        await reader.post(f"/api/v1/leads/{shop.carla}/messages", json={"text": "no"})
    ).status_code == 403
    assert (
        await reader.post(f"/api/v1/leads/{shop.carla}/notes", json={"body": "no"})
    ).status_code == 403
    assert ids((await reader.get("/api/v1/leads")).json())[0] == str(off_lead)

    # Not their lead, nothing to say, a disabled bot, another workspace.
    assert (
        await vendor.post(f"/api/v1/leads/{shop.ana}/messages", json={"text": "hello"})
    ).status_code == 404
    for bad in ({"text": ""}, {"text": "   "}, {"text": "x" * 4097}, {}):
        assert (
            await vendor.post(f"/api/v1/leads/{shop.carla}/messages", json=bad)
        ).status_code == 422, bad
    disabled = await vendor.post(f"/api/v1/leads/{off_lead}/messages", json={"text": "hello"})
    assert disabled.status_code == 409
    assert "disabled" in disabled.json()["message"]
    assert (
        await owner.post(f"/api/v1/leads/{rival_lead}/messages", json={"text": "hello"})
    ).status_code == 404
    assert (
        await rival.post(f"/api/v1/leads/{shop.carla}/messages", json={"text": "hello"})
    ).status_code == 404
    assert len(commands.messages) == 2
