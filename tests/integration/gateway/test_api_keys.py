"""API keys: made by owners and admins, shown once, stored as a hash, limited to their
scopes and workspace, refused as soon as they are revoked."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from relay_common.provisioning import NewWorkspace, create_bot, create_workspace


def unique_email(who: str) -> str:
    return f"{who}-{uuid4().hex[:6]}@example.com"


async def new_workspace(pool: asyncpg.Pool) -> tuple[NewWorkspace, str, UUID]:
    """A workspace with one bot; its owner's email and the bot."""
    email = unique_email("owner")
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, f"Keys {uuid4().hex[:6]}", email)
        bot = await create_bot(conn, ws.workspace_id, "Keyed")
    return ws, email, bot


def bearer(base_url: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url, timeout=15, headers={"Authorization": f"Bearer {key}"}
    )


@pytest.mark.timeout(120)
async def test_create_list_use_and_revoke_keys_within_their_scopes(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    ws, owner_email, bot = await new_workspace(pool)
    _, other_email, other_bot = await new_workspace(pool)
    vendor_email = unique_email("vendor")
    async with pool.acquire() as conn:
        await conn.execute(
            """WITH u AS (INSERT INTO users (email) VALUES ($2) RETURNING id)
               INSERT INTO memberships (workspace_id, user_id, role)
               SELECT $1, id, 'vendor' FROM u""",
            ws.workspace_id,
            vendor_email,
        )
    gateway = await start_gateway()
    owner = await gateway.client(owner_email)

    created = await owner.post("/api/v1/api-keys", json={"name": " CRM ", "scopes": ["read"]})
    assert created.status_code == 201, created.text
    reader = created.json()
    key = reader["key"]
    assert key.startswith("rly_")
    assert len(key) > 40
    assert reader["prefix"] == key[:12]
    assert (reader["name"], reader["scopes"], reader["created_by"]) == (
        "CRM",
        ["read"],
        owner_email,
    )
    assert reader["last_used_at"] is None
    assert reader["revoked_at"] is None
    manager = (
        await owner.post(
            "/api/v1/api-keys", json={"name": "Ops", "scopes": ["manage", "read", "manage"]}
        )
    ).json()
    assert manager["scopes"] == ["manage", "read"]

    async with pool.acquire() as conn:
        stored_hash = await conn.fetchval(
            "SELECT key_hash FROM api_keys WHERE id = $1", UUID(reader["id"])
        )
        dump = await conn.fetchval(
            "SELECT string_agg(t::text, '') FROM api_keys t WHERE workspace_id = $1",
            ws.workspace_id,
        )
    assert stored_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in dump
    assert manager["key"] not in dump

    for bad in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["root"]},
        {"name": "", "scopes": ["read"]},
        {"name": "x" * 101, "scopes": ["read"]},
        {"name": "x"},
    ):
        assert (await owner.post("/api/v1/api-keys", json=bad)).status_code == 422, bad

    async with bearer(gateway.base_url, key) as read_key:
        bots = await read_key.get("/api/v1/bots")
        assert bots.status_code == 200
        assert [b["id"] for b in bots.json()] == [str(bot)]
        assert (await read_key.get(f"/api/v1/bots/{other_bot}")).status_code == 404
        paused = await read_key.post(f"/api/v1/bots/{bot}/session/pause")
        assert paused.status_code == 403
        assert paused.json()["code"] == "forbidden"
        assert (await read_key.get("/api/v1/api-keys")).status_code == 403
        assert (await read_key.get("/api/v1/workspaces/current")).status_code == 200

    async with bearer(gateway.base_url, manager["key"]) as manage_key:
        # No CSRF header: API keys are never sent by a browser on its own.
        assert (await manage_key.post(f"/api/v1/bots/{bot}/session/pause")).status_code == 202
        assert (await manage_key.post(f"/api/v1/bots/{other_bot}/session/pause")).status_code == 404
        minted = await manage_key.post("/api/v1/api-keys", json={"name": "x", "scopes": ["read"]})
        assert minted.status_code == 403
        assert (await manage_key.get("/api/v1/workspaces")).status_code == 403
        assert (await manage_key.get("/api/v1/team")).status_code == 200
        listed = await manage_key.get("/api/v1/api-keys")
    assert listed.status_code == 200
    assert key not in listed.text
    assert manager["key"] not in listed.text
    by_id = {k["id"]: k for k in listed.json()}
    assert set(by_id) == {reader["id"], manager["id"]}
    assert all("key" not in k and "key_hash" not in k for k in by_id.values())
    assert by_id[reader["id"]]["last_used_at"] is not None

    vendor = await gateway.client(vendor_email)
    assert (await vendor.get("/api/v1/api-keys")).status_code == 403
    assert (
        await vendor.post("/api/v1/api-keys", json={"name": "x", "scopes": ["read"]})
    ).status_code == 403
    assert (await vendor.delete(f"/api/v1/api-keys/{reader['id']}")).status_code == 403

    # Another workspace neither sees nor revokes these keys.
    stranger = await gateway.client(other_email)
    assert (await stranger.get("/api/v1/api-keys")).json() == []
    assert (await stranger.delete(f"/api/v1/api-keys/{reader['id']}")).status_code == 404
    async with bearer(gateway.base_url, key) as read_key:
        assert (await read_key.get("/api/v1/bots")).status_code == 200

        revoked = await owner.delete(f"/api/v1/api-keys/{reader['id']}")
        assert revoked.status_code == 204
        refused = await read_key.get("/api/v1/bots")
        assert refused.status_code == 401
        assert refused.json()["code"] == "unauthenticated"
    assert (await owner.delete(f"/api/v1/api-keys/{reader['id']}")).status_code == 204
    assert (await owner.delete(f"/api/v1/api-keys/{uuid4()}")).status_code == 404
    assert (await owner.delete("/api/v1/api-keys/nope")).status_code == 422
    after = {k["id"]: k for k in (await owner.get("/api/v1/api-keys")).json()}
    assert after[reader["id"]]["revoked_at"] is not None
    assert after[manager["id"]]["revoked_at"] is None

    anonymous = await gateway.client()
    for header in ("Bearer rly_unknown", "Bearer nope", "Basic rly_x", "rly_x"):
        response = await anonymous.get("/api/v1/bots", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["code"] == "unauthenticated"
