"""Tenant isolation matrix: a member of workspace A calls every operation of the API with
workspace B's ids and always gets 403 or 404, never B's data, and B's rows stay as they
were. A vendor gets the same treatment for the other vendors' leads.

The operations come from the gateway's own OpenAPI document, so a new endpoint with an
id in its path fails this test until it is listed here with a valid request."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from PIL import Image

from relay_common.provisioning import add_member, create_bot, create_workspace
from relay_common.testing.gateway import Gateway, GatewayFactory
from relay_gateway.repo.principals import hash_api_key


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "PNG")
    return buffer.getvalue()


def _requests(tenant: dict[str, Any], other_vendor: UUID) -> dict[str, dict[str, Any]]:
    """A valid request for every operation that takes an id, aimed at ``tenant``'s rows."""
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return {
        "switch_workspace": {},
        "update_member": {"json": {"is_active": False}},
        "remove_member": {},
        "revoke_api_key": {},
        "get_bot_features": {},
        "update_bot_features": {"json": {"auto_reply": False}},
        "get_bot": {},
        "update_bot": {"json": {"name": "Taken over"}},
        "delete_bot": {},
        "set_bot_status": {"json": {"status": "disabled"}},
        "control_bot_session": {},
        "send_simulated_message": {"json": {"customer_phone": "+34600999888", "text": "hi"}},
        "list_simulated_messages": {"params": {"customer_phone": tenant["customer"]}},
        "scan_simulated_qr": {"json": {"phone_number": "+15550001234"}},
        "upload_bot_image": {"files": {"file": ("x.png", _png(), "image/png")}},
        "list_bot_images": {},
        "set_image_keywords": {"json": {"keywords": ["stolen"]}},
        "delete_bot_image": {},
        "get_bot_image_content": {},
        "create_schedule": {"json": {"action": "disable", "run_at": future}},
        "list_schedules": {},
        "cancel_schedule": {},
        "get_lead": {},
        "assign_lead": {"json": {"user_id": str(other_vendor)}},
        "release_lead": {},
        "set_lead_status": {"json": {"status": "lost"}},
        "add_lead_note": {"json": {"body": "mine now"}},
        "list_lead_notes": {},
        "send_lead_message": {"json": {"text": "hello from elsewhere"}},
    }


async def _tenant(pool: asyncpg.Pool, label: str) -> dict[str, Any]:
    tag = f"{label}{uuid4().hex[:6]}"
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, f"Tenant {tag}", f"owner-{tag}@example.com")
        w = ws.workspace_id
        bot = await create_bot(conn, w, f"Bot {tag}", prompt=f"Secret prompt {tag}")
        vendors = [await add_member(conn, w, f"vendor{n}-{tag}@example.com") for n in range(2)]
        customer = "+34600111222"
        leads = []
        for n, vendor in enumerate(vendors):
            lead = await conn.fetchval(
                """INSERT INTO leads (workspace_id, bot_id, chat_jid, whatsapp_number, name,
                                      email, status, assigned_to)
                   VALUES ($1, $2, $3, $4, $5, $6, 'assigned', $7) RETURNING id""",
                w,
                bot,
                f"3460011122{n}@s.whatsapp.net",
                f"{customer[:-1]}{n}",
                f"Customer {tag} {n}",
                f"customer{n}-{tag}@example.com",
                vendor,
            )
            await conn.execute(
                """INSERT INTO lead_messages (workspace_id, bot_id, lead_id,
                                              whatsapp_message_id, origin, body, sent_at)
                   VALUES ($1, $2, $3, $4, 'customer', $5, now())""",
                w,
                bot,
                lead,
                f"WA-{tag}-{n}",
                f"Private message {tag} {n}",
            )
            await conn.execute(
                "INSERT INTO lead_notes (workspace_id, lead_id, body) VALUES ($1, $2, $3)",
                w,
                lead,
                f"Note {tag} {n}",
            )
            leads.append(lead)
        digest = uuid4().hex * 2
        await conn.execute(
            """INSERT INTO media_blobs (workspace_id, sha256, content_type, data)
               VALUES ($1, $2, 'image/png', $3)""",
            w,
            digest,
            _png(),
        )
        image = await conn.fetchval(
            """INSERT INTO bot_images (workspace_id, bot_id, sha256, content_type, size_bytes,
                                       original_name, keywords)
               VALUES ($1, $2, $3, 'image/png', 10, $4, '{menu}') RETURNING id""",
            w,
            bot,
            digest,
            f"menu-{tag}.png",
        )
        schedule = await conn.fetchval(
            """INSERT INTO schedules (workspace_id, bot_id, action, run_at)
               VALUES ($1, $2, 'pause', now() + interval '1 day') RETURNING id""",
            w,
            bot,
        )
        api_key = f"rly_{tag}{uuid4().hex}"
        key = await conn.fetchval(
            """INSERT INTO api_keys (workspace_id, name, prefix, key_hash, scopes)
               VALUES ($1, $2, $3, $4, '{read,send,manage}') RETURNING id""",
            w,
            f"Key {tag}",
            api_key[:12],
            hash_api_key(api_key),
        )
    return {
        "tag": tag,
        "workspace_id": w,
        "owner": f"owner-{tag}@example.com",
        "bot_id": bot,
        "vendors": vendors,
        "vendor_emails": [f"vendor{n}-{tag}@example.com" for n in range(2)],
        "lead_ids": leads,
        "lead_id": leads[0],
        "image_id": image,
        "schedule_id": schedule,
        "key_id": key,
        "api_key": api_key,
        "user_id": vendors[0],
        "customer": customer,
    }


