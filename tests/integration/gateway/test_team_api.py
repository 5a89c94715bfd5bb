"""The team of a workspace through the API: inviting, (de)activating, roles, removing, the
owner's protections, the plan's vendor seats; and the caller's workspaces."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from nats.aio.msg import Msg

from relay_common.bus import Bus
from relay_common.contract import subjects
from relay_common.provisioning import NewWorkspace, create_bot, create_workspace


def unique_email(who: str) -> str:
    return f"{who}-{uuid4().hex[:6]}@example.com"


async def new_workspace(pool: asyncpg.Pool, vendor_limit: int = 1) -> tuple[NewWorkspace, str]:
    """A workspace and its owner's email."""
    email = unique_email("owner")
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, f"Team {uuid4().hex[:6]}", email)
        await conn.execute(
            "UPDATE subscriptions SET vendor_limit = $2 WHERE workspace_id = $1",
            ws.workspace_id,
            vendor_limit,
        )
    return ws, email


async def add_member(pool: asyncpg.Pool, workspace_id: UUID, role: str) -> tuple[UUID, str]:
    email = unique_email(role)
    async with pool.acquire() as conn:
        user_id: UUID = await conn.fetchval(
            "INSERT INTO users (email) VALUES ($1) RETURNING id", email
        )
        await conn.execute(
            "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3)",
            workspace_id,
            user_id,
            role,
        )
    return user_id, email


async def next_event(bus: Bus, subject: str) -> dict[str, Any]:
    sub = await bus.js.subscribe(subject, ordered_consumer=True)
    try:
        msg: Msg = await sub.next_msg(timeout=10)
    finally:
        await sub.unsubscribe()
    body: dict[str, Any] = json.loads(msg.data)
    return body


@pytest.mark.timeout(120)
async def test_invite_deactivate_reactivate_change_role_and_remove(
    pool: asyncpg.Pool, bus: Bus, start_gateway: Any
) -> None:
    ws, owner_email = await new_workspace(pool, vendor_limit=2)
    async with pool.acquire() as conn:
        bot = await create_bot(conn, ws.workspace_id, "Sales")
    gateway = await start_gateway()
    owner = await gateway.client(owner_email)

    vendor_email = f"VenDor-{uuid4().hex[:6]}@Example.COM"
    invited = await owner.post("/api/v1/team", json={"email": vendor_email, "role": "vendor"})
    assert invited.status_code == 201, invited.text
    member = invited.json()
    vendor_id = UUID(member["user_id"])
    assert member["email"] == vendor_email.lower()
    assert member["role"] == "vendor"
    assert member["is_active"] is True
    assert member["invited_by"] == owner_email
    assert member["last_login_at"] is None
    assert member["assigned_leads"] == 0

    again = await owner.post("/api/v1/team", json={"email": vendor_email, "role": "admin"})
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    for bad in (
        {"email": "not-an-address", "role": "vendor"},
        {"email": "a@b", "role": "vendor"},
        {"email": "ñandú@example.com", "role": "vendor"},
        {"email": unique_email("x"), "role": "vendor", "name": " "},
        {"email": unique_email("x"), "role": "owner"},
        {"email": unique_email("x")},
    ):
        assert (await owner.post("/api/v1/team", json=bad)).status_code == 422, bad

    vendor = await gateway.client(vendor_email.lower())
    assert (await vendor.get("/api/v1/auth/me")).json()["role"] == "vendor"
    for method, path, body in (
        ("GET", "/api/v1/team", None),
        ("POST", "/api/v1/team", {"email": unique_email("x"), "role": "vendor"}),
        ("PATCH", f"/api/v1/team/{vendor_id}", {"is_active": False}),
        ("DELETE", f"/api/v1/team/{ws.owner_id}", None),
    ):
        refused = await vendor.request(method, path, json=body)
        assert refused.status_code == 403, (method, path, refused.text)

    async with pool.acquire() as conn:
        lead = await conn.fetchval(
            """INSERT INTO leads (workspace_id, bot_id, chat_jid, status, assigned_to,
                                  assigned_at, qualified_at)
               VALUES ($1, $2, $3, 'assigned', $4, now(), now()) RETURNING id""",
            ws.workspace_id,
            bot,
            f"{uuid4().int % 10**10}@s.whatsapp.net",
            vendor_id,
        )

    deactivated = await owner.patch(f"/api/v1/team/{vendor_id}", json={"is_active": False})
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["is_active"] is False
    assert deactivated.json()["assigned_leads"] == 1
    assert deactivated.json()["last_login_at"] is not None
    refused = await vendor.get("/api/v1/auth/me")
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthenticated"

    reactivated = await owner.patch(f"/api/v1/team/{vendor_id}", json={"is_active": True})
    assert reactivated.json()["is_active"] is True
    assert (await vendor.get("/api/v1/auth/me")).status_code == 200

    promoted = await owner.patch(f"/api/v1/team/{vendor_id}", json={"role": "admin"})
    assert promoted.json()["role"] == "admin"
    assert (await vendor.get("/api/v1/auth/me")).json()["role"] == "admin"
    assert (await vendor.get("/api/v1/team")).status_code == 200
    demoted = await owner.patch(f"/api/v1/team/{vendor_id}", json={"role": "vendor"})
    assert demoted.json()["role"] == "vendor"
    unchanged = await owner.patch(f"/api/v1/team/{vendor_id}", json={})
    assert unchanged.status_code == 200
    assert (
        await owner.patch(f"/api/v1/team/{vendor_id}", json={"role": "owner"})
    ).status_code == 422
    assert (
        await owner.patch(f"/api/v1/team/{vendor_id}", json={"is_active": "maybe"})
    ).status_code == 422

    listed = (await owner.get("/api/v1/team")).json()
    assert {m["email"]: m["role"] for m in listed} == {
        owner_email: "owner",
        vendor_email.lower(): "vendor",
    }

    removed = await owner.delete(f"/api/v1/team/{vendor_id}")
    assert removed.status_code == 204, removed.text
    assert (await vendor.get("/api/v1/auth/me")).status_code == 401
    assert (await owner.delete(f"/api/v1/team/{vendor_id}")).status_code == 404
    assert (
        await owner.patch(f"/api/v1/team/{vendor_id}", json={"is_active": True})
    ).status_code == 404
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users WHERE id = $1", vendor_id) == 1
        assert not await conn.fetchval(
            "SELECT count(*) FROM memberships WHERE user_id = $1", vendor_id
        )
        released = await conn.fetchrow(
            "SELECT status, assigned_to, assigned_at FROM leads WHERE id = $1", lead
        )
    assert released is not None
    assert dict(released) == {"status": "qualified", "assigned_to": None, "assigned_at": None}

    assigned = await next_event(
        bus, subjects.LEAD_ASSIGNED.for_bot(bus.prefix, ws.workspace_id, bot)
    )
    assert assigned["lead_id"] == str(lead)
    assert assigned["vendor_user_id"] is None
    assert assigned["by"] == "release"
    status = await next_event(bus, subjects.LEAD_STATUS.for_bot(bus.prefix, ws.workspace_id, bot))
    assert (status["status"], status["previous"]) == ("qualified", "assigned")

    # Once removed, they can be invited again.
    back = await owner.post("/api/v1/team", json={"email": vendor_email, "role": "vendor"})
    assert back.status_code == 201
    assert back.json()["user_id"] == str(vendor_id)


