"""schemathesis against the signed-in API: no 5xx, every response as documented.

Every phase (examples, coverage, fuzzing, stateful), bounded (50 examples per operation,
fixed seed) so it fits in CI."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from relay_common.embedded import free_port
from relay_common.provisioning import add_member, create_bot, create_workspace
from relay_common.testing.gateway import sign_in

ST = str(Path(sys.executable).with_name("st"))


@pytest.mark.timeout(400)
async def test_api_matches_its_schema_and_never_fails(
    own_database: str, start_service: Any, tmp_path: Path
) -> None:
    email = f"schema-{uuid4().hex[:6]}@example.com"
    # Its own database: the fuzzed bot's simulated traffic must not reach other tests.
    conn = await asyncpg.connect(own_database)
    try:
        ids = await _seed(conn, email)
    finally:
        await conn.close()
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(ids))
    port = free_port()
    gateway = await start_service(
        "gateway",
        PORT=str(port),
        DATABASE_URL=own_database,
        # Fuzz the endpoints, not the rate limiter (it has a test of its own).
        GATEWAY_REQUESTS_PER_MINUTE="1000000",
        GATEWAY_SIGN_IN_PER_MINUTE="1000000",
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await gateway.wait_ready(base)
        await sign_in(client, email)
        cookie = client.cookies["relay_session"]
        csrf = client.cookies["relay_csrf"]
    proc = await asyncio.create_subprocess_exec(
        ST,
        "--config-file",
        str(config),
        "run",
        f"{base}/api/openapi.json",
        "-H",
        f"Cookie: relay_session={cookie}",
        "-H",
        f"X-CSRF-Token: {csrf}",
        "--checks",
        "not_a_server_error,response_schema_conformance,status_code_conformance,"
        "content_type_conformance",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "50",
        "--seed",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 380)
    assert proc.returncode == 0, out.decode()[-4000:]


async def _seed(conn: asyncpg.Connection, email: str) -> dict[str, Any]:
    """Real rows for every kind of id in a path, so fuzzing reaches past the 404s."""
    ws = await create_workspace(conn, "Schema", email)
    w = ws.workspace_id
    bot = await create_bot(conn, w, "Fuzzed bot")
    doomed_bot = await create_bot(conn, w, "Bot to delete")
    lead = await conn.fetchval(
        """INSERT INTO leads (workspace_id, bot_id, chat_jid, whatsapp_number, name, status)
           VALUES ($1, $2, '34600111222@s.whatsapp.net', '+34600111222', 'Ana', 'qualified')
           RETURNING id""",
        w,
        bot,
    )
    await conn.execute(
        """INSERT INTO lead_messages (workspace_id, bot_id, lead_id, whatsapp_message_id,
                                      origin, body, sent_at)
           VALUES ($1, $2, $3, 'WA-SCHEMA-1', 'customer', 'Hello', now())""",
        w,
        bot,
        lead,
    )
    images = []
    for n in range(2):
        digest = f"{n:064x}"
        await conn.execute(
            """INSERT INTO media_blobs (workspace_id, sha256, content_type, data)
               VALUES ($1, $2, 'image/png', $3)""",
            w,
            digest,
            b"not really an image",
        )
        images.append(
            await conn.fetchval(
                """INSERT INTO bot_images (workspace_id, bot_id, sha256, content_type,
                                           size_bytes, original_name, keywords)
                   VALUES ($1, $2, $3, 'image/png', 19, 'menu.png', '{menu}') RETURNING id""",
                w,
                bot,
                digest,
            )
        )
    schedule = await conn.fetchval(
        """INSERT INTO schedules (workspace_id, bot_id, action, run_at)
           VALUES ($1, $2, 'pause', now() + interval '1 day') RETURNING id""",
        w,
        bot,
    )
    members = []
    for n in range(2):
        user = await add_member(conn, w, f"vendor{n}-{email}")
        members.append(user)
    key = await conn.fetchval(
        """INSERT INTO api_keys (workspace_id, name, prefix, key_hash, scopes)
           VALUES ($1, 'fuzz', 'rly_fuzz', $2, '{read}') RETURNING id""",
        w,
        "0" * 64,
    )
    return {
        "workspace_id": w,
        "bot_id": bot,
        "doomed_bot_id": doomed_bot,
        "lead_id": lead,
        "image_id": images[0],
        "doomed_image_id": images[1],
        "schedule_id": schedule,
        "user_id": members[0],
        "doomed_user_id": members[1],
        "key_id": key,
    }


def _config(ids: dict[str, Any]) -> str:
    """schemathesis.toml: path ids of real rows; deletions get rows of their own."""
    shared = [
        f'"path.{name}" = "{ids[name]}"'
        for name in (
            "workspace_id",
            "bot_id",
            "lead_id",
            "image_id",
            "schedule_id",
            "user_id",
            "key_id",
        )
    ]
    doomed = {
        "delete_bot": ("bot_id", "doomed_bot_id"),
        "delete_bot_image": ("image_id", "doomed_image_id"),
        "remove_member": ("user_id", "doomed_user_id"),
    }
    # The event stream never ends: read its opening events (CONNECTED, INIT, INIT_LEADS).
    lines = ["max-stream-events = 3", "", "[parameters]", *shared, ""]
    for operation, (name, row) in doomed.items():
        lines += [
            "[[operations]]",
            f'include-operation-id = "{operation}"',
            f'parameters = {{ "path.{name}" = "{ids[row]}" }}',
            "",
        ]
    return "\n".join(lines)