async def _state_of(pool: asyncpg.Pool, workspace_id: UUID) -> str:
    """Everything a tenant owns, as text, to compare before and after."""
    queries = {
        "workspace": "SELECT id, name FROM workspaces WHERE id = $1",
        "bots": "SELECT id, name, prompt, status FROM bots WHERE workspace_id = $1",
        "features": "SELECT * FROM bot_features WHERE workspace_id = $1",
        "members": "SELECT user_id, role, is_active FROM memberships WHERE workspace_id = $1",
        "leads": "SELECT id, status, assigned_to FROM leads WHERE workspace_id = $1",
        "messages": "SELECT id, body FROM lead_messages WHERE workspace_id = $1",
        "notes": "SELECT id, body FROM lead_notes WHERE workspace_id = $1",
        "images": "SELECT id, keywords FROM bot_images WHERE workspace_id = $1",
        "schedules": "SELECT id, status FROM schedules WHERE workspace_id = $1",
        "keys": "SELECT id, revoked_at FROM api_keys WHERE workspace_id = $1",
    }
    state = {}
    for name, sql in queries.items():
        rows = await pool.fetch(sql + " ORDER BY 1", workspace_id)
        state[name] = [dict(r) for r in rows]
    return json.dumps(state, default=str, sort_keys=True)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            found.append((operation["operationId"], method.upper(), path, names))
    return found


def _secrets_of(tenant: dict[str, Any]) -> list[str]:
    """Strings that only tenant B's data contains."""
    return [
        tenant["tag"],
        str(tenant["workspace_id"]),
        str(tenant["bot_id"]),
        *map(str, tenant["lead_ids"]),
        str(tenant["image_id"]),
        str(tenant["schedule_id"]),
        str(tenant["key_id"]),
    ]


async def _attack(
    client: httpx.AsyncClient,
    schema: dict[str, Any],
    ids: dict[str, Any],
    requests: dict[str, dict[str, Any]],
    secrets: list[str],
    *,
    only_pairs: bool = False,
) -> dict[str, int]:
    statuses = {}
    for operation_id, method, path, names in _operations(schema):
        ids_in_path = [n for n in names if n.endswith("_id")]
        if not ids_in_path or (only_pairs and len(ids_in_path) < 2):
            continue
        assert operation_id in requests, f"{operation_id}: add a request to this test"
        url = path.format(**{n: ids.get(n, "pause") for n in names})
        response = await client.request(method, url, **requests[operation_id])
        statuses[operation_id] = response.status_code
        assert response.status_code in (403, 404), (operation_id, response.text)
        for secret in secrets:
            assert secret not in response.text, (operation_id, secret)
    return statuses