@pytest.mark.timeout(120)
async def test_the_owner_is_protected_and_only_the_owner_manages_admins(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    ws, owner_email = await new_workspace(pool, vendor_limit=5)
    admin_id, admin_email = await add_member(pool, ws.workspace_id, "admin")
    other_admin_id, _ = await add_member(pool, ws.workspace_id, "admin")
    vendor_id, _ = await add_member(pool, ws.workspace_id, "vendor")
    gateway = await start_gateway()
    owner = await gateway.client(owner_email)
    admin = await gateway.client(admin_email)
    team = "/api/v1/team"

    for who in (owner, admin):
        for change in ({"is_active": False}, {"role": "admin"}, {"role": "vendor"}):
            refused = await who.patch(f"{team}/{ws.owner_id}", json=change)
            assert refused.status_code == 403, change
        assert (await who.delete(f"{team}/{ws.owner_id}")).status_code == 403
    assert (await admin.delete(f"{team}/{admin_id}")).status_code == 403

    # An admin manages vendors, but neither admins (themselves included) nor promotions.
    made_admin = await admin.post(team, json={"email": unique_email("x"), "role": "admin"})
    assert made_admin.status_code == 403
    new_vendor = await admin.post(team, json={"email": unique_email("v"), "role": "vendor"})
    assert new_vendor.status_code == 201
    assert new_vendor.json()["invited_by"] == admin_email
    assert (
        await admin.patch(f"{team}/{other_admin_id}", json={"is_active": False})
    ).status_code == 403
    assert (await admin.patch(f"{team}/{admin_id}", json={"role": "vendor"})).status_code == 403
    assert (await admin.patch(f"{team}/{vendor_id}", json={"role": "admin"})).status_code == 403
    assert (await admin.delete(f"{team}/{other_admin_id}")).status_code == 403
    deactivated = await admin.patch(f"{team}/{vendor_id}", json={"is_active": False})
    assert deactivated.status_code == 200
    assert (await admin.delete(f"{team}/{vendor_id}")).status_code == 204

    # The owner does all of it.
    invited_admin = await owner.post(team, json={"email": unique_email("a"), "role": "admin"})
    assert invited_admin.status_code == 201
    assert invited_admin.json()["role"] == "admin"
    demoted = await owner.patch(f"{team}/{other_admin_id}", json={"role": "vendor"})
    assert demoted.status_code == 200
    assert demoted.json()["role"] == "vendor"
    assert (await owner.delete(f"{team}/{admin_id}")).status_code == 204
    assert (await admin.get(team)).status_code == 401


@pytest.mark.timeout(120)
async def test_vendor_seats_follow_the_plan(pool: asyncpg.Pool, start_gateway: Any) -> None:
    ws, owner_email = await new_workspace(pool, vendor_limit=1)
    admin_id, _ = await add_member(pool, ws.workspace_id, "admin")
    gateway = await start_gateway()
    owner = await gateway.client(owner_email)
    team = "/api/v1/team"

    first = await owner.post(team, json={"email": unique_email("v1"), "role": "vendor"})
    assert first.status_code == 201
    first_id = first.json()["user_id"]
    second_email = unique_email("v2")
    full = await owner.post(team, json={"email": second_email, "role": "vendor"})
    assert full.status_code == 409
    assert full.json()["code"] == "plan_limit"
    assert full.json()["details"] == {"limit": 1, "used": 1}
    async with pool.acquire() as conn:
        # The refused invitation left nothing behind.
        assert not await conn.fetchval("SELECT count(*) FROM users WHERE email = $1", second_email)
    demote = await owner.patch(f"{team}/{admin_id}", json={"role": "vendor"})
    assert demote.status_code == 409
    assert demote.json()["code"] == "plan_limit"

    current = (await owner.get("/api/v1/workspaces/current")).json()
    assert current["limits"]["vendors"] == 1
    assert current["usage"]["vendors"] == 1

    # A deactivated vendor frees the seat; taking it back needs a free one.
    assert (await owner.patch(f"{team}/{first_id}", json={"is_active": False})).status_code == 200
    second = await owner.post(team, json={"email": second_email, "role": "vendor"})
    assert second.status_code == 201
    back = await owner.patch(f"{team}/{first_id}", json={"is_active": True})
    assert back.status_code == 409
    assert back.json()["code"] == "plan_limit"
    assert (await owner.delete(f"{team}/{second.json()['user_id']}")).status_code == 204
    assert (await owner.patch(f"{team}/{first_id}", json={"is_active": True})).status_code == 200


@pytest.mark.timeout(120)
async def test_a_workspace_cannot_see_or_change_another_ones_members(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    mine, owner_email = await new_workspace(pool)
    theirs, _ = await new_workspace(pool)
    their_vendor, their_vendor_email = await add_member(pool, theirs.workspace_id, "vendor")
    gateway = await start_gateway()
    owner = await gateway.client(owner_email)
    team = "/api/v1/team"

    emails = {m["email"] for m in (await owner.get(team)).json()}
    assert emails == {owner_email}
    for user_id in (their_vendor, theirs.owner_id, uuid4()):
        assert (
            await owner.patch(f"{team}/{user_id}", json={"is_active": False})
        ).status_code == 404
        assert (await owner.delete(f"{team}/{user_id}")).status_code == 404
    assert (await owner.delete(f"{team}/not-a-uuid")).status_code == 422
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT role, is_active FROM memberships WHERE workspace_id = $1 AND user_id = $2",
            theirs.workspace_id,
            their_vendor,
        )
    assert row is not None
    assert dict(row) == {"role": "vendor", "is_active": True}
    # A person may belong to several workspaces: inviting them adds a second membership.
    invited = await owner.post(team, json={"email": their_vendor_email, "role": "vendor"})
    assert invited.status_code == 201
    assert invited.json()["user_id"] == str(their_vendor)
    async with pool.acquire() as conn:
        workspaces = await conn.fetch(
            "SELECT workspace_id FROM memberships WHERE user_id = $1", their_vendor
        )
    assert {r["workspace_id"] for r in workspaces} == {mine.workspace_id, theirs.workspace_id}


@pytest.mark.timeout(120)
async def test_create_list_switch_and_rename_workspaces(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    ws, owner_email = await new_workspace(pool)
    _, stranger_email = await new_workspace(pool)
    _, admin_email = await add_member(pool, ws.workspace_id, "admin")
    platform_admin = unique_email("platform")
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO users (email) VALUES ($1)", platform_admin)
        await conn.execute(
            "INSERT INTO memberships (workspace_id, user_id, role) "
            "SELECT $1, id, 'vendor' FROM users WHERE email = $2",
            ws.workspace_id,
            platform_admin,
        )
        await conn.execute(
            "UPDATE subscriptions SET vendor_limit = 2 WHERE workspace_id = $1", ws.workspace_id
        )
        await create_bot(conn, ws.workspace_id, "Counted")
    gateway = await start_gateway(ADMIN_EMAILS=f'["{platform_admin.upper()}"]')
    owner = await gateway.client(owner_email)
    admin = await gateway.client(admin_email)

    current = await owner.get("/api/v1/workspaces/current")
    assert current.status_code == 200
    body = current.json()
    assert body["id"] == str(ws.workspace_id)
    assert body["plan"] == "free"
    assert body["limits"] == {"bots": 1, "vendors": 2, "monthly_messages": 1000}
    assert body["usage"] == {"bots": 1, "vendors": 1}

    for bad in ({"name": ""}, {"name": "   "}, {"name": "x" * 201}, {}):
        assert (await owner.post("/api/v1/workspaces", json=bad)).status_code == 422, bad
    created = await owner.post("/api/v1/workspaces", json={"name": "  Second shop "})
    assert created.status_code == 201, created.text
    second = created.json()
    assert (second["name"], second["role"], second["plan"]) == ("Second shop", "owner", "free")
    assert second["is_current"] is False

    listed = (await owner.get("/api/v1/workspaces")).json()
    assert [(w["id"], w["is_current"]) for w in listed] == [
        (str(ws.workspace_id), True),
        (second["id"], False),
    ]
    assert [w["id"] for w in (await admin.get("/api/v1/workspaces")).json()] == [
        str(ws.workspace_id)
    ]

    switched = await owner.post(f"/api/v1/auth/workspace/{second['id']}")
    assert switched.status_code == 204
    owner.headers["X-CSRF-Token"] = owner.cookies["relay_csrf"]
    me = (await owner.get("/api/v1/auth/me")).json()
    assert (me["workspace_id"], me["role"]) == (second["id"], "owner")
    assert [w["is_current"] for w in (await owner.get("/api/v1/workspaces")).json()] == [
        False,
        True,
    ]
    assert (await admin.post(f"/api/v1/auth/workspace/{second['id']}")).status_code == 404

    renamed = await owner.patch("/api/v1/workspaces/current", json={"name": "Renamed"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Renamed"
    assert (await owner.get("/api/v1/auth/me")).json()["workspace_name"] == "Renamed"
    refused = await admin.patch("/api/v1/workspaces/current", json={"name": "Mine now"})
    assert refused.status_code == 403
    async with pool.acquire() as conn:
        names = await conn.fetch(
            "SELECT id, name FROM workspaces WHERE id = ANY($1::uuid[])",
            [ws.workspace_id, UUID(second["id"])],
        )
    assert {str(r["id"]): r["name"] for r in names} == {
        str(ws.workspace_id): ws_name(listed, ws.workspace_id),
        second["id"]: "Renamed",
    }

    # Platform administrators (ADMIN_EMAILS, any case) see every workspace; nobody else.
    assert (await owner.get("/api/v1/admin/workspaces")).status_code == 403
    assert (
        await (await gateway.client(stranger_email)).get("/api/v1/admin/workspaces")
    ).status_code == 403
    platform = await gateway.client(platform_admin)
    assert (await platform.get("/api/v1/auth/me")).json()["is_platform_admin"] is True
    everything = await platform.get("/api/v1/admin/workspaces", params={"limit": 1000})
    assert everything.status_code == 200
    by_id = {w["id"]: w for w in everything.json()}
    assert by_id[str(ws.workspace_id)] | {"created_at": None} == {
        "id": str(ws.workspace_id),
        "name": ws_name(listed, ws.workspace_id),
        "plan": "free",
        "subscription_status": "active",
        "owner_email": owner_email,
        "members": 3,
        "vendors": 1,
        "bots": 1,
        "created_at": None,
    }
    assert by_id[second["id"]]["name"] == "Renamed"
    assert (await platform.get("/api/v1/admin/workspaces", params={"limit": 0})).status_code == 422


def ws_name(listed: list[dict[str, Any]], workspace_id: UUID) -> str:
    name: str = next(w["name"] for w in listed if w["id"] == str(workspace_id))
    return name
