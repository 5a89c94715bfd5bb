"""The audit log: every team, key and workspace change appears with who made it, newest
first, in pages, filtered, and only to the workspace's owners and admins."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from relay_common.provisioning import create_workspace


def unique_email(who: str) -> str:
    return f"{who}-{uuid4().hex[:6]}@example.com"


@pytest.mark.timeout(120)
async def test_admin_actions_are_logged_with_their_actor(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    owner_email, stranger_email = unique_email("owner"), unique_email("stranger")
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Audited", owner_email)
        await create_workspace(conn, "Elsewhere", stranger_email)
        await conn.execute(
            "UPDATE subscriptions SET vendor_limit = 5 WHERE workspace_id = $1", ws.workspace_id
        )
    gateway = await start_gateway()
    owner = await gateway.client(owner_email)

    vendor_email = unique_email("vendor")
    vendor_id = (
        await owner.post("/api/v1/team", json={"email": vendor_email, "role": "vendor"})
    ).json()["user_id"]
    team = f"/api/v1/team/{vendor_id}"
    assert (await owner.patch(team, json={"is_active": False})).status_code == 200
    assert (await owner.patch(team, json={"is_active": True})).status_code == 200
    assert (await owner.patch(team, json={"role": "admin"})).status_code == 200
    assert (await owner.patch(team, json={"role": "admin"})).status_code == 200  # no change
    key = (
        await owner.post("/api/v1/api-keys", json={"name": "Ops", "scopes": ["read", "manage"]})
    ).json()
    assert (
        await owner.patch("/api/v1/workspaces/current", json={"name": "Audited too"})
    ).status_code == 200

    other_vendor = (
        await owner.post("/api/v1/team", json={"email": unique_email("v"), "role": "vendor"})
    ).json()["user_id"]
    async with httpx.AsyncClient(
        base_url=gateway.base_url, headers={"Authorization": f"Bearer {key['key']}"}
    ) as by_key:
        deactivated = await by_key.patch(f"/api/v1/team/{other_vendor}", json={"is_active": False})
        assert deactivated.status_code == 200
        from_key = (await by_key.get("/api/v1/audit", params={"limit": 1})).json()
    assert (await owner.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 204
    assert (await owner.delete(team)).status_code == 204

    entries = (await owner.get("/api/v1/audit")).json()
    assert [(e["action"], e["target_type"], e["target_id"]) for e in entries] == [
        ("member.removed", "member", vendor_id),
        ("api_key.revoked", "api_key", key["id"]),
        ("member.deactivated", "member", other_vendor),
        ("member.invited", "member", other_vendor),
        ("workspace.renamed", "workspace", str(ws.workspace_id)),
        ("api_key.created", "api_key", key["id"]),
        ("member.role_changed", "member", vendor_id),
        ("member.activated", "member", vendor_id),
        ("member.deactivated", "member", vendor_id),
        ("member.invited", "member", vendor_id),
    ]
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True)
    by_owner = {"user_id": str(ws.owner_id), "email": owner_email, "api_key_id": None}
    assert all(e["actor"] == by_owner for e in entries if e is not entries[2])
    assert entries[2]["actor"] == {"user_id": None, "email": None, "api_key_id": key["id"]}
    assert from_key == [entries[2]]
    assert entries[-1]["details"] == {"email": vendor_email, "role": "vendor"}
    assert entries[6]["details"] == {"email": vendor_email, "from": "vendor", "to": "admin"}
    assert entries[4]["details"] == {"from": "Audited", "to": "Audited too"}
    assert entries[5]["details"] == {"name": "Ops", "scopes": ["manage", "read"]}
    assert entries[0]["details"]["released_leads"] == 0

    # Pages: `before` the last id seen.
    first = (await owner.get("/api/v1/audit", params={"limit": 4})).json()
    rest = (await owner.get("/api/v1/audit", params={"before": first[-1]["id"]})).json()
    assert first + rest == entries
    invited = await owner.get("/api/v1/audit", params={"action": "member.invited"})
    assert [e["target_id"] for e in invited.json()] == [other_vendor, vendor_id]
    keys = await owner.get(
        "/api/v1/audit", params={"target_type": "api_key", "before": entries[1]["id"]}
    )
    assert [e["action"] for e in keys.json()] == ["api_key.created"]
    for bad in (
        {"limit": 0},
        {"limit": 201},
        {"before": 0},
        {"before": 2**63},
        {"action": "a b"},
        {"target_type": "x" * 101},
    ):
        assert (await owner.get("/api/v1/audit", params=bad)).status_code == 422, bad

    # Nobody else reads it: not vendors, not another workspace.
    vendor = await gateway.client(await _add_vendor(pool, ws.workspace_id))
    assert (await vendor.get("/api/v1/audit")).status_code == 403
    stranger = await gateway.client(stranger_email)
    theirs = (await stranger.get("/api/v1/audit")).json()
    assert not {e["id"] for e in theirs} & set(ids)


async def _add_vendor(pool: asyncpg.Pool, workspace_id: UUID) -> str:
    email = unique_email("reader")
    async with pool.acquire() as conn:
        await conn.execute(
            """WITH u AS (INSERT INTO users (email) VALUES ($2) RETURNING id)
               INSERT INTO memberships (workspace_id, user_id, role)
               SELECT $1, id, 'vendor' FROM u""",
            workspace_id,
            email,
        )
    return email