@pytest.mark.timeout(240)
async def test_workspace_a_never_reaches_workspace_b(
    pool: asyncpg.Pool, start_gateway: GatewayFactory
) -> None:
    a, b = await _tenant(pool, "a"), await _tenant(pool, "b")
    gateway = await start_gateway()
    owner = await gateway.client(a["owner"])
    schema = (await owner.get("/api/openapi.json")).json()
    before = await _state_of(pool, b["workspace_id"])
    secrets = _secrets_of(b)

    # B's ids everywhere, as A's owner and with A's all-powerful API key.
    key_client = await gateway.client(headers={"Authorization": f"Bearer {a['api_key']}"})
    for client in (owner, key_client):
        await _attack(client, schema, b, _requests(b, a["vendors"][0]), secrets)
        # A's own bot with B's image, schedule: the pair must belong together.
        mixed = b | {"bot_id": a["bot_id"]}
        pairs = await _attack(
            client, schema, mixed, _requests(b, a["vendors"][0]), secrets, only_pairs=True
        )
        assert {"delete_bot_image", "cancel_schedule"} <= set(pairs)

    # Lists and searches that name B's ids show nothing of B.
    for path, params in [
        ("/api/v1/bots", {}),
        ("/api/v1/leads", {"bot_id": str(b["bot_id"])}),
        ("/api/v1/leads", {"q": b["tag"]}),
        ("/api/v1/leads", {"assigned_to": str(b["vendors"][0])}),
        ("/api/v1/leads/export.csv", {"bot_id": str(b["bot_id"])}),
        ("/api/v1/team", {}),
        ("/api/v1/api-keys", {}),
        ("/api/v1/audit", {}),
        ("/api/v1/workspaces", {}),
        ("/api/v1/workspaces/current", {}),
        ("/api/v1/auth/me", {}),
    ]:
        response = await owner.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
        for secret in secrets:
            assert secret not in response.text, (path, secret)

    # The event stream: B's lead's history is not to be had.
    stream = await owner.get("/api/v1/events", params={"lead_id": str(b["lead_id"])})
    assert stream.status_code == 404
    # Assigning A's lead to B's vendor is refused too.
    refused = await owner.put(
        f"/api/v1/leads/{a['lead_id']}/assignee", json={"user_id": str(b["vendors"][0])}
    )
    assert refused.status_code in (404, 409, 422)
    # B's API key is B's: it never opens A's rows.
    b_key = await gateway.client(headers={"Authorization": f"Bearer {b['api_key']}"})
    assert (await b_key.get(f"/api/v1/bots/{a['bot_id']}")).status_code == 404

    assert await _state_of(pool, b["workspace_id"]) == before


@pytest.mark.timeout(240)
async def test_a_vendor_never_reaches_another_vendors_leads(
    pool: asyncpg.Pool, start_gateway: GatewayFactory
) -> None:
    t = await _tenant(pool, "v")
    gateway: Gateway = await start_gateway()
    first = await gateway.client(t["vendor_emails"][0])
    own, others = t["lead_ids"]
    before = await _state_of(pool, t["workspace_id"])
    lead_operations: dict[str, tuple[str, str, dict[str, Any]]] = {
        "get_lead": ("GET", "", {}),
        "list_lead_notes": ("GET", "/notes", {}),
        "add_lead_note": ("POST", "/notes", {"json": {"body": "x"}}),
        "send_lead_message": ("POST", "/messages", {"json": {"text": "x"}}),
        "set_lead_status": ("PUT", "/status", {"json": {"status": "lost"}}),
        "release_lead": ("DELETE", "/assignee", {}),
        "assign_lead": ("PUT", "/assignee", {"json": {"user_id": str(t["vendors"][0])}}),
    }
    for operation_id, (method, tail, kwargs) in lead_operations.items():
        response = await first.request(method, f"/api/v1/leads/{others}{tail}", **kwargs)
        assert response.status_code in (403, 404), (operation_id, response.text)
        assert f"Customer {t['tag']} 1" not in response.text
    listed = (await first.get("/api/v1/leads")).json()["items"]
    assert [lead["id"] for lead in listed] == [str(own)]
    for params in ({"assigned_to": str(t["vendors"][1])}, {"q": "Customer"}):
        items = (await first.get("/api/v1/leads", params=params)).json()["items"]
        assert str(others) not in [lead["id"] for lead in items]
    assert (await first.get("/api/v1/leads/export.csv")).status_code == 403
    history = await first.get("/api/v1/events", params={"lead_id": str(others)})
    assert history.status_code == 404
    assert (await first.get(f"/api/v1/leads/{own}")).status_code == 200
    assert await _state_of(pool, t["workspace_id"]) == before
